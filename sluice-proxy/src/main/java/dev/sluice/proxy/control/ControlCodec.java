package dev.sluice.proxy.control;

import dev.sluice.l7.policy.Admitted;
import dev.sluice.l7.policy.HttpRule;
import dev.sluice.proxy.AccessRecord;
import dev.sluice.proxy.control.v1.AdmitReply;

import java.net.InetSocketAddress;
import java.time.Instant;

/** The plain records that cross the control channel (an admission decision, an access record) to and from proto. */
public final class ControlCodec {
    private ControlCodec() {
    }

    public static AdmitReply.Builder reply(Admitted admitted) {
        var b = AdmitReply.newBuilder().setAllowed(admitted.allowed()).setReason(admitted.reason())
                .setClientSource(admitted.clientSource()).setDatapathDrop(admitted.datapathDrop());
        for (HttpRule r : admitted.httpRules()) {
            var rb = dev.sluice.proxy.control.v1.HttpRule.newBuilder().setPolicy(r.policy());
            if (r.method() != null) {
                rb.setMethod(r.method());
            }
            if (r.path() != null) {
                rb.setPath(r.path());
            }
            if (r.host() != null) {
                rb.setHost(r.host());
            }
            for (HttpRule.Header h : r.headers()) {
                var hb = dev.sluice.proxy.control.v1.HttpRule.Header.newBuilder().setName(h.name());
                if (h.value() != null) {
                    hb.setValue(h.value());
                }
                rb.addHeaders(hb);
            }
            b.addHttpRules(rb);
        }
        return b;
    }

    /** @throws IllegalArgumentException for rules the record refuses (a bad regex) */
    public static Admitted admitted(AdmitReply reply) {
        return new Admitted(reply.getAllowed(), reply.getReason(), reply.getHttpRulesList().stream()
                .map(r -> new HttpRule(r.hasMethod() ? r.getMethod() : null, r.hasPath() ? r.getPath() : null,
                        r.hasHost() ? r.getHost() : null, r.getHeadersList().stream()
                        .map(h -> new HttpRule.Header(h.getName(), h.hasValue() ? h.getValue() : null)).toList(), r.getPolicy()))
                .toList(), reply.getClientSource(), reply.getDatapathDrop());
    }

    public static dev.sluice.proxy.control.v1.AccessRecord record(AccessRecord r) {
        return dev.sluice.proxy.control.v1.AccessRecord.newBuilder()
                .setStartUnixNanos(r.start().getEpochSecond() * 1_000_000_000L + r.start().getNano())
                .setLatencyNanos(r.latencyNanos()).setClientIp(r.client().getAddress().getHostAddress())
                .setClientPort(r.client().getPort()).setBackendAddress(r.backendAddress()).setBackendPort(r.backendPort())
                .setBackendPod(r.backendPod()).setService(r.service()).setServicePort(r.servicePort()).setCluster(r.cluster())
                .setProtocol(r.protocol()).setMethod(r.method()).setScheme(r.scheme()).setAuthority(r.authority())
                .setPath(r.path()).setStatus(r.status()).setGrpcStatus(r.grpcStatus()).setGrpcMessage(r.grpcMessage())
                .setVerdict(dev.sluice.proxy.control.v1.AccessRecord.Verdict.valueOf(r.verdict().name())).setReason(r.reason())
                .build();
    }

    /** @throws IllegalArgumentException for an unparsable address or an unset verdict */
    public static AccessRecord record(dev.sluice.proxy.control.v1.AccessRecord r) {
        if (r.getVerdict() == dev.sluice.proxy.control.v1.AccessRecord.Verdict.VERDICT_UNSPECIFIED
                || r.getVerdict() == dev.sluice.proxy.control.v1.AccessRecord.Verdict.UNRECOGNIZED) {
            throw new IllegalArgumentException("access record without a verdict");
        }
        return new AccessRecord(Instant.ofEpochSecond(0, r.getStartUnixNanos()), r.getLatencyNanos(),
                new InetSocketAddress(r.getClientIp(), r.getClientPort()), r.getBackendAddress(), r.getBackendPort(),
                r.getBackendPod(), r.getService(), r.getServicePort(), r.getCluster(), r.getProtocol(), r.getMethod(),
                r.getScheme(), r.getAuthority(), r.getPath(), r.getStatus(), r.getGrpcStatus(), r.getGrpcMessage(),
                AccessRecord.Verdict.valueOf(r.getVerdict().name()), r.getReason());
    }
}
