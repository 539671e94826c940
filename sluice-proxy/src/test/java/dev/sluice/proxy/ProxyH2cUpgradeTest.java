package dev.sluice.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Headers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * h2c upgrade (RFC 7540 section 3.2) on a real socket, spoken byte by byte (HPACK by Netty's coder): an HTTP/1.1
 * request with {@code Upgrade: h2c} and {@code HTTP2-Settings} is answered {@code 101 Switching Protocols} and
 * served as stream 1 of an HTTP/2 connection (routed to a backend like any request); the client's next request,
 * an HTTP/2 stream 3 on the same connection, is served too. A plain HTTP/1.1 request is not upgraded.
 */
class ProxyH2cUpgradeTest {
    private static SeedBackends backends;
    private static ProxyServer proxy;

    @BeforeAll
    static void start() throws IOException {
        backends = new SeedBackends(50);
        proxy = ProxyServer.start(RouteTableSource.updatable(backends.table), InetAddress.getByName("127.0.0.1"), 0,
                new ProxyServer.Options(1, Duration.ofSeconds(5)), Admission.ALL);
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close();
        }
        if (backends != null) {
            backends.close();
        }
    }

    /** A response read off the connection: its headers and body. */
    private record Response(Http2Headers headers, String body) {
    }

    @Test
    void anUpgradedConnectionServesItsFirstRequestAsStreamOneAndLaterOnesAsHttp2Streams() throws Exception {
        long upgrades = proxy.stats().h2cUpgrades();
        long connections = proxy.stats().downstreamConnections();
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", proxy.port()), 5_000);
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            // SETTINGS_MAX_CONCURRENT_STREAMS = 100, base64url, as the upgrade's HTTP2-Settings.
            out.write(("GET /first HTTP/1.1\r\nHost: product-service:50051\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                    + "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String head = readHead(in);
            assertTrue(head.startsWith("HTTP/1.1 101 Switching Protocols"), head);
            assertTrue(head.toLowerCase().contains("upgrade: h2c"), head);
            out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            frame(out, 0x4, 0, 0, new byte[0]); // our SETTINGS
            out.flush();
            DefaultHttp2HeadersDecoder decoder = new DefaultHttp2HeadersDecoder(true);
            Response first = read(in, out, decoder, 1);
            assertEquals("200", String.valueOf(first.headers().status()), first.toString());
            assertTrue(first.body().contains("\"pod\":\"product-service-v"), first.body());
            assertTrue(first.body().contains("/first"), first.body());

            DefaultHttp2HeadersEncoder encoder = new DefaultHttp2HeadersEncoder();
            ByteBuf block = Unpooled.buffer();
            encoder.encodeHeaders(3, new DefaultHttp2Headers().method("GET").scheme("http").path("/second")
                    .authority("product-service:50051"), block);
            byte[] bytes = new byte[block.readableBytes()];
            block.readBytes(bytes);
            block.release();
            frame(out, 0x1, 0x5, 3, bytes); // HEADERS, END_STREAM | END_HEADERS
            out.flush();
            Response second = read(in, out, decoder, 3);
            assertEquals("200", String.valueOf(second.headers().status()), second.toString());
            assertTrue(second.body().contains("/second") && second.body().contains("\"pod\":\"product-service-v"), second.body());
        }
        assertEquals(1, proxy.stats().h2cUpgrades() - upgrades, proxy.stats().toString());
        assertEquals(1, proxy.stats().downstreamConnections() - connections, proxy.stats().toString());

        // Without Upgrade: HTTP/1.1 as before, no upgrade counted.
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", proxy.port()), 5_000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("GET /plain HTTP/1.1\r\nHost: product-service:50051\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            var r = ProxyCanaryTest.Http1Response.read(new java.io.BufferedInputStream(socket.getInputStream()));
            assertEquals(200, r.status(), r.body());
        }
        assertEquals(1, proxy.stats().h2cUpgrades() - upgrades);
        System.out.println("[ProxyH2cUpgradeTest] " + proxy.stats());
    }

    private static String readHead(DataInputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            head.write(in.readUnsignedByte());
        }
        return head.toString(StandardCharsets.US_ASCII);
    }

    private static void frame(OutputStream out, int type, int flags, int stream, byte[] payload) throws IOException {
        out.write(new byte[] {(byte) (payload.length >> 16), (byte) (payload.length >> 8), (byte) payload.length, (byte) type,
                (byte) flags, (byte) (stream >> 24), (byte) (stream >> 16), (byte) (stream >> 8), (byte) stream});
        out.write(payload);
    }

    /** Reads frames until {@code stream} ends; acknowledges the server's SETTINGS on the way. */
    private static Response read(DataInputStream in, OutputStream out, DefaultHttp2HeadersDecoder decoder, int stream) throws Exception {
        Http2Headers headers = null;
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        while (true) {
            int length = in.readUnsignedByte() << 16 | in.readUnsignedByte() << 8 | in.readUnsignedByte();
            int type = in.readUnsignedByte();
            int flags = in.readUnsignedByte();
            int id = in.readInt() & 0x7fffffff;
            byte[] payload = new byte[length];
            in.readFully(payload);
            if (type == 0x4 && (flags & 0x1) == 0) {
                frame(out, 0x4, 0x1, 0, new byte[0]);
                out.flush();
            } else if (type == 0x7) {
                throw new AssertionError("GOAWAY: " + new String(payload, StandardCharsets.UTF_8));
            } else if (id == stream && type == 0x1) {
                assertTrue((flags & 0x4) != 0, "one HEADERS frame (END_HEADERS)");
                headers = decoder.decodeHeaders(id, Unpooled.wrappedBuffer(payload));
            } else if (id == stream && type == 0x0) {
                body.write(payload);
            } else if (id == stream && type == 0x3) {
                throw new AssertionError("RST_STREAM on stream " + id);
            }
            if (id == stream && (type == 0x0 || type == 0x1) && (flags & 0x1) != 0) {
                return new Response(headers, body.toString(StandardCharsets.UTF_8));
            }
        }
    }
}
