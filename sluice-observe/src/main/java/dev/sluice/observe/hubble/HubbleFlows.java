package dev.sluice.observe.hubble;

import com.google.protobuf.UnknownFieldSet;
import com.google.protobuf.BoolValue;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.sluice.hubble.ext.FlowExtension;
import dev.sluice.hubble.ext.PolicyRule;
import dev.sluice.hubble.flow.CiliumEventType;
import dev.sluice.hubble.flow.FlowType;
import dev.sluice.hubble.flow.SocketTranslationPoint;
import dev.sluice.hubble.flow.TraceObservationPoint;
import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.HTTP;
import dev.sluice.observe.v1.HTTPHeader;
import dev.sluice.observe.v1.IP;
import dev.sluice.observe.v1.IPVersion;
import dev.sluice.observe.v1.Layer4;
import dev.sluice.observe.v1.Layer7;
import dev.sluice.observe.v1.Policy;
import dev.sluice.observe.v1.Service;
import dev.sluice.observe.v1.TCPFlags;
import dev.sluice.observe.v1.TrafficDirection;
import dev.sluice.observe.v1.Verdict;
import dev.sluice.observe.v1.Workload;

import java.util.Map;
import java.util.UUID;

/**
 * Sluice's flow (the ring's, {@code sluice.observer.v1}) to Hubble's {@code flow.Flow} on the wire, and back.
 * Everything Hubble has a field for goes in that field; what Hubble cannot say (the policy's rule, the nodes of
 * the endpoints, an observation point Hubble has no value for) goes in a {@link FlowExtension} in field
 * {@link #EXTENSION_FIELD}, which Hubble's clients skip. {@code fromHubble(toHubble(f))} is {@code f} for every
 * field Sluice fills (HubbleFlowsTest).
 */
public final class HubbleFlows {
    private HubbleFlows() {}

    /**
     * Where Sluice's {@link FlowExtension} travels in a flow.Flow: a number Hubble's flow.proto leaves free and
     * does not declare, so Hubble's clients skip it (an Any in {@code extensions} would break their JSON output).
     */
    public static final int EXTENSION_FIELD = 400000;

    /** Cilium's monitor message types (pkg/monitor/api), as Hubble's CiliumEventType.type carries them. */
    static final Map<String, Integer> EVENT_TYPES = Map.of(
            "drop", 1, "debug", 2, "capture", 3, "trace", 4, "policy-verdict", 5, "trace-sock", 7, "l7", 129, "agent", 130);

    private static final Map<String, TraceObservationPoint> POINTS = Map.of(
            "to-proxy", TraceObservationPoint.TO_PROXY, "to-host", TraceObservationPoint.TO_HOST,
            "to-stack", TraceObservationPoint.TO_STACK, "to-overlay", TraceObservationPoint.TO_OVERLAY,
            "to-endpoint", TraceObservationPoint.TO_ENDPOINT, "from-endpoint", TraceObservationPoint.FROM_ENDPOINT,
            "from-proxy", TraceObservationPoint.FROM_PROXY, "from-host", TraceObservationPoint.FROM_HOST,
            "from-stack", TraceObservationPoint.FROM_STACK, "from-overlay", TraceObservationPoint.FROM_OVERLAY);

    /** Hubble's text for its socket translation points, which Sluice's flows carry as their observation point. */
    private static final Map<String, SocketTranslationPoint> XLATE_POINTS = Map.of(
            "pre-xlate-fwd", SocketTranslationPoint.SOCK_XLATE_POINT_PRE_DIRECTION_FWD,
            "post-xlate-fwd", SocketTranslationPoint.SOCK_XLATE_POINT_POST_DIRECTION_FWD,
            "pre-xlate-rev", SocketTranslationPoint.SOCK_XLATE_POINT_PRE_DIRECTION_REV,
            "post-xlate-rev", SocketTranslationPoint.SOCK_XLATE_POINT_POST_DIRECTION_REV);

