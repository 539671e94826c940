package dev.sluice.dns;

import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterSource;

import dev.sluice.agent.api.ClusterLayout;
import dev.sluice.model.cluster.ClusterView;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The cluster DNS server, as a lab pod runs it (the lab's {@code kube-dns} Service in {@code kube-system}):
 * follows the cluster through the same cluster source as the agents (for the lab: inotify on its state and
 * its change log), so records follow {@code lab apply} as soon as the state is written.
 *
 * <p>Environment: {@code SLUICE_DNS_CLUSTER} (the lab's name), {@code SLUICE_DNS_SOURCE} ({@code lab}),
 * {@code SLUICE_DNS_DOMAIN} ({@code cluster.local}), {@code SLUICE_DNS_PORT} (53), {@code SLUICE_DNS_STATE_DIR} (the
 * cluster's shared directory, where each node's agent takes the exchanges this server reports as DNS flows; unset: no
 * flows).
 */
public final class ClusterDnsMain {
    private ClusterDnsMain() {
    }

    public static void main(String[] args) throws Exception {
        String cluster = env("SLUICE_DNS_CLUSTER", null);
        if (cluster == null) {
            System.err.println("cluster-dns: SLUICE_DNS_CLUSTER (the lab's name) is not set");
            System.exit(2);
        }
        String domain = env("SLUICE_DNS_DOMAIN", "cluster.local");
        int port = Integer.parseInt(env("SLUICE_DNS_PORT", "53"));
        try (ClusterSource source = ClusterSource.open(env("SLUICE_DNS_SOURCE", "lab"), cluster, "cluster-dns")) {
            AtomicReference<ClusterRecords> records = new AtomicReference<>();
            // Which node each pod address is on: an exchange goes to the agent of the querying pod's node.
            AtomicReference<Map<String, String>> nodes = new AtomicReference<>(Map.of());
            // The first change is the whole cluster: records before the first answer.
            Optional<ClusterChange> first = Optional.empty();
            while (first.isEmpty()) {
                first = source.next(1_000);
            }
            records.set(update(first.get(), domain));
            nodes.set(nodes(first.get()));
            String stateDir = env("SLUICE_DNS_STATE_DIR", null);
            DnsFeed feed = stateDir == null ? null : new DnsFeed(new ClusterLayout(cluster, Path.of(stateDir)), ip -> nodes.get().get(ip));
            try (DnsServer server = new DnsServer(new Responder(records::get), new InetSocketAddress(port),
                    feed == null ? DnsServer.Listener.NONE : feed)) {
                server.start();
                System.out.println("cluster-dns: serving " + domain + " on port " + server.port() + " (UDP and TCP)");
                while (true) {
                    Optional<ClusterChange> change = source.next(60_000);
                    if (change.isPresent()) {
                        try {
                            records.set(update(change.get(), domain));
                            nodes.set(nodes(change.get()));
                        } catch (RuntimeException e) {
                            // The records in force stay: a view that cannot be served must not end the server.
                            System.err.println("cluster-dns: version " + change.get().version() + " not applied, keeping the last records: " + e);
                        }
                    }
                }
            }
        } catch (ClusterSource.Gone e) {
            System.out.println("cluster-dns: " + e.getMessage() + "; stopping");
        }
    }

    private static ClusterRecords update(ClusterChange change, String domain) {
        ClusterRecords r = ClusterRecords.of(change.view(), domain, change.version() / 1_000_000_000L);
        System.out.println("cluster-dns: version " + change.version() + ": " + r.size() + " names");
        return r;
    }

    private static Map<String, String> nodes(ClusterChange change) {
        Map<String, String> byAddress = new HashMap<>();
        for (ClusterView.Pod pod : change.view().pods()) {
            if (pod.ip() != null && !pod.ip().isEmpty() && pod.node() != null) {
                byAddress.put(pod.ip(), pod.node());
            }
        }
        return Map.copyOf(byAddress);
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }
}
