package dev.sluice.agent.l7;

import dev.sluice.l7.xds.EnvoyTypes;
import dev.sluice.l7.xds.XdsSnapshot;
import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.DiscoveryServerCallbacks;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The agent's xDS server: java-control-plane's {@link V3DiscoveryServer} with a {@link SimpleCache} keyed by the
 * client's node id, served (ADS, state of the world) on a unix socket in the node's run directory, so only the
 * node's own proxy (or a stock Envoy in its place) reaches it. A new snapshot version is made only when the
 * resources change. What each client ACKs and NACKs (with Envoy's error detail) is recorded for {@code sluice status}.
 */
public final class XdsServer implements AutoCloseable {
    /** The four resource types, in the order Envoy applies them (CDS, EDS, LDS, RDS). */
    public static final List<String> TYPES = List.of(EnvoyTypes.CLUSTER, EnvoyTypes.ENDPOINT, EnvoyTypes.LISTENER, EnvoyTypes.ROUTE);

    private final Path socket;
    private final SimpleCache<String> cache = new SimpleCache<>(node -> node.getId());
    private final UnixSocketServer server;
    private final Map<String, XdsSnapshot> served = new ConcurrentHashMap<>();
    private final Map<String, String> versions = new ConcurrentHashMap<>();
    private final Map<String, Map<String, String>> acked = new ConcurrentHashMap<>();
    private final Map<String, Nack> nacks = new ConcurrentHashMap<>();
    /** Stream id to node id (a request names the node only on a stream's first request). */
    private final Map<Long, String> streams = new ConcurrentHashMap<>();
    private final Map<String, Integer> connected = new ConcurrentHashMap<>();
    private final Map<String, String> sent = new ConcurrentHashMap<>();
    /** Versions are unique across agent restarts, so a reconnecting client never mistakes a new set for one it holds. */
    private long lastVersion = System.currentTimeMillis();

    /** A NACK: the version of {@code type} the client refused, and why. */
    public record Nack(String type, String version, String message, Instant at) {
    }

    private XdsServer(Path socket) {
        this.socket = socket;
        V3DiscoveryServer discovery = new V3DiscoveryServer(new Callbacks(), cache);
        server = new UnixSocketServer(socket, "xDS", discovery.getAggregatedDiscoveryServiceImpl());
    }

    public static XdsServer start(Path socket) {
        return new XdsServer(socket);
    }

    public Path socket() {
        return socket;
    }

    /**
     * Serves {@code snapshot} to the clients of {@code node}: a new version when it differs from what is served.
     *
     * @return the version served
     */
    public synchronized String serve(String node, XdsSnapshot snapshot) {
        if (snapshot.equals(served.get(node))) {
            return versions.get(node);
        }
        lastVersion = Math.max(lastVersion + 1, System.currentTimeMillis());
        String version = Long.toString(lastVersion);
        cache.setSnapshot(node, Snapshot.create(snapshot.clusters(), snapshot.endpoints(), snapshot.listeners(),
                snapshot.routes(), List.of(), version));
        served.put(node, snapshot);
        versions.put(node, version);
        return version;
    }

    public Optional<String> version(String node) {
        return Optional.ofNullable(versions.get(node));
    }

    /** The version of each type the node's client last ACKed. */
    public Map<String, String> acked(String node) {
        return Map.copyOf(acked.getOrDefault(node, Map.of()));
    }

    /** The version the node's client ACKed for every type the served set holds, if it ACKed the served set. */
    public Optional<String> ackedVersion(String node) {
        String version = versions.get(node);
        XdsSnapshot s = served.get(node);
        if (version == null) {
            return Optional.empty();
        }
        Map<String, String> a = acked.getOrDefault(node, Map.of());
        boolean all = version.equals(a.get(EnvoyTypes.LISTENER)) && version.equals(a.get(EnvoyTypes.CLUSTER))
                && (s.routes().isEmpty() || version.equals(a.get(EnvoyTypes.ROUTE)))
                && (s.endpoints().isEmpty() || version.equals(a.get(EnvoyTypes.ENDPOINT)));
        return all ? Optional.of(version) : Optional.empty();
    }

    public Optional<Nack> lastNack(String node) {
        return Optional.ofNullable(nacks.get(node));
    }

    /** Whether a client of {@code node} has an ADS stream open. */
    public boolean connected(String node) {
        return connected.getOrDefault(node, 0) > 0;
    }

    /**
     * Waits until the node's client ACKed the served version, or NACKed it, or {@code timeoutMs} passed.
     *
     * @return whether it was ACKed
     */
    public boolean awaitAck(String node, long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        synchronized (acked) {
            while (true) {
                String version = versions.get(node);
                if (version == null || ackedVersion(node).isPresent()) {
                    return version != null;
                }
                Nack nack = nacks.get(node);
                if (nack != null && nack.version().equals(version)) {
                    return false;
                }
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    return false;
                }
                acked.wait(left);
            }
        }
    }

    @Override
    public void close() {
        server.close();
    }

    /** Records ACKs and NACKs: a request that answers a response (it carries the response's nonce). */
    private final class Callbacks implements DiscoveryServerCallbacks {
        @Override
        public void onStreamClose(long streamId, String typeUrl) {
            closed(streamId);
        }

        @Override
        public void onStreamCloseWithError(long streamId, String typeUrl, Throwable error) {
            closed(streamId);
        }

        private void closed(long streamId) {
            sent.keySet().removeIf(k -> k.startsWith(streamId + " "));
            String node = streams.remove(streamId);
            if (node != null) {
                connected.merge(node, -1, Integer::sum);
            }
        }

        @Override
        public void onV3StreamRequest(long streamId, DiscoveryRequest request) {
            String node = streams.get(streamId);
            if (node == null && request.hasNode()) {
                node = request.getNode().getId();
                streams.put(streamId, node);
                connected.merge(node, 1, Integer::sum);
            }
            if (node == null || request.getResponseNonce().isEmpty()) {
                return; // a first request, not an answer
            }
            synchronized (acked) {
                if (request.hasErrorDetail()) {
                    nacks.put(node, new Nack(request.getTypeUrl(), sent.getOrDefault(streamId + " " + request.getTypeUrl(), "?"),
                            request.getErrorDetail().getMessage(), Instant.now()));
                } else {
                    acked.computeIfAbsent(node, n -> new ConcurrentHashMap<>()).put(request.getTypeUrl(), request.getVersionInfo());
                }
                acked.notifyAll();
            }
        }

        @Override
        public void onV3StreamDeltaRequest(long streamId, DeltaDiscoveryRequest request) {
            // Delta xDS is not served (the ADS service is state of the world).
        }

        @Override
        public void onV3StreamResponse(long streamId, DiscoveryRequest request, DiscoveryResponse response) {
            // A NACK names the nonce, not the version: remember the version last sent per stream and type.
            sent.put(streamId + " " + response.getTypeUrl(), response.getVersionInfo());
        }
    }
}