    public static dev.sluice.hubble.flow.Flow toHubble(Flow f) {
        var h = dev.sluice.hubble.flow.Flow.newBuilder();
        FlowExtension.Builder ext = FlowExtension.newBuilder();
        if (f.hasTime()) {
            h.setTime(f.getTime());
        }
        // Hubble gives each flow a UUID; a name derived from the flow's bytes is the same at every read of it,
        // from the node or through the relay.
        h.setUuid(UUID.nameUUIDFromBytes(f.toByteArray()).toString());
        h.setVerdictValue(f.getVerdictValue());
        if (f.getDropReason() != 0) {
            h.setDropReason(f.getDropReason()).setDropReasonDescValue(f.getDropReason());
        }
        if (!f.getDropReasonDesc().isEmpty()) {
            ext.setDropReasonDesc(f.getDropReasonDesc());
        }
        if (f.hasSource()) {
            h.setSource(endpoint(f.getSource()));
            ext.setSourceNode(f.getSource().getNode());
        }
        if (f.hasDestination()) {
            h.setDestination(endpoint(f.getDestination()));
            ext.setDestinationNode(f.getDestination().getNode());
        }
        if (f.hasIP()) {
            h.setIP(dev.sluice.hubble.flow.IP.newBuilder().setSource(f.getIP().getSource())
                    .setDestination(f.getIP().getDestination()).setIpVersionValue(f.getIP().getIpVersionValue()));
        }
        if (f.hasL4()) {
            h.setL4(l4(f.getL4()));
        }
        if (f.hasL7()) {
            h.setL7(l7(f.getL7()));
        }
        if (f.hasSourceService()) {
            h.setSourceService(service(f.getSourceService()));
        }
        if (f.hasDestinationService()) {
            h.setDestinationService(service(f.getDestinationService()));
        }
        h.setTrafficDirectionValue(f.getTrafficDirectionValue());
        if (f.hasIsReply()) {
            h.setIsReply(BoolValue.of(f.getIsReply())).setReply(f.getIsReply());
        }
        h.setNodeName(f.getNodeName());
        // Hubble's deprecated one-line summary, which older clients print: the same text as `sluice observe`'s.
        h.setSummary(dev.sluice.observe.FlowFormat.summaryOf(f));
        String eventType = f.getEventType();
        Integer type = EVENT_TYPES.get(eventType);
        if (type != null) {
            h.setEventType(CiliumEventType.newBuilder().setType(type).setSubType(type == 1 ? f.getDropReason() : 0));
        } else if (!eventType.isEmpty()) {
            ext.setEventType(eventType);
        }
        h.setType(f.hasL7() ? FlowType.L7 : "trace-sock".equals(eventType) ? FlowType.SOCK : FlowType.L3_L4);
        String point = f.getTraceObservationPoint();
        if (POINTS.containsKey(point)) {
            h.setTraceObservationPoint(POINTS.get(point));
        } else if (XLATE_POINTS.containsKey(point)) {
            h.setSockXlatePoint(XLATE_POINTS.get(point));
        } else if (!point.isEmpty()) {
            ext.setTraceObservationPoint(point);
        }
        if (f.hasPolicy()) {
            Policy p = f.getPolicy();
            ext.setPolicy(PolicyRule.newBuilder().setKind(p.getKind()).setNamespace(p.getNamespace()).setName(p.getName())
                    .setRule(p.getRule()));
            var policy = dev.sluice.hubble.flow.Policy.newBuilder().setName(p.getName()).setNamespace(p.getNamespace())
                    .setKind(p.getKind());
            // Cilium's labels of a policy's rules, which Hubble's clients show.
            policy.addLabels("k8s:io.cilium.k8s.policy.derived-from=" + p.getKind())
                    .addLabels("k8s:io.cilium.k8s.policy.name=" + p.getName());
            if (!p.getNamespace().isEmpty()) {
                policy.addLabels("k8s:io.cilium.k8s.policy.namespace=" + p.getNamespace());
            }
            boolean dropped = f.getVerdict() == Verdict.DROPPED;
            boolean ingress = f.getTrafficDirection() == TrafficDirection.INGRESS;
            if (f.getTrafficDirection() != TrafficDirection.TRAFFIC_DIRECTION_UNKNOWN) {
                if (dropped) {
                    (ingress ? h.addIngressDeniedByBuilder() : h.addEgressDeniedByBuilder()).mergeFrom(policy.build());
                } else {
                    (ingress ? h.addIngressAllowedByBuilder() : h.addEgressAllowedByBuilder()).mergeFrom(policy.build());
                }
            }
        }
        FlowExtension extension = ext.build();
        if (!extension.equals(FlowExtension.getDefaultInstance())) {
            h.setUnknownFields(UnknownFieldSet.newBuilder().addField(EXTENSION_FIELD,
                    UnknownFieldSet.Field.newBuilder().addLengthDelimited(extension.toByteString()).build()).build());
        }
        return h.build();
    }

