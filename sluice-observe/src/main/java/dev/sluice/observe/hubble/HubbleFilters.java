package dev.sluice.observe.hubble;

import com.google.protobuf.UnknownFieldSet;
import dev.sluice.hubble.flow.EventTypeFilter;
import dev.sluice.observe.v1.FlowFilter;
import dev.sluice.observe.v1.IPVersion;
import dev.sluice.observe.v1.TrafficDirection;
import dev.sluice.observe.v1.Verdict;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * Hubble's {@code flow.FlowFilter} and Sluice's filter, both ways. A node evaluates Hubble's filters by turning
 * each into Sluice's (the same whitelist/blacklist semantics, FlowFilters). {@code sluice observe} has either-side
 * flags Hubble's filter has no field for ({@code --pod}, {@code --ip}, {@code --port}, {@code --identity},
 * {@code --namespace}); as Hubble's CLI does, it sends one filter per choice of side, so a flow matches the
 * list when it matches the Sluice filter.
 */
public final class HubbleFilters {
    private HubbleFilters() {}

    /**
     * @throws IllegalArgumentException for a filter that sets a field Sluice does not evaluate (one this
     *         build's flow.proto leaves out arrives as an unknown field), or an event type Sluice has not
     */
    public static FlowFilter toSluice(dev.sluice.hubble.flow.FlowFilter h) {
        UnknownFieldSet unknown = h.getUnknownFields();
        if (!unknown.asMap().isEmpty()) {
            throw new IllegalArgumentException("FlowFilter field(s) " + unknown.asMap().keySet()
                    + " of Hubble's flow.proto are not supported by Sluice");
        }
        FlowFilter.Builder f = FlowFilter.newBuilder()
                .addAllSourceIp(h.getSourceIpList()).addAllDestinationIp(h.getDestinationIpList())
                .addAllSourcePod(h.getSourcePodList()).addAllDestinationPod(h.getDestinationPodList())
                .addAllSourceLabel(h.getSourceLabelList()).addAllDestinationLabel(h.getDestinationLabelList())
                .addAllSourceService(h.getSourceServiceList()).addAllDestinationService(h.getDestinationServiceList())
                .addAllHttpStatusCode(h.getHttpStatusCodeList()).addAllProtocol(h.getProtocolList())
                .addAllSourcePort(h.getSourcePortList()).addAllDestinationPort(h.getDestinationPortList())
                .addAllReply(h.getReplyList())
                .addAllSourceIdentity(h.getSourceIdentityList()).addAllDestinationIdentity(h.getDestinationIdentityList())
                .addAllHttpMethod(h.getHttpMethodList()).addAllHttpPath(h.getHttpPathList())
                .addAllNodeName(h.getNodeNameList()).addAllDnsQuery(h.getDnsQueryList())
                .addAllDropReason(h.getDropReasonDescValueList());
        h.getTrafficDirectionValueList().forEach(v -> f.addTrafficDirectionValue(v));
        h.getVerdictValueList().forEach(v -> f.addVerdictValue(v));
        h.getIpVersionValueList().forEach(v -> f.addIpVersionValue(v));
        for (EventTypeFilter type : h.getEventTypeList()) {
            if (type.getMatchSubType()) {
                throw new IllegalArgumentException("FlowFilter.event_type: matching a sub_type is not supported by Sluice");
            }
            String name = HubbleFlows.EVENT_TYPES.entrySet().stream().filter(e -> e.getValue() == type.getType())
                    .map(Map.Entry::getKey).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("FlowFilter.event_type: unknown type " + type.getType()));
            f.addEventType(name);
        }
        return f.build();
    }

    public static List<FlowFilter> toSluice(List<dev.sluice.hubble.flow.FlowFilter> filters) {
        return filters.stream().map(HubbleFilters::toSluice).toList();
    }

    /**
     * Hubble filters that match together exactly the flows the Sluice filter matches: its either-side fields
     * become one filter per choice of side (2^k of them for k such fields, as Hubble's CLI builds its "left" and
     * "right" filters).
     */
    public static List<dev.sluice.hubble.flow.FlowFilter> toHubble(FlowFilter f) {
        var base = dev.sluice.hubble.flow.FlowFilter.newBuilder()
                .addAllSourceIp(f.getSourceIpList()).addAllDestinationIp(f.getDestinationIpList())
                .addAllSourcePod(f.getSourcePodList()).addAllDestinationPod(f.getDestinationPodList())
                .addAllSourceLabel(f.getSourceLabelList()).addAllDestinationLabel(f.getDestinationLabelList())
                .addAllSourceService(f.getSourceServiceList()).addAllDestinationService(f.getDestinationServiceList())
                .addAllHttpStatusCode(f.getHttpStatusCodeList()).addAllProtocol(f.getProtocolList())
                .addAllSourcePort(f.getSourcePortList()).addAllDestinationPort(f.getDestinationPortList())
                .addAllReply(f.getReplyList())
                .addAllSourceIdentity(f.getSourceIdentityList()).addAllDestinationIdentity(f.getDestinationIdentityList())
                .addAllHttpMethod(f.getHttpMethodList()).addAllHttpPath(f.getHttpPathList())
                .addAllNodeName(f.getNodeNameList()).addAllDnsQuery(f.getDnsQueryList())
                .addAllDropReasonDescValue(f.getDropReasonList().stream().map(Integer::valueOf).toList());
        f.getTrafficDirectionList().forEach(v -> base.addTrafficDirectionValue(v.getNumber()));
        f.getVerdictList().forEach(v -> base.addVerdictValue(v.getNumber()));
        f.getIpVersionList().forEach(v -> base.addIpVersionValue(v.getNumber()));
        for (String type : f.getEventTypeList()) {
            Integer number = HubbleFlows.EVENT_TYPES.get(type.toLowerCase(java.util.Locale.ROOT));
            if (number == null) {
                throw new IllegalArgumentException("event type must be one of " + HubbleFlows.EVENT_TYPES.keySet() + ", got \"" + type + "\"");
            }
            base.addEventType(EventTypeFilter.newBuilder().setType(number));
        }
        if (!f.getDropReasonDescList().isEmpty()) {
            throw new IllegalArgumentException("a drop reason is sent by its code (Hubble's DropReason), not its text");
        }
        List<dev.sluice.hubble.flow.FlowFilter.Builder> filters = new ArrayList<>(List.of(base));
        filters = sides(filters, f.getPodList(), SOURCE_POD, DESTINATION_POD, HubbleFilters::bothPrefixes);
        filters = sides(filters, f.getNamespaceList().stream().map(ns -> ns + "/").toList(), SOURCE_POD, DESTINATION_POD,
                HubbleFilters::bothPrefixes);
        filters = sides(filters, f.getPortList(), SOURCE_PORT, DESTINATION_PORT, HubbleFilters::same);
        filters = sides(filters, f.getIpList(), SOURCE_IP, DESTINATION_IP, HubbleFilters::sameAddress);
        filters = sides(filters, f.getIdentityList(), SOURCE_IDENTITY, DESTINATION_IDENTITY, HubbleFilters::same);
        return filters.stream().map(dev.sluice.hubble.flow.FlowFilter.Builder::build).toList();
    }

    /** One repeated field of Hubble's filter: read it, and replace it. */
    private record Field<T>(java.util.function.Function<dev.sluice.hubble.flow.FlowFilter.Builder, List<T>> get,
                            BiConsumer<dev.sluice.hubble.flow.FlowFilter.Builder, List<T>> set) {}

    private static final Field<String> SOURCE_POD = new Field<>(b -> b.getSourcePodList(), (b, v) -> b.clearSourcePod().addAllSourcePod(v));
    private static final Field<String> DESTINATION_POD = new Field<>(b -> b.getDestinationPodList(),
            (b, v) -> b.clearDestinationPod().addAllDestinationPod(v));
    private static final Field<String> SOURCE_PORT = new Field<>(b -> b.getSourcePortList(), (b, v) -> b.clearSourcePort().addAllSourcePort(v));
    private static final Field<String> DESTINATION_PORT = new Field<>(b -> b.getDestinationPortList(),
            (b, v) -> b.clearDestinationPort().addAllDestinationPort(v));
    private static final Field<String> SOURCE_IP = new Field<>(b -> b.getSourceIpList(), (b, v) -> b.clearSourceIp().addAllSourceIp(v));
    private static final Field<String> DESTINATION_IP = new Field<>(b -> b.getDestinationIpList(),
            (b, v) -> b.clearDestinationIp().addAllDestinationIp(v));
    private static final Field<Integer> SOURCE_IDENTITY = new Field<>(b -> b.getSourceIdentityList(),
            (b, v) -> b.clearSourceIdentity().addAllSourceIdentity(v));
    private static final Field<Integer> DESTINATION_IDENTITY = new Field<>(b -> b.getDestinationIdentityList(),
            (b, v) -> b.clearDestinationIdentity().addAllDestinationIdentity(v));

    /** The value that holds exactly when both do, or null when none does. */
    private interface Both<T> {
        T of(T a, T b);
    }

    /**
     * Each filter twice, once with the values on the source side and once on the destination side. A field
     * holds alternatives; when it already has values of another flag, both flags must hold, so the field gets
     * the values that satisfy both, and a filter left with none can match nothing and is dropped.
     */
    private static <T> List<dev.sluice.hubble.flow.FlowFilter.Builder> sides(
            List<dev.sluice.hubble.flow.FlowFilter.Builder> filters, List<T> values, Field<T> source, Field<T> destination,
            Both<T> both) {
        if (values.isEmpty()) {
            return filters;
        }
        List<dev.sluice.hubble.flow.FlowFilter.Builder> expanded = new ArrayList<>();
        for (var b : filters) {
            for (Field<T> side : List.of(source, destination)) {
                var copy = b.clone();
                List<T> existing = side.get().apply(copy);
                if (existing.isEmpty()) {
                    side.set().accept(copy, values);
                } else {
                    List<T> narrowed = new ArrayList<>();
                    for (T a : existing) {
                        for (T v : values) {
                            T kept = both.of(a, v);
                            if (kept != null && !narrowed.contains(kept)) {
                                narrowed.add(kept);
                            }
                        }
                    }
                    if (narrowed.isEmpty()) {
                        continue;
                    }
                    side.set().accept(copy, narrowed);
                }
                expanded.add(copy);
            }
        }
        return expanded;
    }

    /** Name prefixes: "ns/a" and "ns/" both hold for exactly the names "ns/a" does. */
    private static String bothPrefixes(String a, String b) {
        return a.startsWith(b) ? a : b.startsWith(a) ? b : null;
    }

    private static <T> T same(T a, T b) {
        return a.equals(b) ? a : null;
    }

    private static String sameAddress(String a, String b) {
        if (a.equals(b)) {
            return a;
        }
        if (a.contains("/") || b.contains("/")) {
            throw new IllegalArgumentException("an address prefix on either side (" + a + ", " + b
                    + ") cannot be combined with one on a given side");
        }
        return null;
    }

    public static List<dev.sluice.hubble.flow.FlowFilter> toHubble(List<FlowFilter> filters) {
        return filters.stream().flatMap(f -> toHubble(f).stream()).toList();
    }

    /** Keeps the enums of both protos in step: Hubble's numbers are Sluice's. */
    static boolean sameNumbers() {
        return Verdict.DROPPED_VALUE == dev.sluice.hubble.flow.Verdict.DROPPED_VALUE
                && TrafficDirection.INGRESS_VALUE == dev.sluice.hubble.flow.TrafficDirection.INGRESS_VALUE
                && IPVersion.IPv6_VALUE == dev.sluice.hubble.flow.IPVersion.IPv6_VALUE;
    }
}
