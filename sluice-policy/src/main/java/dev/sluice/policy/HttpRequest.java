package dev.sluice.policy;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * An HTTP request as L7 policy judges it. gRPC is HTTP/2: a call of {@code pkg.Service/Method} is
 * {@code POST /pkg.Service/Method} ({@link #grpc}).
 *
 * @param path {@code :path} as sent, query included
 * @param host {@code :authority}, or the Host header of HTTP/1.1
 * @param headers every value of each header, by lower-case name
 */
public record HttpRequest(String method, String path, String host, Map<String, List<String>> headers) {
    public HttpRequest {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(path, "path");
        host = host == null ? "" : host;
        headers = headers.entrySet().stream().collect(Collectors.toUnmodifiableMap(
                e -> e.getKey().toLowerCase(Locale.ROOT), e -> List.copyOf(e.getValue()), (a, b) -> a));
    }

    public static HttpRequest of(String method, String path, String host) {
        return new HttpRequest(method, path, host, Map.of());
    }

    /** A gRPC call as it travels: HTTP/2 POST to {@code /service/method}, content-type application/grpc. */
    public static HttpRequest grpc(String service, String method, String host) {
        return new HttpRequest("POST", "/" + service + "/" + method, host, Map.of("content-type", List.of("application/grpc")));
    }

    public List<String> header(String name) {
        return headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
    }

    @Override
    public String toString() {
        return method + " " + path + (host.isEmpty() ? "" : " (host " + host + ")");
    }
}