    public static Flow fromHubble(dev.sluice.hubble.flow.Flow h) {
        Flow.Builder f = Flow.newBuilder();
        FlowExtension ext = extension(h);
        if (h.hasTime()) {
            f.setTime(h.getTime());
        }
        f.setVerdictValue(h.getVerdictValue());
        int reason = h.getDropReasonDescValue() != 0 ? h.getDropReasonDescValue() : h.getDropReason();
        f.setDropReason(reason).setDropReasonDesc(ext.getDropReasonDesc());
        if (h.hasSource()) {
            f.setSource(endpoint(h.getSource(), ext.getSourceNode()));
        }
        if (h.hasDestination()) {
            f.setDestination(endpoint(h.getDestination(), ext.getDestinationNode()));
        }
        if (h.hasIP()) {
            f.setIP(IP.newBuilder().setSource(h.getIP().getSource()).setDestination(h.getIP().getDestination())
                    .setIpVersion(IPVersion.forNumber(h.getIP().getIpVersionValue()) == null ? IPVersion.IP_NOT_USED
                            : IPVersion.forNumber(h.getIP().getIpVersionValue())));
        }
        if (h.hasL4()) {
            f.setL4(l4(h.getL4()));
        }
        if (h.hasL7()) {
            f.setL7(l7(h.getL7()));
        }
        if (h.hasSourceService()) {
            f.setSourceService(Service.newBuilder().setNamespace(h.getSourceService().getNamespace()).setName(h.getSourceService().getName()));
        }
        if (h.hasDestinationService()) {
            f.setDestinationService(Service.newBuilder().setNamespace(h.getDestinationService().getNamespace())
                    .setName(h.getDestinationService().getName()));
        }
        f.setTrafficDirectionValue(h.getTrafficDirectionValue());
        if (h.hasIsReply()) {
            f.setIsReply(h.getIsReply().getValue());
        }
        f.setNodeName(h.getNodeName());
        if (!ext.getEventType().isEmpty()) {
            f.setEventType(ext.getEventType());
        } else if (h.hasEventType()) {
            int type = h.getEventType().getType();
            f.setEventType(EVENT_TYPES.entrySet().stream().filter(e -> e.getValue() == type).map(Map.Entry::getKey)
                    .findFirst().orElse(Integer.toString(type)));
        }
        if (!ext.getTraceObservationPoint().isEmpty()) {
            f.setTraceObservationPoint(ext.getTraceObservationPoint());
        } else if (h.getTraceObservationPoint() != TraceObservationPoint.UNKNOWN_POINT) {
            POINTS.forEach((text, point) -> {
                if (point == h.getTraceObservationPoint()) {
                    f.setTraceObservationPoint(text);
                }
            });
        } else if (h.getSockXlatePoint() != SocketTranslationPoint.SOCK_XLATE_POINT_UNKNOWN) {
            XLATE_POINTS.forEach((text, point) -> {
                if (point == h.getSockXlatePoint()) {
                    f.setTraceObservationPoint(text);
                }
            });
        }
        if (ext.hasPolicy()) {
            PolicyRule p = ext.getPolicy();
            f.setPolicy(Policy.newBuilder().setKind(p.getKind()).setNamespace(p.getNamespace()).setName(p.getName()).setRule(p.getRule()));
        } else {
            // A flow from a Hubble that is not Sluice: its policy without the rule.
            dev.sluice.hubble.flow.Policy p = h.getIngressDeniedByCount() > 0 ? h.getIngressDeniedBy(0)
                    : h.getEgressDeniedByCount() > 0 ? h.getEgressDeniedBy(0)
                    : h.getIngressAllowedByCount() > 0 ? h.getIngressAllowedBy(0)
                    : h.getEgressAllowedByCount() > 0 ? h.getEgressAllowedBy(0) : null;
            if (p != null) {
                f.setPolicy(Policy.newBuilder().setKind(p.getKind()).setNamespace(p.getNamespace()).setName(p.getName()));
            }
        }
        return f.build();
    }

