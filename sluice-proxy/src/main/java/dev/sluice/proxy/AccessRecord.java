package dev.sluice.proxy;

import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.Objects;

/**
 * One request through the proxy, from routing to the end of its response (or its reset, denial or failure): what
 * an access log line holds, and what the agent turns into an L7 flow. Plain values only (no Netty, no protobuf,
 * no agent type), so that a proxy in its own process can send it over any channel.
 *
 * @param start        when the request's headers arrived
 * @param latencyNanos from the request's headers to the end of the response (or its failure)
 * @param client       the downstream connection's peer (the calling pod's address)
 * @param backendAddress the backend the request was sent to, "" when none was (no route, no backend, denied)
 * @param backendPort  0 when there is no backend
 * @param backendPod   the backend's {@code namespace/name}, "" when unknown
 * @param service      the Service the route was found under ({@code namespace/name}), "" without a route
 * @param servicePort  that Service's port, 0 without a route
 * @param cluster      the cluster chosen, "" without one
 * @param protocol     the client's HTTP version: "HTTP/1.1" or "HTTP/2"
 * @param method       the request's method ("POST")
 * @param scheme       the request's scheme ("http")
 * @param authority    {@code :authority} or Host, as sent
 * @param path         the request's path with its query, as sent ({@code /sluice.echo.v1.Echo/Ping} for gRPC)
 * @param status       the response's HTTP status; 0 when none was sent (the stream was reset before headers)
 * @param grpcStatus   the gRPC status of a gRPC response (trailers, or a trailers-only response), -1 otherwise
 * @param grpcMessage  its {@code grpc-message}, as sent (percent-encoded), "" without one
 * @param verdict      what became of the request
 * @param reason       why the proxy denied or failed it ("" when forwarded)
 */
public record AccessRecord(Instant start, long latencyNanos, InetSocketAddress client,
                           String backendAddress, int backendPort, String backendPod,
                           String service, int servicePort, String cluster,
                           String protocol, String method, String scheme, String authority, String path,
                           int status, int grpcStatus, String grpcMessage, Verdict verdict, String reason) {
    public AccessRecord {
        Objects.requireNonNull(start, "start");
        Objects.requireNonNull(client, "client");
        Objects.requireNonNull(verdict, "verdict");
        backendAddress = backendAddress == null ? "" : backendAddress;
        backendPod = backendPod == null ? "" : backendPod;
        service = service == null ? "" : service;
        cluster = cluster == null ? "" : cluster;
        protocol = protocol == null ? "" : protocol;
        method = method == null ? "" : method;
        scheme = scheme == null ? "" : scheme;
        authority = authority == null ? "" : authority;
        path = path == null ? "" : path;
        grpcMessage = grpcMessage == null ? "" : grpcMessage;
        reason = reason == null ? "" : reason;
    }

    /** What became of a request. */
    public enum Verdict {
        /** Sent to a backend, whose response (whatever its status) reached the client. */
        FORWARDED,
        /** Refused by policy: answered 403, or gRPC PERMISSION_DENIED, by the proxy. */
        DENIED,
        /** Not served: no route, no healthy backend, the backend or the client reset the stream. */
        ERROR
    }

    public boolean hasBackend() {
        return !backendAddress.isEmpty();
    }

    public boolean grpc() {
        return grpcStatus >= 0;
    }
}
