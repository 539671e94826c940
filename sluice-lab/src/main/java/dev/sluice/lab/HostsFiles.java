package dev.sluice.lab;

import dev.sluice.model.ServiceSpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The /etc/hosts each pod sees (bind-mounted over /etc/hosts in the pod's mount namespace): a Service
 * resolves as {@code name} from its own namespace, and as {@code name.ns}, {@code name.ns.svc} and
 * {@code name.ns.svc.cluster.local} from everywhere, as cluster DNS would answer.
 *
 * <p>Files are rewritten in place, never replaced, because a bind mount holds on to the inode.
 */
final class HostsFiles {
    private HostsFiles() {
    }

    static String render(String namespace, Iterable<ServiceSpec> services, Map<String, String> clusterIps) {
        StringBuilder out = new StringBuilder("# Written by sluice lab: Service names of this lab.\n127.0.0.1 localhost\n::1 localhost\n");
        for (ServiceSpec s : services) {
            String ip = clusterIps.get(s.ref().toString());
            if (ip == null) {
                continue;
            }
            String ns = s.ref().namespace();
            String name = s.ref().name();
            out.append(ip);
            if (ns.equals(namespace)) {
                out.append(' ').append(name);
            }
            out.append(' ').append(name).append('.').append(ns)
                    .append(' ').append(name).append('.').append(ns).append(".svc")
                    .append(' ').append(name).append('.').append(ns).append(".svc.cluster.local\n");
        }
        return out.toString();
    }

    static void write(LabStore store, Set<String> namespaces, Iterable<ServiceSpec> services, Map<String, String> clusterIps) {
        Set<String> all = new TreeSet<>(namespaces);
        all.add("default");
        for (String ns : all) {
            Path file = store.hostsFile(ns);
            try {
                Files.createDirectories(file.getParent());
                Files.writeString(file, render(ns, services, clusterIps));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + file, e);
            }
        }
    }
}