    /** The Sluice extension of a flow, or the empty one (a flow from another Hubble, or one with nothing to add). */
    static FlowExtension extension(dev.sluice.hubble.flow.Flow h) {
        UnknownFieldSet.Field field = h.getUnknownFields().getField(EXTENSION_FIELD);
        if (field.getLengthDelimitedList().isEmpty()) {
            return FlowExtension.getDefaultInstance();
        }
        try {
            return FlowExtension.parseFrom(field.getLengthDelimitedList().getLast());
        } catch (InvalidProtocolBufferException e) {
            return FlowExtension.getDefaultInstance();
        }
    }

    private static dev.sluice.hubble.flow.Endpoint endpoint(Endpoint e) {
        var h = dev.sluice.hubble.flow.Endpoint.newBuilder().setIdentity(e.getIdentity()).setNamespace(e.getNamespace())
                .addAllLabels(e.getLabelsList()).setPodName(e.getPodName());
        for (Workload w : e.getWorkloadsList()) {
            h.addWorkloads(dev.sluice.hubble.flow.Workload.newBuilder().setName(w.getName()).setKind(w.getKind()));
        }
        return h.build();
    }

    private static Endpoint endpoint(dev.sluice.hubble.flow.Endpoint h, String node) {
        Endpoint.Builder e = Endpoint.newBuilder().setIdentity(h.getIdentity()).setNamespace(h.getNamespace())
                .addAllLabels(h.getLabelsList()).setPodName(h.getPodName()).setNode(node);
        for (dev.sluice.hubble.flow.Workload w : h.getWorkloadsList()) {
            e.addWorkloads(Workload.newBuilder().setName(w.getName()).setKind(w.getKind()));
        }
        return e.build();
    }

    private static dev.sluice.hubble.flow.Service service(Service s) {
        return dev.sluice.hubble.flow.Service.newBuilder().setName(s.getName()).setNamespace(s.getNamespace()).build();
    }

    private static dev.sluice.hubble.flow.Layer4 l4(Layer4 l4) {
        var h = dev.sluice.hubble.flow.Layer4.newBuilder();
        switch (l4.getProtocolCase()) {
            case TCP -> {
                var tcp = dev.sluice.hubble.flow.TCP.newBuilder().setSourcePort(l4.getTCP().getSourcePort())
                        .setDestinationPort(l4.getTCP().getDestinationPort());
                if (l4.getTCP().hasFlags()) {
                    TCPFlags fl = l4.getTCP().getFlags();
                    tcp.setFlags(dev.sluice.hubble.flow.TCPFlags.newBuilder().setSYN(fl.getSYN()).setACK(fl.getACK())
                            .setFIN(fl.getFIN()).setRST(fl.getRST()).setPSH(fl.getPSH()));
                }
                h.setTCP(tcp);
            }
            case UDP -> h.setUDP(dev.sluice.hubble.flow.UDP.newBuilder().setSourcePort(l4.getUDP().getSourcePort())
                    .setDestinationPort(l4.getUDP().getDestinationPort()));
            case ICMPV4 -> h.setICMPv4(dev.sluice.hubble.flow.ICMPv4.newBuilder().setType(l4.getICMPv4().getType())
                    .setCode(l4.getICMPv4().getCode()));
            case SCTP -> h.setSCTP(dev.sluice.hubble.flow.SCTP.newBuilder().setSourcePort(l4.getSCTP().getSourcePort())
                    .setDestinationPort(l4.getSCTP().getDestinationPort()));
            case PROTOCOL_NOT_SET -> { }
        }
        return h.build();
    }

