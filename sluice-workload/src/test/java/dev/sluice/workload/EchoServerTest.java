package dev.sluice.workload;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.workload.echo.v1.EchoGrpc;
import dev.sluice.workload.echo.v1.PingReply;
import dev.sluice.workload.echo.v1.PingRequest;
import dev.sluice.workload.health.v1.HealthCheckRequest;
import dev.sluice.workload.health.v1.HealthGrpc;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EchoServerTest {
    private static final Identity IDENTITY =
            new Identity("product-v1-7c9f-abcde", "shop", "n1", Map.of("app", "product", "version", "v1"));
    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final String LOOPBACK = "127.0.0.1";

    private static EchoServer server;
    private final ObjectMapper json = new ObjectMapper();

    @BeforeAll
    static void start() throws IOException {
        server = EchoServer.start(IDENTITY, InetAddress.getLoopbackAddress(), List.of(0, 0));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static List<Integer> ports() {
        return server.boundPorts();
    }

    @Test
    void bindsEveryPortAskedFor() {
        assertEquals(2, server.boundPorts().size());
        assertTrue(server.boundPorts().stream().allMatch(port -> port > 0));
    }

    @ParameterizedTest
    @MethodSource("ports")
    void grpcPingNamesThePod(int port) {
        assertEquals(new EchoClient.Reply(IDENTITY, "grpc"), EchoClient.grpcPing(LOOPBACK, port, TIMEOUT));
    }

    @ParameterizedTest
    @MethodSource("ports")
    void grpcHealthIsServing(int port) {
        assertEquals("SERVING", EchoClient.grpcHealth(LOOPBACK, port, TIMEOUT));
    }

    @ParameterizedTest
    @MethodSource("ports")
    void httpNamesThePod(int port) throws Exception {
        assertEquals(new EchoClient.Reply(IDENTITY, "HTTP/1.1"), EchoClient.http(LOOPBACK, port, "/", TIMEOUT));
    }

    @Test
    void pingCarriesIdentityAndEchoesTheMessage() {
        PingReply reply = overChannel(channel -> EchoGrpc.newBlockingStub(channel)
                .ping(PingRequest.newBuilder().setMessage("héllo").build()));
        assertEquals("héllo", reply.getMessage());
        assertEquals("product-v1-7c9f-abcde", reply.getPod());
        assertEquals("shop", reply.getNamespace());
        assertEquals("n1", reply.getNode());
        assertEquals("v1", reply.getVersion());
        assertEquals(IDENTITY.labels(), reply.getLabelsMap());
    }

    @Test
    void largeRequestsFlowThroughHttp2FlowControl() {
        String megabyte = "x".repeat(1024 * 1024);
        PingReply reply = overChannel(channel -> EchoGrpc.newBlockingStub(channel)
                .ping(PingRequest.newBuilder().setMessage(megabyte).build()));
        assertEquals(megabyte, reply.getMessage());
    }

    @Test
    void requestsOverFourMegabytesAreRefused() {
        String tooLarge = "x".repeat(5 * 1024 * 1024);
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> overChannel(channel ->
                EchoGrpc.newBlockingStub(channel).ping(PingRequest.newBuilder().setMessage(tooLarge).build())));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
    }

    @Test
    void unknownMethodIsUnimplemented() {
        MethodDescriptor<PingRequest, PingReply> shout = EchoGrpc.getPingMethod().toBuilder()
                .setFullMethodName("sluice.echo.v1.Echo/Shout")
                .build();
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> overChannel(channel ->
                ClientCalls.blockingUnaryCall(channel, shout, CallOptions.DEFAULT, PingRequest.getDefaultInstance())));
        assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode());
        assertEquals("unknown method /sluice.echo.v1.Echo/Shout", e.getStatus().getDescription());
    }

    @Test
    void healthOfAnUnknownServiceIsNotFound() {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> overChannel(channel ->
                HealthGrpc.newBlockingStub(channel).check(HealthCheckRequest.newBuilder().setService("nope").build())));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
    }

    @Test
    void grpcResponseIsFramedWithHeadersAndTrailers() throws Exception {
        byte[] ping = PingRequest.newBuilder().setMessage("framing").build().toByteArray();
        H2cPriorKnowledgeClient.Exchange exchange = H2cPriorKnowledgeClient.exchange(port(), request("POST",
                "/sluice.echo.v1.Echo/Ping").set("content-type", "application/grpc").set("te", "trailers"),
                ByteBuffer.allocate(5 + ping.length).put((byte) 0).putInt(ping.length).put(ping).array());
        assertEquals("200", exchange.headers().status().toString());
        assertEquals("application/grpc", exchange.headers().get("content-type").toString());
        ByteBuffer body = ByteBuffer.wrap(exchange.body());
        assertEquals(0, body.get());
        assertEquals(body.remaining() - 4, body.getInt());
        assertEquals("framing", PingReply.parseFrom(body).getMessage());
        assertEquals("0", exchange.trailers().get("grpc-status").toString());
    }

    @Test
    void unknownMethodGetsATrailersOnlyResponse() throws Exception {
        H2cPriorKnowledgeClient.Exchange exchange = H2cPriorKnowledgeClient.exchange(port(),
                request("POST", "/no.Such/Method").set("content-type", "application/grpc"), new byte[5]);
        assertEquals("200", exchange.headers().status().toString());
        assertEquals("12", exchange.headers().get("grpc-status").toString());
        assertEquals(0, exchange.body().length);
    }

    @Test
    void plainH2cWithPriorKnowledgeGetsJson() throws Exception {
        H2cPriorKnowledgeClient.Exchange exchange =
                H2cPriorKnowledgeClient.exchange(port(), request("PUT", "/h2?x=1"), "ignored".getBytes());
        assertEquals("200", exchange.headers().status().toString());
        assertEquals("application/json", exchange.headers().get("content-type").toString());
        JsonNode body = json.readTree(exchange.body());
        assertEquals(IDENTITY, json.treeToValue(body, Identity.class));
        assertEquals("h2c", body.get("protocol").asText());
        assertEquals("PUT", body.get("method").asText());
        assertEquals("/h2?x=1", body.get("path").asText());
    }

    @Test
    void httpBodyNamesProtocolMethodAndPath() throws Exception {
        try (HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .proxy(HttpClient.Builder.NO_PROXY).build()) {
            for (String path : List.of("/first", "/second/x?y=z")) {
                HttpResponse<byte[]> response = client.send(HttpRequest.newBuilder(uri(path))
                        .method("DELETE", HttpRequest.BodyPublishers.noBody()).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                assertEquals(200, response.statusCode());
                assertEquals("application/json", response.headers().firstValue("content-type").orElseThrow());
                JsonNode body = json.readTree(response.body());
                assertEquals("product-v1-7c9f-abcde", body.get("pod").asText());
                assertEquals("v1", body.get("version").asText());
                assertEquals("HTTP/1.1", body.get("protocol").asText());
                assertEquals("DELETE", body.get("method").asText());
                assertEquals(path, body.get("path").asText());
            }
        }
    }

    @Test
    void http1ConnectionsStayOpenForMoreRequests() throws Exception {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port())) {
            socket.setSoTimeout(5000);
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            for (String path : List.of("/one", "/two")) {
                out.write(("POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n\r\nbody")
                        .getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertEquals(path, json.readTree(readHttp1Body(in)).get("path").asText());
            }
        }
    }

    @Test
    void h2cUpgradeFromHttp1AnswersOverHttp2() throws Exception {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port())) {
            socket.setSoTimeout(5000);
            OutputStream out = socket.getOutputStream();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            out.write(("GET /upgraded HTTP/1.1\r\nHost: test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                    + "Upgrade: h2c\r\nHTTP2-Settings: AAIAAAAA\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            assertTrue(readHttp1Head(in).startsWith("HTTP/1.1 101 "));
            // The client's connection preface, then an empty SETTINGS frame.
            out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0});
            out.flush();
            JsonNode body = json.readTree(readHttp2Body(in, 1));
            assertEquals("h2c", body.get("protocol").asText());
            assertEquals("/upgraded", body.get("path").asText());
        }
    }

    private static int port() {
        return server.boundPorts().getFirst();
    }

    private static Http2Headers request(String method, String path) {
        return new DefaultHttp2Headers().method(method).path(path).scheme("http").authority("test");
    }

    private static URI uri(String path) {
        return URI.create("http://" + LOOPBACK + ":" + port() + path);
    }

    private static <T> T overChannel(Function<ManagedChannel, T> call) {
        ManagedChannel channel = Grpc.newChannelBuilderForAddress(LOOPBACK, port(), InsecureChannelCredentials.create())
                .build();
        try {
            return call.apply(channel);
        } finally {
            channel.shutdownNow();
        }
    }

    /** Reads one response's head and its Content-Length body. */
    private static byte[] readHttp1Body(InputStream in) throws IOException {
        String head = readHttp1Head(in);
        assertTrue(head.startsWith("HTTP/1.1 200 "), head);
        int length = head.lines()
                .filter(line -> line.toLowerCase().startsWith("content-length:"))
                .map(line -> Integer.parseInt(line.substring("content-length:".length()).strip()))
                .findFirst().orElseThrow();
        return in.readNBytes(length);
    }

    private static String readHttp1Head(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed in a response head");
            }
            head.write(b);
        }
        return head.toString(StandardCharsets.US_ASCII);
    }

    /** Reads HTTP/2 frames until {@code stream}'s DATA ends, and returns that data. */
    private static byte[] readHttp2Body(DataInputStream in, int stream) throws IOException {
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        while (true) {
            int length = in.readUnsignedShort() << 8 | in.readUnsignedByte();
            int type = in.readUnsignedByte();
            int flags = in.readUnsignedByte();
            int streamId = in.readInt() & 0x7fffffff;
            byte[] payload = in.readNBytes(length);
            if (type == 0 && streamId == stream) {
                data.write(payload);
                if ((flags & 1) != 0) {
                    return data.toByteArray();
                }
            }
        }
    }
}
