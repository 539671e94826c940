package dev.sluice.proxy.xds;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import com.google.rpc.Status;
import dev.sluice.l7.xds.EnvoyTypes;
import dev.sluice.l7.xds.ProxyConfig;
import dev.sluice.l7.xds.XdsException;
import dev.sluice.l7.xds.XdsRouteTable;
import dev.sluice.l7.xds.XdsSnapshot;
import io.envoyproxy.envoy.admin.v3.ClustersConfigDump;
import io.envoyproxy.envoy.admin.v3.ConfigDump;
import io.envoyproxy.envoy.admin.v3.EndpointsConfigDump;
import io.envoyproxy.envoy.admin.v3.ListenersConfigDump;
import io.envoyproxy.envoy.admin.v3.RoutesConfigDump;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.stub.StreamObserver;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The proxy's xDS client: one ADS stream (state of the world) over the agent's unix socket, subscribing as Envoy
 * does: Listeners and Clusters by wildcard, then the RouteConfigurations the listeners name (RDS) and the load
 * assignments of the EDS clusters. Each response is ACKed (the request carries its version and nonce) or NACKed
 * (the previous version, and the reason in {@code error_detail}) when the proxy cannot use it; a NACKed response
 * changes nothing the proxy holds or runs.
 *
 * <p>A set whose names are not all held yet (a listener whose route configuration has not arrived) is held but
 * not applied, as Envoy warms a listener: the proxy keeps routing by the last complete set. When the stream
 * ends (the agent restarts) the proxy keeps what it holds and reconnects with backoff (0.1 s doubling to 5 s),
 * asking again with the versions it holds.
 */
public final class XdsClient implements AutoCloseable {
    /** What the proxy does with a complete set; an exception NACKs it (e.g. a listener that cannot be bound). */
    @FunctionalInterface
    public interface Applier {
        void apply(ProxyConfig config) throws XdsException;
    }

    /** One resource type's state on the stream. */
    private static final class TypeState {
        final String typeUrl;
        String version = "";
        String nonce = "";
        List<String> names = List.of(); // empty: wildcard (LDS, CDS)
        Map<String, Message> held = new LinkedHashMap<>();
        Instant updated = Instant.EPOCH;
        boolean subscribed;
        String nacked = "";

        TypeState(String typeUrl) {
            this.typeUrl = typeUrl;
        }
    }