    private static Layer4 l4(dev.sluice.hubble.flow.Layer4 h) {
        Layer4.Builder l4 = Layer4.newBuilder();
        switch (h.getProtocolCase()) {
            case TCP -> {
                var tcp = dev.sluice.observe.v1.TCP.newBuilder().setSourcePort(h.getTCP().getSourcePort())
                        .setDestinationPort(h.getTCP().getDestinationPort());
                if (h.getTCP().hasFlags()) {
                    var fl = h.getTCP().getFlags();
                    tcp.setFlags(TCPFlags.newBuilder().setSYN(fl.getSYN()).setACK(fl.getACK()).setFIN(fl.getFIN())
                            .setRST(fl.getRST()).setPSH(fl.getPSH()));
                }
                l4.setTCP(tcp);
            }
            case UDP -> l4.setUDP(dev.sluice.observe.v1.UDP.newBuilder().setSourcePort(h.getUDP().getSourcePort())
                    .setDestinationPort(h.getUDP().getDestinationPort()));
            case ICMPV4 -> l4.setICMPv4(dev.sluice.observe.v1.ICMPv4.newBuilder().setType(h.getICMPv4().getType())
                    .setCode(h.getICMPv4().getCode()));
            case SCTP -> l4.setSCTP(dev.sluice.observe.v1.SCTP.newBuilder().setSourcePort(h.getSCTP().getSourcePort())
                    .setDestinationPort(h.getSCTP().getDestinationPort()));
            case ICMPV6, PROTOCOL_NOT_SET -> { }
        }
        return l4.build();
    }

    private static dev.sluice.hubble.flow.Layer7 l7(Layer7 l7) {
        var h = dev.sluice.hubble.flow.Layer7.newBuilder().setTypeValue(l7.getTypeValue()).setLatencyNs(l7.getLatencyNs());
        if (l7.hasHttp()) {
            HTTP http = l7.getHttp();
            var hh = dev.sluice.hubble.flow.HTTP.newBuilder().setCode(http.getCode()).setMethod(http.getMethod())
                    .setUrl(http.getUrl()).setProtocol(http.getProtocol());
            for (HTTPHeader header : http.getHeadersList()) {
                hh.addHeaders(dev.sluice.hubble.flow.HTTPHeader.newBuilder().setKey(header.getKey()).setValue(header.getValue()));
            }
            h.setHttp(hh);
        }
        if (l7.hasDns()) {
            var d = l7.getDns();
            h.setDns(dev.sluice.hubble.flow.DNS.newBuilder().setQuery(d.getQuery()).addAllIps(d.getIpsList()).setTtl(d.getTtl())
                    .addAllCnames(d.getCnamesList()).setObservationSource(d.getObservationSource()).setRcode(d.getRcode())
                    .addAllQtypes(d.getQtypesList()).addAllRrtypes(d.getRrtypesList()));
        }
        return h.build();
    }

    private static Layer7 l7(dev.sluice.hubble.flow.Layer7 h) {
        Layer7.Builder l7 = Layer7.newBuilder().setTypeValue(h.getTypeValue()).setLatencyNs(h.getLatencyNs());
        if (h.hasHttp()) {
            var hh = h.getHttp();
            HTTP.Builder http = HTTP.newBuilder().setCode(hh.getCode()).setMethod(hh.getMethod()).setUrl(hh.getUrl())
                    .setProtocol(hh.getProtocol());
            for (var header : hh.getHeadersList()) {
                http.addHeaders(HTTPHeader.newBuilder().setKey(header.getKey()).setValue(header.getValue()));
            }
            l7.setHttp(http);
        }
        if (h.hasDns()) {
            var d = h.getDns();
            l7.setDns(dev.sluice.observe.v1.DNS.newBuilder().setQuery(d.getQuery()).addAllIps(d.getIpsList()).setTtl(d.getTtl())
                    .addAllCnames(d.getCnamesList()).setObservationSource(d.getObservationSource()).setRcode(d.getRcode())
                    .addAllQtypes(d.getQtypesList()).addAllRrtypes(d.getRrtypesList()));
        }
        return l7.build();
    }
}
