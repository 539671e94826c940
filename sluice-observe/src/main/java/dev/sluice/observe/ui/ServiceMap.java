package dev.sluice.observe.ui;

import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.HTTPHeader;
import dev.sluice.observe.v1.L7FlowType;
import dev.sluice.observe.v1.Layer4;
import dev.sluice.observe.v1.TrafficDirection;
import dev.sluice.observe.v1.Verdict;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The service map of a set of flows, as Hubble UI draws it: a box per workload (a pod's Deployment, else the pod),
 * per Service and per reserved identity (world, host...), and an edge from a caller to what it called (the Service
 * when the flow names one, else the pod's workload) carrying the protocols, destination ports, a request rate and
 * the drops with their reasons. A Service also gets a grey edge to each workload that answered for it. Replies are
 * not edges of their own: an L7 response only marks its request's edge when it is an error (5xx, a gRPC status
 * other than OK, or the proxy's ERROR). Not thread-safe: the UI feeds one map per stream from one thread at a time.
 */
public final class ServiceMap {
    /** The window a rate is counted over. */
    static final long RATE_WINDOW_NS = 10_000_000_000L;

    public enum Kind { workload, service, reserved }

    /** One box. {@code id} is {@code ns/name} for workloads, {@code svc:ns/name} for Services, {@code reserved:name} else. */
    public record Node(String id, Kind kind, String namespace, String name) {}

    /**
     * One arrow. {@code state} is {@code dropped} once any of its flows was dropped, else {@code l7-error} once a response
     * was an error, else {@code forwarded}; {@code backend} marks a Service-to-backend edge (no verdict of its own).
     */
    public record Edge(String id, String from, String to, String state, boolean backend, List<String> protocols,
                       List<Integer> ports, double ratePerSecond, String rateUnit, long forwarded, long dropped, long l7Errors,
                       Map<String, Long> dropReasons) {}

    public record Snapshot(List<Node> nodes, List<Edge> edges) {}

    private final Map<String, Node> nodes = new TreeMap<>();
    private final Map<String, EdgeStats> edges = new LinkedHashMap<>();

    private static final class EdgeStats {
        final String from;
        final String to;
        final boolean backend;
        final TreeSet<String> protocols = new TreeSet<>();
        final TreeSet<Integer> ports = new TreeSet<>();
        final Map<String, Long> dropReasons = new TreeMap<>();
        /** Times (flow time, ns) of the connections or requests counted for the rate, the last RATE_WINDOW_NS of them. */
        final Deque<Long> recent = new ArrayDeque<>();
        boolean l7;
        long forwarded;
        long dropped;
        long l7Errors;

        EdgeStats(String from, String to, boolean backend) {
            this.from = from;
            this.to = to;
            this.backend = backend;
        }

        void count(long at) {
            recent.addLast(at);
            while (recent.size() > 100_000) {
                recent.removeFirst();
            }
        }
    }

    /** Adds one flow to the map. */
    public void add(Flow flow) {
        long at = flow.getTime().getSeconds() * 1_000_000_000L + flow.getTime().getNanos();
        boolean l7 = flow.hasL7();
        boolean reply = flow.hasIsReply() && flow.getIsReply();
        if (reply) {
            // A response goes backend -> caller; it belongs to the caller's edge, and only errors change that edge.
            if (l7 && flow.getL7().getType() == L7FlowType.RESPONSE && l7Error(flow)) {
                Node caller = endpointNode(flow.getDestination(), flow.getIP().getDestination());
                Node callee = flow.hasSourceService() && !flow.getSourceService().getName().isEmpty()
                        ? service(flow.getSourceService().getNamespace(), flow.getSourceService().getName())
                        : endpointNode(flow.getSource(), flow.getIP().getSource());
                EdgeStats edge = edge(caller, callee, false);
                edge.l7 = true;
                edge.l7Errors++;
            }
            return;
        }
        Node source = endpointNode(flow.getSource(), flow.getIP().getSource());
        Node destinationPod = endpointNode(flow.getDestination(), flow.getIP().getDestination());
        boolean viaService = flow.hasDestinationService() && !flow.getDestinationService().getName().isEmpty();
        Node destination = viaService
                ? service(flow.getDestinationService().getNamespace(), flow.getDestinationService().getName()) : destinationPod;
        EdgeStats edge = edge(source, destination, false);
        if (viaService && destinationPod.kind() == Kind.workload && flow.getVerdict() != Verdict.DROPPED) {
            edge(destination, destinationPod, true);
        }
        String protocol = protocol(flow);
        if (!protocol.isEmpty()) {
            edge.protocols.add(protocol);
        }
        int port = destinationPort(flow.getL4());
        if (port > 0) {
            edge.ports.add(port);
        }
        if (flow.getVerdict() == Verdict.DROPPED) {
            edge.dropped++;
            String reason = flow.getDropReasonDesc().isEmpty() ? "drop reason " + flow.getDropReason() : flow.getDropReasonDesc();
            if (flow.hasPolicy() && !flow.getPolicy().getName().isEmpty()) {
                reason += " by " + (flow.getPolicy().getNamespace().isEmpty() ? "" : flow.getPolicy().getNamespace() + "/")
                        + flow.getPolicy().getName();
            }
            edge.dropReasons.merge(reason, 1L, Long::sum);
            edge.count(at);
            return;
        }
        if (l7) {
            if (flow.getL7().getType() == L7FlowType.REQUEST) {
                // Requests are what an L7 edge's rate counts; its connections are left out of it from here on.
                if (!edge.l7) {
                    edge.recent.clear();
                }
                edge.l7 = true;
                edge.forwarded++;
                edge.count(at);
            }
            if (flow.getVerdict() == Verdict.ERROR) {
                edge.l7Errors++;
            }
            return;
        }
        // A new connection: the policy verdict that let it in at the callee's endpoint (the caller's egress verdict of the
        // same connection is not counted again), or out of the caller when the callee is no pod. Traces of it (SYN,
        // FIN...) add nothing to count.
        boolean calleeSide = flow.getTrafficDirection() == TrafficDirection.INGRESS
                || (flow.getTrafficDirection() == TrafficDirection.EGRESS && destinationPod.kind() != Kind.workload);
        if (flow.getEventType().equals("policy-verdict") && flow.getVerdict() == Verdict.FORWARDED && calleeSide) {
            edge.forwarded++;
            if (!edge.l7) {
                edge.count(at);
            }
        }
    }

    /** The map as it stands, rates counted over the {@link #RATE_WINDOW_NS} before {@code nowNs} (epoch nanoseconds). */
    public Snapshot snapshot(long nowNs) {
        List<Edge> out = new ArrayList<>();
        for (Map.Entry<String, EdgeStats> e : edges.entrySet()) {
            EdgeStats s = e.getValue();
            while (!s.recent.isEmpty() && s.recent.peekFirst() < nowNs - RATE_WINDOW_NS) {
                s.recent.removeFirst();
            }
            long inWindow = s.recent.stream().filter(t -> t <= nowNs).count();
            String state = s.backend ? "backend" : s.dropped > 0 ? "dropped" : s.l7Errors > 0 ? "l7-error" : "forwarded";
            out.add(new Edge(e.getKey(), s.from, s.to, state, s.backend, List.copyOf(s.protocols), List.copyOf(s.ports),
                    inWindow / (RATE_WINDOW_NS / 1e9), s.l7 ? "req/s" : "conn/s", s.forwarded, s.dropped, s.l7Errors,
                    Map.copyOf(s.dropReasons)));
        }
        out.sort(Comparator.comparing(Edge::id));
        return new Snapshot(List.copyOf(nodes.values()), out);
    }

    private EdgeStats edge(Node from, Node to, boolean backend) {
        nodes.putIfAbsent(from.id(), from);
        nodes.putIfAbsent(to.id(), to);
        return edges.computeIfAbsent(from.id() + "->" + to.id(), k -> new EdgeStats(from.id(), to.id(), backend));
    }

    private Node service(String namespace, String name) {
        return new Node("svc:" + namespace + "/" + name, Kind.service, namespace, name);
    }

    /** A pod's workload (its Deployment, else the pod), or the reserved identity or address outside any pod. */
    static Node endpointNode(Endpoint endpoint, String ip) {
        if (!endpoint.getPodName().isEmpty()) {
            String name = endpoint.getWorkloadsCount() > 0 ? endpoint.getWorkloads(0).getName() : endpoint.getPodName();
            return new Node(endpoint.getNamespace() + "/" + name, Kind.workload, endpoint.getNamespace(), name);
        }
        String reserved = endpoint.getLabelsList().stream().filter(l -> l.startsWith("reserved:")).findFirst()
                .map(l -> l.substring("reserved:".length())).orElse(switch (endpoint.getIdentity()) {
                    case 1 -> "host";
                    case 2 -> "world";
                    case 3 -> "unmanaged";
                    case 4 -> "health";
                    case 5 -> "init";
                    case 6 -> "remote-node";
                    case 7 -> "kube-apiserver";
                    default -> ip.isEmpty() ? "unknown" : ip;
                });
        return new Node("reserved:" + reserved, Kind.reserved, "", reserved);
    }

    private static boolean l7Error(Flow flow) {
        if (flow.getVerdict() == Verdict.ERROR) {
            return true;
        }
        if (!flow.getL7().hasHttp()) {
            return false;
        }
        if (flow.getL7().getHttp().getCode() >= 500) {
            return true;
        }
        for (HTTPHeader h : flow.getL7().getHttp().getHeadersList()) {
            if (h.getKey().equals("grpc-status") && !h.getValue().equals("0")) {
                return true;
            }
        }
        return false;
    }

    private static String protocol(Flow flow) {
        if (flow.hasL7() && flow.getL7().hasHttp() && !flow.getL7().getHttp().getProtocol().isEmpty()) {
            return flow.getL7().getHttp().getProtocol();
        }
        return switch (flow.getL4().getProtocolCase()) {
            case TCP -> "TCP";
            case UDP -> "UDP";
            case ICMPV4 -> "ICMPv4";
            case SCTP -> "SCTP";
            case PROTOCOL_NOT_SET -> "";
        };
    }

    private static int destinationPort(Layer4 l4) {
        return switch (l4.getProtocolCase()) {
            case TCP -> l4.getTCP().getDestinationPort();
            case UDP -> l4.getUDP().getDestinationPort();
            case SCTP -> l4.getSCTP().getDestinationPort();
            default -> 0;
        };
    }
}
