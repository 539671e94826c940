package dev.sluice.lab;

import dev.sluice.lab.LabState.PodState;
import dev.sluice.model.ServiceSpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The /etc/hosts each pod sees (bind-mounted over /etc/hosts in the pod's mount namespace): the pod's own
 * name, as the kubelet writes it (so that looking up one's own hostname needs no DNS, which a pod's egress
 * policy may not allow), and the Services: {@code name} from its own namespace, and {@code name.ns},
 * {@code name.ns.svc} and {@code name.ns.svc.cluster.local} from everywhere, as cluster DNS answers them.
 *
 * <p>Files are rewritten in place, never replaced, because a bind mount holds on to the inode.
 */
final class HostsFiles {
    private HostsFiles() {
    }

    static String render(String namespace, String podName, String podIp, Iterable<ServiceSpec> services, Map<String, String> clusterIps) {
        StringBuilder out = new StringBuilder("# Written by sluice lab: this pod's name and the lab's Service names.\n127.0.0.1 localhost\n::1 localhost\n");
        out.append(podIp).append(' ').append(podName).append('\n');
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

    /** Rewrites every pod's file (the Services changed). */
    static void write(LabStore store, Iterable<PodState> pods, Iterable<ServiceSpec> services, Map<String, String> clusterIps) {
        for (PodState p : pods) {
            writePod(store, p.namespace(), p.name(), p.ip(), services, clusterIps);
        }
    }

    /** Writes one pod's file (before its containers start). */
    static void writePod(LabStore store, String namespace, String name, String ip, Iterable<ServiceSpec> services,
                         Map<String, String> clusterIps) {
        Path file = store.hostsFile(namespace, name);
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, render(namespace, name, ip, services, clusterIps));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
