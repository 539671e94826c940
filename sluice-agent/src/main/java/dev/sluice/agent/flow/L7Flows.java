package dev.sluice.agent.flow;

import com.google.protobuf.Timestamp;
import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.HTTP;
import dev.sluice.observe.v1.HTTPHeader;
import dev.sluice.observe.v1.IP;
import dev.sluice.observe.v1.L7FlowType;
import dev.sluice.observe.v1.Layer4;
import dev.sluice.observe.v1.Layer7;
import dev.sluice.observe.v1.Service;
import dev.sluice.observe.v1.TCP;
import dev.sluice.observe.v1.TrafficDirection;
import dev.sluice.observe.v1.Verdict;
import dev.sluice.proxy.AccessRecord;

import java.time.Instant;
import java.util.List;

/**
 * The node proxy's access records as Hubble's L7 flows: each request gives two, as Hubble gives them, a REQUEST
 * (code 0, at the request's time, client to backend) and a RESPONSE (the status and the latency, at the response's
 * end, backend to client, marked as a reply, so that {@code sluice observe} prints it {@code client <- backend}).
 * The parties are named from the same {@link FlowDirectory} as the datapath's flows: the client pod by its address
 * (the proxy's peer), the backend pod by the address it was sent to, the Service by the route the proxy took.
 *
 * <p>Verdicts: FORWARDED; a policy denial is DROPPED (drop reason 133, "Policy denied", as Hubble shows denied L7
 * requests); a request the proxy could not serve (no route, no healthy backend, a reset) is ERROR. Why, in the
 * proxy's words, is the {@code x-sluice-reason} header entry of both flows. The traffic direction is EGRESS: the
 * proxy on the caller's node serves the caller's outgoing request, so Hubble's metrics report it as the client.
 */
public final class L7Flows {
    static final String REASON_HEADER = "x-sluice-reason";
    private static final int POLICY_DENIED = 133;

    private L7Flows() {
    }

    public static List<Flow> of(AccessRecord r, FlowDirectory dir) {
        Endpoint client = endpoint(dir, r.client().getAddress().getHostAddress());
        Endpoint backend = r.hasBackend() ? endpoint(dir, r.backendAddress()) : Endpoint.getDefaultInstance();
        Service service = service(r.service());
        String clientIp = r.client().getAddress().getHostAddress();
        int clientPort = r.client().getPort();
        String url = (r.scheme().isEmpty() ? "http" : r.scheme()) + "://" + r.authority() + r.path();
        Verdict verdict = switch (r.verdict()) {
            case FORWARDED -> Verdict.FORWARDED;
            case DENIED -> Verdict.DROPPED;
            case ERROR -> Verdict.ERROR;
        };

        HTTP.Builder request = HTTP.newBuilder().setMethod(r.method()).setUrl(url).setProtocol(r.protocol());
        HTTP.Builder response = HTTP.newBuilder().setCode(r.status()).setMethod(r.method()).setUrl(url).setProtocol(r.protocol());
        if (r.grpc()) {
            response.addHeaders(header("grpc-status", Integer.toString(r.grpcStatus())));
            if (!r.grpcMessage().isEmpty()) {
                response.addHeaders(header("grpc-message", r.grpcMessage()));
            }
        }
        if (!r.reason().isEmpty()) {
            request.addHeaders(header(REASON_HEADER, r.reason()));
            response.addHeaders(header(REASON_HEADER, r.reason()));
        }

        Flow.Builder req = Flow.newBuilder()
                .setTime(time(r.start()))
                .setVerdict(verdict)
                .setSource(client)
                .setDestination(backend)
                .setIP(IP.newBuilder().setSource(clientIp).setDestination(r.backendAddress()))
                .setL4(tcp(clientPort, r.backendPort()))
                .setL7(Layer7.newBuilder().setType(L7FlowType.REQUEST).setHttp(request))
                .setDestinationService(service)
                .setTrafficDirection(TrafficDirection.EGRESS)
                .setIsReply(false)
                .setNodeName(dir.node())
                .setEventType("l7");
        Flow.Builder resp = Flow.newBuilder()
                .setTime(time(r.start().plusNanos(r.latencyNanos())))
                .setVerdict(verdict)
                .setSource(backend)
                .setDestination(client)
                .setIP(IP.newBuilder().setSource(r.backendAddress()).setDestination(clientIp))
                .setL4(tcp(r.backendPort(), clientPort))
                .setL7(Layer7.newBuilder().setType(L7FlowType.RESPONSE).setLatencyNs(r.latencyNanos()).setHttp(response))
                .setSourceService(service)
                .setTrafficDirection(TrafficDirection.EGRESS)
                .setIsReply(true)
                .setNodeName(dir.node())
                .setEventType("l7");
        if (verdict == Verdict.DROPPED) {
            for (Flow.Builder f : List.of(req, resp)) {
                f.setDropReason(POLICY_DENIED).setDropReasonDesc("Policy denied");
            }
        }
        return List.of(req.build(), resp.build());
    }

    private static Endpoint endpoint(FlowDirectory dir, String address) {
        try {
            Endpoint pod = dir.pods().get(FlowDirectory.address(address));
            return pod != null ? pod : Endpoint.getDefaultInstance();
        } catch (IllegalArgumentException e) {
            return Endpoint.getDefaultInstance(); // IPv6: no pod has one
        }
    }

    private static Layer4 tcp(int sourcePort, int destinationPort) {
        return Layer4.newBuilder().setTCP(TCP.newBuilder().setSourcePort(sourcePort).setDestinationPort(destinationPort)).build();
    }

    private static HTTPHeader header(String key, String value) {
        return HTTPHeader.newBuilder().setKey(key).setValue(value).build();
    }

    /** "ns/name" as the proxy names Services; none without a route. */
    private static Service service(String name) {
        int slash = name.indexOf('/');
        if (name.isEmpty()) {
            return Service.getDefaultInstance();
        }
        return slash < 0 ? Service.newBuilder().setName(name).build()
                : Service.newBuilder().setNamespace(name.substring(0, slash)).setName(name.substring(slash + 1)).build();
    }

    private static Timestamp time(Instant t) {
        return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }
}
