package dev.sluice.agent.flow;

import com.google.protobuf.Timestamp;
import dev.sluice.datapath.abi.Direction;
import dev.sluice.datapath.abi.DropReason;
import dev.sluice.datapath.abi.FlowEventType;
import dev.sluice.datapath.abi.FlowReply;
import dev.sluice.datapath.abi.Protocol;
import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.datapath.flow.FlowStructs.FlowEvent;
import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.ICMPv4;
import dev.sluice.observe.v1.IP;
import dev.sluice.observe.v1.IPVersion;
import dev.sluice.observe.v1.Layer4;
import dev.sluice.observe.v1.Policy;
import dev.sluice.observe.v1.Service;
import dev.sluice.observe.v1.TCP;
import dev.sluice.observe.v1.TCPFlags;
import dev.sluice.observe.v1.TrafficDirection;
import dev.sluice.observe.v1.UDP;
import dev.sluice.observe.v1.Verdict;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the datapath's events into Hubble-style flows: the parties named from the {@link FlowDirectory},
 * the Service behind a backend, the policy rule behind a verdict, the kernel's clock turned into wall time.
 *
 * <p>The Service of a flow comes from the socket-LB or per-packet translation of the same connection when
 * this node saw it (the datapath's own word), else from the backend's address and port when exactly one
 * Service has it as a backend (a flow that crossed nodes, or a pod reached by its address).
 *
 * <p>Used by one thread (the ring buffer's dispatcher); {@link #directory} may be replaced from another.
 */
public final class FlowEnricher {
    /** Translations remembered to name the flows that follow them; a connect() is followed within ms. */
    private static final int TRANSLATIONS = 16_384;

    private volatile FlowDirectory directory;
    private final long wallMinusMonotonicNs;
    private final Map<Translation, Service> translations = new LinkedHashMap<>(1024, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Translation, Service> eldest) {
            return size() > TRANSLATIONS;
        }
    };

    private record Translation(int client, long backend) {
    }

    public FlowEnricher(FlowDirectory directory) {
        this.directory = directory;
        // bpf_ktime_get_ns() and System.nanoTime() both read CLOCK_MONOTONIC on Linux. Instant.now() has
        // microseconds here, so that flows of two nodes merge in the order they happened.
        java.time.Instant now = java.time.Instant.now();
        this.wallMinusMonotonicNs = now.getEpochSecond() * 1_000_000_000L + now.getNano() - System.nanoTime();
    }

    public void directory(FlowDirectory directory) {
        this.directory = directory;
    }

    public FlowDirectory directory() {
        return directory;
    }

    /** The observation point (shown as the flow's type) of a connection handed to the same-node socket bypass. */
    public static final String SOCK_BYPASS_POINT = "sock-bypass";

    public Flow enrich(FlowEvent e) {
        FlowDirectory dir = directory;
        FlowEventType type = FlowEventType.orNull(e.type());
        int source = e.saddr();
        if (source == 0 && e.cgroupId() != 0) {
            // A socket-level event: the connecting pod is known by its cgroup, its address was not bound yet.
            source = dir.podsByCgroup().getOrDefault(e.cgroupId(), 0);
        }
        Flow.Builder flow = Flow.newBuilder()
                .setTime(time(e.ktimeNs()))
                .setVerdict(verdict(e.verdict()));
        if (e.isIpv6()) {
            // An IPv6 drop: no pod is known by an IPv6 address, so each side is named by its identity.
            flow.setSource(endpoint(dir, 0, e.srcIdentity())).setDestination(endpoint(dir, 0, e.dstIdentity()))
                    .setIP(IP.newBuilder().setSource(ipv6(e.saddr6())).setDestination(ipv6(e.daddr6())).setIpVersion(IPVersion.IPv6));
        } else {
            // A forged source (Invalid source ip) names whoever it claimed to be: the sender is the identity
            // of the veth it came from, which the datapath reports.
            flow.setSource(endpoint(dir, e.reason() == DropReason.INVALID_SIP.value() ? 0 : source, e.srcIdentity()))
                    .setDestination(endpoint(dir, e.daddr(), e.dstIdentity()))
                    .setIP(IP.newBuilder().setSource(source == 0 ? "" : FlowStructs.ipv4(source)).setDestination(FlowStructs.ipv4(e.daddr()))
                            .setIpVersion(source == 0 && e.daddr() == 0 ? IPVersion.IP_NOT_USED : IPVersion.IPv4));
        }
        flow.setL4(l4(e, type == FlowEventType.SERVICE_XLATE && e.daddr() == e.origDaddr() ? e.origDport() : e.dport()))
                .setNodeName(dir.node())
                .setEventType(eventType(e, type));
        if (e.reason() != 0) {
            flow.setDropReason(e.reason()).setDropReasonDesc(DropReason.displayName(e.reason()));
        }
        switch (Direction.orNull(e.direction())) {
            case INGRESS -> flow.setTrafficDirection(TrafficDirection.INGRESS);
            case EGRESS -> flow.setTrafficDirection(TrafficDirection.EGRESS);
            case null, default -> { }
        }
        if (e.reply() != FlowReply.UNKNOWN.value()) {
            flow.setIsReply(e.reply() == FlowReply.YES.value());
        }
        String point = observationPoint(e, type);
        if (!point.isEmpty()) {
            flow.setTraceObservationPoint(point);
        }
        if (e.ruleId() != 0) {
            Policy policy = dir.rules().get(e.ruleId());
            if (policy != null) {
                flow.setPolicy(policy);
            }
        }
        services(dir, e, type, source, flow);
        return flow.build();
    }

    private void services(FlowDirectory dir, FlowEvent e, FlowEventType type, int source, Flow.Builder flow) {
        if (type == FlowEventType.SERVICE_XLATE || (type == FlowEventType.DROP && e.reason() == DropReason.NO_SERVICE.value())) {
            Service service = dir.frontends().get(FlowDirectory.key(e.origDaddr(), e.origDport(), e.proto()));
            if (service != null) {
                flow.setDestinationService(service);
                if (type == FlowEventType.SERVICE_XLATE) {
                    translations.put(new Translation(source, FlowDirectory.key(e.daddr(), e.dport(), e.proto())), service);
                }
            }
            return;
        }
        // The packet's destination is the server unless it is a reply, and then its source is.
        boolean reply = e.reply() == FlowReply.YES.value();
        int client = reply ? e.daddr() : e.saddr();
        long server = reply ? FlowDirectory.key(e.saddr(), e.sport(), e.proto()) : FlowDirectory.key(e.daddr(), e.dport(), e.proto());
        Service service = translations.get(new Translation(client, server));
        if (service == null) {
            service = dir.backends().get(server);
        }
        if (service != null) {
            if (reply) {
                flow.setSourceService(service);
            } else {
                flow.setDestinationService(service);
            }
        }
    }

    private Timestamp time(long ktimeNs) {
        long wall = ktimeNs + wallMinusMonotonicNs;
        return Timestamp.newBuilder().setSeconds(Math.floorDiv(wall, 1_000_000_000L)).setNanos((int) Math.floorMod(wall, 1_000_000_000L)).build();
    }

    /** An IPv6 address in its canonical text (RFC 5952: {@code fe80::1}). */
    private static String ipv6(byte[] address) {
        try {
            return com.google.common.net.InetAddresses.toAddrString(java.net.InetAddress.getByAddress(address));
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException("16 bytes are always an IPv6 address", e);
        }
    }

    private static Endpoint endpoint(FlowDirectory dir, int address, int identity) {
        Endpoint pod = address == 0 ? null : dir.pods().get(address);
        if (pod != null) {
            return pod;
        }
        if (identity == 0) {
            return Endpoint.getDefaultInstance();
        }
        List<String> labels = dir.identityLabels().getOrDefault(identity, List.of());
        return Endpoint.newBuilder().setIdentity(identity).addAllLabels(labels).build();
    }

    private static Layer4 l4(FlowEvent e, int destinationPort) {
        return switch (Protocol.orNull(e.proto())) {
            case TCP -> Layer4.newBuilder().setTCP(dev.sluice.observe.v1.TCP.newBuilder().setSourcePort(e.sport())
                    .setDestinationPort(destinationPort).setFlags(flags(e.tcpFlags()))).build();
            case UDP -> Layer4.newBuilder().setUDP(dev.sluice.observe.v1.UDP.newBuilder().setSourcePort(e.sport())
                    .setDestinationPort(destinationPort)).build();
            // For ICMP the datapath puts the message's type where TCP's flags would be.
            case ICMP -> Layer4.newBuilder().setICMPv4(ICMPv4.newBuilder().setType(e.tcpFlags())).build();
            case SCTP -> Layer4.newBuilder().setSCTP(dev.sluice.observe.v1.SCTP.newBuilder().setSourcePort(e.sport())
                    .setDestinationPort(destinationPort)).build();
            case null -> Layer4.getDefaultInstance();
        };
    }

    private static TCPFlags flags(int f) {
        return TCPFlags.newBuilder().setFIN((f & 0x01) != 0).setSYN((f & 0x02) != 0).setRST((f & 0x04) != 0)
                .setPSH((f & 0x08) != 0).setACK((f & 0x10) != 0).build();
    }

    private static Verdict verdict(int v) {
        Verdict verdict = Verdict.forNumber(v);
        return verdict == null ? Verdict.VERDICT_UNKNOWN : verdict;
    }

    /** Hubble's event type; a translation at the socket (no device) is {@code trace-sock}. */
    private static String eventType(FlowEvent e, FlowEventType type) {
        if (type == null) {
            return FlowEventType.displayName(e.type());
        }
        return (type == FlowEventType.SERVICE_XLATE && e.ifindex() == 0) || type == FlowEventType.SOCK_BYPASS ? "trace-sock"
                : type.displayName();
    }

    /** Where the datapath saw the packet: going into the pod, or leaving it; a socket-level translation. */
    private static String observationPoint(FlowEvent e, FlowEventType type) {
        if (type == FlowEventType.DROP) {
            return "";
        }
        if (type == FlowEventType.SERVICE_XLATE) {
            return e.ifindex() == 0 ? "post-xlate-fwd" : "from-endpoint";
        }
        if (type == FlowEventType.SOCK_BYPASS) {
            // The connection's data now goes socket to socket: this event, after its policy verdict, is all observe sees of it.
            return SOCK_BYPASS_POINT;
        }
        boolean reply = e.reply() == FlowReply.YES.value();
        boolean intoPod = (e.direction() == Direction.INGRESS.value()) != reply;
        return intoPod ? "to-endpoint" : "from-endpoint";
    }

}
