package dev.sluice.lab;

import dev.sluice.model.Desired;
import dev.sluice.model.ManifestReader;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The lab's cluster DNS: the {@code kube-dns} Service in {@code kube-system} (ClusterIP 10.96.0.10, as in
 * Kubernetes) and the {@code coredns} Deployment behind it, whose pod runs Sluice's DNS server
 * ({@code dev.sluice.dns.ClusterDnsMain}, module sluice-dns). They are ordinary objects of the lab's state,
 * so agents load-balance the Service, and `lab pods` and `sluice status` show the pod, like any other.
 */
final class ClusterDns {
    /** The image that runs the DNS server (PodFactory maps it to the class below). */
    static final String IMAGE = "sluice/cluster-dns";
    static final String MAIN = "dev.sluice.dns.ClusterDnsMain";
    static final String SERVICE = "kube-system/kube-dns";
    static final String DOMAIN = "cluster.local";

    private ClusterDns() {
    }

    /**
     * The DNS objects, read from the manifest written into the lab's directory (so that a problem names a
     * file one can read), under the user's objects: a user's own {@code kube-system/kube-dns} wins.
     */
    static Desired under(LabStore store, Desired user) {
        Path file = store.dir().resolve("cluster-dns.yaml");
        try (var in = ClusterDns.class.getResourceAsStream("cluster-dns.yaml")) {
            Files.write(file, in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        return ManifestReader.read(List.of(file)).apply(user);
    }

    /**
     * The environment the DNS server's container gets: which lab to follow, where labs live, and the lab's directory
     * (where each node's agent takes the server's DNS exchanges, for DNS flows).
     */
    static Map<String, String> env(String lab) {
        return Map.of("SLUICE_DNS_CLUSTER", lab, "SLUICE_DNS_SOURCE", "lab", "SLUICE_DNS_DOMAIN", DOMAIN,
                "SLUICE_LAB_ROOT", LabStore.root().toString(), "SLUICE_DNS_STATE_DIR", LabStore.of(lab).dir().toString());
    }

    /** Writes each namespace's resolv.conf, in place (a pod's bind mount holds on to the inode). */
    static void writeResolvConfs(LabStore store, Iterable<String> namespaces, Map<String, String> clusterIps) {
        for (String ns : namespaces) {
            Path file = store.resolvFile(ns);
            try {
                Files.createDirectories(file.getParent());
                Files.writeString(file, resolvConf(ns, clusterIps.get(SERVICE)));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + file, e);
            }
        }
    }

    /**
     * The /etc/resolv.conf of a pod in {@code namespace}, as the kubelet writes it with {@code dnsPolicy:
     * ClusterFirst}: the DNS Service's address, the namespace's search path and {@code ndots:5}.
     */
    static String resolvConf(String namespace, String nameserver) {
        StringBuilder out = new StringBuilder("# Written by sluice lab: the cluster's DNS (Service " + SERVICE + ").\n");
        out.append("search ").append(namespace).append(".svc.").append(DOMAIN).append(" svc.").append(DOMAIN).append(' ')
                .append(DOMAIN).append('\n');
        if (nameserver == null) {
            out.append("# no nameserver: Service ").append(SERVICE).append(" has no ClusterIP (it was deleted)\n");
        } else {
            out.append("nameserver ").append(nameserver).append('\n');
        }
        return out.append("options ndots:5\n").toString();
    }
}
