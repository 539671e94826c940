package dev.sluice.workload;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.workload.echo.v1.EchoGrpc;
import dev.sluice.workload.echo.v1.PingReply;
import dev.sluice.workload.echo.v1.PingRequest;
import dev.sluice.workload.health.v1.HealthCheckRequest;
import dev.sluice.workload.health.v1.HealthGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;

import java.io.IOException;
import java.net.URI;
import java.util.Map;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Calls an echo workload. Every call opens a connection of its own and closes it afterwards, because the mesh
 * balances connections, not requests: repeated calls then show how connections are spread over pods.
 * Connections are always direct: a proxy would hide which pod answered.
 */
public final class EchoClient {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Who answered, and over which protocol ("grpc", or the "protocol" an HTTP answer names). */
    public record Reply(Identity identity, String protocol) {
    }

    private EchoClient() {
    }

    /**
     * Calls {@code sluice.echo.v1.Echo/Ping} over h2c.
     *
     * @throws io.grpc.StatusRuntimeException when the call fails, e.g. "UNAVAILABLE: io exception"
     */
    public static Reply grpcPing(String host, int port, Duration timeout) {
        return grpcPing(host, port, timeout, Map.of());
    }

    /** As {@link #grpcPing(String, int, Duration)}, sending {@code headers} as the call's metadata. */
    public static Reply grpcPing(String host, int port, Duration timeout, Map<String, String> headers) {
        PingReply reply = overNewChannel(host, port, channel -> EchoGrpc.newBlockingStub(channel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(metadata(headers)))
                .withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS)
                .ping(PingRequest.newBuilder().setMessage("sluice").build()));
        return new Reply(new Identity(reply.getPod(), reply.getNamespace(), reply.getNode(), reply.getLabelsMap()),
                "grpc");
    }

    /**
     * Calls {@code grpc.health.v1.Health/Check} for the whole server.
     *
     * @return the serving status, e.g. "SERVING"
     * @throws io.grpc.StatusRuntimeException when the call fails
     */
    public static String grpcHealth(String host, int port, Duration timeout) {
        return overNewChannel(host, port, channel -> HealthGrpc.newBlockingStub(channel)
                .withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS)
                .check(HealthCheckRequest.getDefaultInstance())
                .getStatus()
                .name());
    }

    /**
     * GETs {@code path} (e.g. "/") over HTTP/1.1.
     *
     * @throws IOException when the call fails or the answer is not a 200 with an identity
     */
    public static Reply http(String host, int port, String path, Duration timeout)
            throws IOException, InterruptedException {
        return http(host, port, "GET", path, timeout, Map.of());
    }

    /** As {@link #http(String, int, String, String, Duration, Map)} with no extra headers. */
    public static Reply http(String host, int port, String method, String path, Duration timeout)
            throws IOException, InterruptedException {
        return http(host, port, method, path, timeout, Map.of());
    }

    /**
     * {@code method} (with an empty body) to {@code path} over HTTP/1.1, with request {@code headers}.
     *
     * @throws IOException when the call fails or the answer is not a 200 with an identity (the message has the
     *                     status and the start of the body, e.g. {@code HTTP status 403: Access denied})
     */
    public static Reply http(String host, int port, String method, String path, Duration timeout, Map<String, String> headers)
            throws IOException, InterruptedException {
        String authority = (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create("http://" + authority + path))
                .timeout(timeout)
                .method(method, HttpRequest.BodyPublishers.noBody());
        headers.forEach(builder::header);
        HttpRequest request = builder.build();
        // A client of its own per call: clients pool connections, and this call must not reuse one.
        try (HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .proxy(HttpClient.Builder.NO_PROXY)
                .connectTimeout(timeout)
                .build()) {
            HttpResponse<byte[]> response = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
            if (response.statusCode() != 200) {
                String body = new String(response.body(), java.nio.charset.StandardCharsets.UTF_8).strip();
                throw new IOException("HTTP status " + response.statusCode()
                        + (body.isEmpty() ? "" : ": " + body.substring(0, Math.min(body.length(), 200))));
            }
            JsonNode body = JSON.readTree(response.body());
            return new Reply(JSON.treeToValue(body, Identity.class), body.path("protocol").asText());
        }
    }

    /**
     * Calls {@code sluice.echo.v1.Echo/Ping} {@code count} times over one HTTP/2 connection (one channel, one
     * call at a time), as a gRPC client with a long-lived channel does: what per-request L7 balancing acts on.
     *
     * @param each given every call's reply, or the exception it failed with
     */
    public static void grpcPings(String host, int port, int count, Duration timeout, java.util.function.BiConsumer<Reply, RuntimeException> each) {
        grpcPings(host, port, count, timeout, Map.of(), each);
    }

    /** As {@link #grpcPings(String, int, int, Duration, java.util.function.BiConsumer)}, each call with {@code headers}. */
    public static void grpcPings(String host, int port, int count, Duration timeout, Map<String, String> headers,
                                 java.util.function.BiConsumer<Reply, RuntimeException> each) {
        overNewChannel(host, port, channel -> {
            var stub = EchoGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(metadata(headers)));
            for (int i = 0; i < count; i++) {
                try {
                    PingReply reply = stub.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS)
                            .ping(PingRequest.newBuilder().setMessage("sluice").build());
                    each.accept(new Reply(new Identity(reply.getPod(), reply.getNamespace(), reply.getNode(), reply.getLabelsMap()),
                            "grpc"), null);
                } catch (RuntimeException e) {
                    each.accept(null, e);
                }
            }
            return null;
        });
    }

    private static Metadata metadata(Map<String, String> headers) {
        Metadata metadata = new Metadata();
        headers.forEach((name, value) -> metadata.put(Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER), value));
        return metadata;
    }

    private static <T> T overNewChannel(String host, int port, Function<ManagedChannel, T> call) {
        ManagedChannel channel = Grpc.newChannelBuilderForAddress(host, port, InsecureChannelCredentials.create())
                .proxyDetector(target -> null)
                .build();
        try {
            return call.apply(channel);
        } finally {
            channel.shutdownNow();
            try {
                channel.awaitTermination(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
