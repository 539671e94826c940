package dev.sluice.model;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A readiness or liveness probe of a container, as the kubelet runs it: one action, and its timing (in
 * seconds, Kubernetes' defaults filled in). Named ports are resolved against the container's ports when the
 * manifest is read, so a probe always holds a number.
 */
public record ProbeSpec(Action action, int initialDelaySeconds, int periodSeconds, int timeoutSeconds,
                        int successThreshold, int failureThreshold) {
    public ProbeSpec {
        Objects.requireNonNull(action, "action");
    }

    /** What a probe does; exactly one per probe, as in the API. */
    @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
    @JsonSubTypes({@JsonSubTypes.Type(value = HttpGet.class, name = "httpGet"),
            @JsonSubTypes.Type(value = TcpSocket.class, name = "tcpSocket"),
            @JsonSubTypes.Type(value = Exec.class, name = "exec"),
            @JsonSubTypes.Type(value = Grpc.class, name = "grpc")})
    public sealed interface Action {
        /** How {@code describe} shows it, as kubectl does: {@code http-get http://:8080/healthz}. */
        String describe();
    }

    /** A GET that succeeds with a status from 200 to 399. @param host null: the pod's IP */
    public record HttpGet(String scheme, String host, int port, String path, Map<String, String> headers) implements Action {
        public HttpGet {
            headers = Copies.map(headers);
        }

        @Override
        public String describe() {
            return "http-get " + scheme.toLowerCase(java.util.Locale.ROOT) + "://" + (host == null ? "" : host) + ":" + port + path;
        }
    }

    /** A TCP connection that is accepted. */
    public record TcpSocket(String host, int port) implements Action {
        @Override
        public String describe() {
            return "tcp-socket " + (host == null ? "" : host) + ":" + port;
        }
    }

    /** A command run inside the container that exits 0. */
    public record Exec(List<String> command) implements Action {
        public Exec {
            command = Copies.list(command);
        }

        @Override
        public String describe() {
            return "exec " + command;
        }
    }

    /** {@code grpc.health.v1.Health/Check} answering SERVING. @param service "" for the server as a whole */
    public record Grpc(int port, String service) implements Action {
        @Override
        public String describe() {
            return "grpc <pod>:" + port + (service.isEmpty() ? "" : " " + service);
        }
    }

    /** {@code delay=0s timeout=1s period=10s #success=1 #failure=3}, as kubectl describe prints the timing. */
    public String describe() {
        return action.describe() + " delay=" + initialDelaySeconds + "s timeout=" + timeoutSeconds + "s period=" + periodSeconds
                + "s #success=" + successThreshold + " #failure=" + failureThreshold;
    }
}