    private final Path socket;
    private final Node node;
    private final Applier applier;
    private final Path dumpFile;
    private final EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    private final ManagedChannel channel;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "xds-client-reconnect");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, TypeState> types = new LinkedHashMap<>();
    private StreamObserver<DiscoveryRequest> requests;
    private long backoffMs = 100;
    private boolean closed;
    private String appliedVersion = "";
    private ProxyConfig lastApplied;
    private String lastNack = "";
    private long acks;
    private long nacks;
    private long reconnects;

    /**
     * @param nodeId the node's name (the agent's snapshot cache is keyed by it)
     * @param dumpFile where to write what the client holds as Envoy's config dump JSON after each change, or null
     */
    public XdsClient(Path socket, String nodeId, Applier applier, Path dumpFile) {
        this.socket = socket;
        this.node = Node.newBuilder().setId(nodeId).setCluster("sluice").setUserAgentName("sluice-proxy").build();
        this.applier = applier;
        this.dumpFile = dumpFile;
        for (String t : List.of(EnvoyTypes.LISTENER, EnvoyTypes.ROUTE, EnvoyTypes.CLUSTER, EnvoyTypes.ENDPOINT)) {
            types.put(t, new TypeState(t));
        }
        channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop).usePlaintext().build();
    }

    /** Opens the ADS stream (and keeps it open: reconnects whenever it ends). */
    public synchronized XdsClient start() {
        connect();
        return this;
    }

    private synchronized void connect() {
        if (closed) {
            return;
        }
        StreamObserver<DiscoveryResponse> responses = new StreamObserver<>() {
            @Override
            public void onNext(DiscoveryResponse response) {
                XdsClient.this.onResponse(this, response);
            }

            @Override
            public void onError(Throwable t) {
                ended(this);
            }

            @Override
            public void onCompleted() {
                ended(this);
            }
        };
        current = responses;
        requests = AggregatedDiscoveryServiceGrpc.newStub(channel).streamAggregatedResources(responses);
        // LDS and CDS by wildcard; RDS and EDS again for the names held (after a reconnect).
        for (TypeState t : types.values()) {
            boolean wildcard = t.typeUrl.equals(EnvoyTypes.LISTENER) || t.typeUrl.equals(EnvoyTypes.CLUSTER);
            t.subscribed = false;
            t.nonce = "";
            if (wildcard || !t.names.isEmpty()) {
                send(t, null);
            }
        }
    }

    /** The stream's response observer, so that a late callback of an ended stream is ignored. */
    private StreamObserver<DiscoveryResponse> current;

    private synchronized void ended(StreamObserver<DiscoveryResponse> which) {
        if (which != current || closed) {
            return;
        }
        current = null;
        requests = null;
        reconnects++;
        long delay = backoffMs;
        backoffMs = Math.min(backoffMs * 2, 5_000);
        timer.schedule(this::connect, delay, TimeUnit.MILLISECONDS);
    }

    private void send(TypeState t, String error) {
        DiscoveryRequest.Builder r = DiscoveryRequest.newBuilder().setNode(node).setTypeUrl(t.typeUrl)
                .setVersionInfo(t.version).setResponseNonce(t.nonce).addAllResourceNames(t.names);
        if (error != null) {
            r.setErrorDetail(Status.newBuilder().setCode(3).setMessage(error)); // INVALID_ARGUMENT, as Envoy
        }
        t.subscribed = true;
        requests.onNext(r.build());
    }

    private synchronized void onResponse(StreamObserver<DiscoveryResponse> which, DiscoveryResponse response) {
        if (which != current || closed) {
            return;
        }
        backoffMs = 100;
        TypeState t = types.get(response.getTypeUrl());
        if (t == null) {
            return; // a type not asked for
        }
        t.nonce = response.getNonce();
        Map<String, Message> received = new LinkedHashMap<>();
        try {
            for (Any any : response.getResourcesList()) {
                Message m = unpack(t.typeUrl, any);
                received.put(name(m), m);
            }
        } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
            nack(t, response.getVersionInfo(), e.getMessage());
            return;
        }
        if (!t.names.isEmpty()) {
            received.keySet().retainAll(t.names); // a wildcard answer to a named subscription: keep what was asked
        }
        Map<String, Message> previous = t.held;
        t.held = received;
        XdsSnapshot candidate = snapshot();
        if (XdsRouteTable.isComplete(candidate)) {
            try {
                ProxyConfig config = XdsRouteTable.toProxyConfig(candidate);
                if (!config.equals(lastApplied)) {
                    // Each type comes in its own response; most leave what the proxy runs unchanged.
                    applier.apply(config);
                    lastApplied = config;
                }
                appliedVersion = response.getVersionInfo();
            } catch (XdsException | RuntimeException e) {
                t.held = previous;
                nack(t, response.getVersionInfo(), e.getMessage());
                return;
            }
        }
        t.version = response.getVersionInfo();
        t.updated = Instant.now();
        acks++;
        send(t, null);
        // New names to subscribe to: the route configurations listeners name, the load assignments clusters need.
        if (t.typeUrl.equals(EnvoyTypes.LISTENER)) {
            subscribe(types.get(EnvoyTypes.ROUTE), routeNames());
        } else if (t.typeUrl.equals(EnvoyTypes.CLUSTER)) {
            subscribe(types.get(EnvoyTypes.ENDPOINT), edsNames());
        }
        writeDump();
    }

    private void nack(TypeState t, String refused, String reason) {
        nacks++;
        boolean again = refused.equals(t.nacked);
        t.nacked = refused;
        lastNack = typeName(t.typeUrl) + " version " + refused + ": " + reason;
        if (!again) {
            System.out.println("proxy: xDS: NACK " + lastNack + " (keeping version " + (t.version.isEmpty() ? "none" : t.version) + ")");
            send(t, reason);
            return;
        }
        // A NACK carries the previous version, so the server answers it at once with the same refused set; Envoy's
        // xDS rate limit stops that loop, and so does this: the same version is refused again only every 2 s (a new
        // version is answered as soon as this request reaches the server).
        StreamObserver<DiscoveryResponse> stream = current;
        String nonce = t.nonce;
        timer.schedule(() -> {
            synchronized (XdsClient.this) {
                if (stream == current && !closed && nonce.equals(t.nonce)) {
                    send(t, reason);
                }
            }
        }, 2, TimeUnit.SECONDS);
    }

    /** How many responses were NACKed. */
    public synchronized long nacks() {
        return nacks;
    }

    private void subscribe(TypeState t, List<String> names) {
        if (names.equals(t.names) && t.subscribed) {
            return;
        }
        t.names = names;
        t.held.keySet().retainAll(names);
        if (!names.isEmpty() || t.subscribed) {
            send(t, null);
        }
    }

    private List<String> routeNames() {
        TreeSet<String> names = new TreeSet<>();
        for (Message m : types.get(EnvoyTypes.LISTENER).held.values()) {
            Listener l = (Listener) m;
            for (var chain : l.getFilterChainsList()) {
                for (var f : chain.getFiltersList()) {
                    if (f.getTypedConfig().is(HttpConnectionManager.class)) {
                        try {
                            HttpConnectionManager hcm = f.getTypedConfig().unpack(HttpConnectionManager.class);
                            if (hcm.hasRds()) {
                                names.add(hcm.getRds().getRouteConfigName());
                            }
                        } catch (InvalidProtocolBufferException e) {
                            // Refused when the set is turned into a config.
                        }
                    }
                }
            }
        }
        return List.copyOf(names);
    }

    private List<String> edsNames() {
        TreeSet<String> names = new TreeSet<>();
        for (Message m : types.get(EnvoyTypes.CLUSTER).held.values()) {
            Cluster c = (Cluster) m;
            if (c.getType() == Cluster.DiscoveryType.EDS) {
                names.add(XdsRouteTable.edsName(c));
            }
        }
        return List.copyOf(names);
    }

    private static Message unpack(String typeUrl, Any any) throws InvalidProtocolBufferException {
        if (!any.getTypeUrl().equals(typeUrl)) {
            throw new IllegalArgumentException("a resource of type " + any.getTypeUrl() + " in a " + typeUrl + " response");
        }
        return switch (typeUrl) {
            case EnvoyTypes.LISTENER -> any.unpack(Listener.class);
            case EnvoyTypes.ROUTE -> any.unpack(RouteConfiguration.class);
            case EnvoyTypes.CLUSTER -> any.unpack(Cluster.class);
            default -> any.unpack(ClusterLoadAssignment.class);
        };
    }

    private static String name(Message m) {
        return switch (m) {
            case Listener l -> l.getName();
            case RouteConfiguration r -> r.getName();
            case Cluster c -> c.getName();
            case ClusterLoadAssignment a -> a.getClusterName();
            default -> throw new IllegalArgumentException(m.getDescriptorForType().getFullName());
        };
    }

    private static String typeName(String typeUrl) {
        return typeUrl.substring(typeUrl.lastIndexOf('.') + 1);
    }

    @SuppressWarnings("unchecked")
    private <T extends Message> List<T> held(String type) {
        return (List<T>) List.copyOf(types.get(type).held.values());
    }

    /** Everything the client holds. */
    public synchronized XdsSnapshot snapshot() {
        return new XdsSnapshot(held(EnvoyTypes.LISTENER), held(EnvoyTypes.ROUTE), held(EnvoyTypes.CLUSTER), held(EnvoyTypes.ENDPOINT));
    }

    /** The version of the last set applied to the proxy ("" before the first). */
    public synchronized String appliedVersion() {
        return appliedVersion;
    }

    /** The version ACKed per type (type name, e.g. Listener, to version). */
    public synchronized Map<String, String> versions() {
        Map<String, String> out = new LinkedHashMap<>();
        types.values().forEach(t -> out.put(typeName(t.typeUrl), t.version));
        return out;
    }

    /** The last NACK, {@code Type version V: reason}, or "" when none was sent. */
    public synchronized String lastNack() {
        return lastNack;
    }

    public synchronized boolean connected() {
        return requests != null;
    }

    /** A one-line summary for status and logs. */
    public synchronized String describe() {
        return (requests != null ? "connected" : "not connected") + " to " + socket + ", applied version "
                + (appliedVersion.isEmpty() ? "none" : appliedVersion) + ", " + acks + " ACK(s), " + nacks + " NACK(s)"
                + (lastNack.isEmpty() ? "" : " (last: " + lastNack + ")") + ", " + reconnects + " reconnect(s)";
    }

    /** What the client holds in the shape of Envoy's admin {@code /config_dump}. */
    public synchronized ConfigDump configDump() {
        ListenersConfigDump.Builder listeners = ListenersConfigDump.newBuilder().setVersionInfo(types.get(EnvoyTypes.LISTENER).version);
        TypeState lds = types.get(EnvoyTypes.LISTENER);
        for (Message m : lds.held.values()) {
            listeners.addDynamicListeners(ListenersConfigDump.DynamicListener.newBuilder().setName(name(m))
                    .setActiveState(ListenersConfigDump.DynamicListenerState.newBuilder().setVersionInfo(lds.version)
                            .setListener(Any.pack(m)).setLastUpdated(timestamp(lds.updated))));
        }
        RoutesConfigDump.Builder routes = RoutesConfigDump.newBuilder();
        TypeState rds = types.get(EnvoyTypes.ROUTE);
        for (Message m : rds.held.values()) {
            routes.addDynamicRouteConfigs(RoutesConfigDump.DynamicRouteConfig.newBuilder().setVersionInfo(rds.version)
                    .setRouteConfig(Any.pack(m)).setLastUpdated(timestamp(rds.updated)));
        }
        ClustersConfigDump.Builder clusters = ClustersConfigDump.newBuilder().setVersionInfo(types.get(EnvoyTypes.CLUSTER).version);
        TypeState cds = types.get(EnvoyTypes.CLUSTER);
        for (Message m : cds.held.values()) {
            clusters.addDynamicActiveClusters(ClustersConfigDump.DynamicCluster.newBuilder().setVersionInfo(cds.version)
                    .setCluster(Any.pack(m)).setLastUpdated(timestamp(cds.updated)));
        }
        EndpointsConfigDump.Builder endpoints = EndpointsConfigDump.newBuilder();
        TypeState eds = types.get(EnvoyTypes.ENDPOINT);
        for (Message m : eds.held.values()) {
            endpoints.addDynamicEndpointConfigs(EndpointsConfigDump.DynamicEndpointConfig.newBuilder().setVersionInfo(eds.version)
                    .setEndpointConfig(Any.pack(m)).setLastUpdated(timestamp(eds.updated)));
        }
        return ConfigDump.newBuilder().addConfigs(Any.pack(listeners.build())).addConfigs(Any.pack(routes.build()))
                .addConfigs(Any.pack(clusters.build())).addConfigs(Any.pack(endpoints.build())).build();
    }

    /** {@link #configDump()} as Envoy's admin endpoint prints it (JSON). */
    public String configDumpJson() {
        try {
            return EnvoyTypes.PRINTER.print(configDump());
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("config dump not printable: " + e.getMessage(), e);
        }
    }

    private static Timestamp timestamp(Instant i) {
        return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
    }

    private void writeDump() {
        if (dumpFile == null) {
            return;
        }
        try {
            Files.createDirectories(dumpFile.getParent());
            Path tmp = dumpFile.resolveSibling(dumpFile.getFileName() + ".tmp");
            Files.writeString(tmp, configDumpJson());
            Files.move(tmp, dumpFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            System.out.println("proxy: xDS: cannot write the config dump to " + dumpFile + ": " + e.getMessage());
        }
    }

    public Optional<Path> dumpFile() {
        return Optional.ofNullable(dumpFile);
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            if (requests != null) {
                try {
                    requests.onCompleted();
                } catch (RuntimeException e) {
                    // The stream is already gone.
                }
                requests = null;
            }
        }
        timer.shutdownNow();
        channel.shutdownNow();
        try {
            channel.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

}
