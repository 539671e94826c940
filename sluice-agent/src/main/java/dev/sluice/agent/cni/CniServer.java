package dev.sluice.agent.cni;

import dev.sluice.cni.AgentMessages.Reply;
import dev.sluice.cni.AgentMessages.Request;
import dev.sluice.cni.CniError;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.function.Function;

/**
 * The agent's CNI socket: one request line and one reply line per connection ({@link dev.sluice.cni.AgentMessages}),
 * each connection on a virtual thread (a REGISTER waits for the agent's loop to apply it). Only root can reach it (the
 * socket is 0600 in the node's state directory): the plugin runs as the runtime's root.
 */
final class CniServer implements AutoCloseable {
    /** A request is a few hundred bytes; more is not the plugin. */
    private static final int MAX_REQUEST = 64 * 1024;

    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread acceptor;

    CniServer(Path socket, Function<Request, Reply> handler) {
        this.socket = socket;
        try {
            Files.createDirectories(socket.getParent());
            // A socket left by an agent that died would make bind fail.
            Files.deleteIfExists(socket);
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socket));
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serve the CNI plugin on " + socket + ": " + e.getMessage(), e);
        }
        acceptor = Thread.ofPlatform().daemon().name("cni-accept").start(() -> accept(handler));
    }

    Path socket() {
        return socket;
    }

    private void accept(Function<Request, Reply> handler) {
        while (server.isOpen()) {
            try {
                SocketChannel ch = server.accept();
                Thread.ofVirtual().name("cni-call").start(() -> serve(ch, handler));
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                System.out.println("agent: CNI socket: " + e.getMessage());
            }
        }
    }

    private static void serve(SocketChannel ch, Function<Request, Reply> handler) {
        try (ch) {
            Reply reply;
            try {
                byte[] bytes = readAll(Channels.newInputStream(ch));
                Request request = Ipam.JSON.readValue(bytes, Request.class);
                if (request == null || request.op() == null) {
                    throw new CniError(CniError.DECODING_FAILURE, "a request to the agent's CNI socket has no op");
                }
                reply = handler.apply(request);
            } catch (CniError e) {
                reply = Reply.error(e.code(), e.getMessage());
            } catch (IOException e) {
                reply = Reply.error(CniError.DECODING_FAILURE, "the agent cannot read the request: " + e.getMessage());
            } catch (RuntimeException e) {
                System.out.println("agent: CNI request failed: " + e);
                reply = Reply.error(CniError.TRY_AGAIN_LATER, "the agent failed: " + e);
            }
            ByteBuffer out = ByteBuffer.wrap((Ipam.JSON.writeValueAsString(reply) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
            while (out.hasRemaining()) {
                ch.write(out);
            }
        } catch (IOException e) {
            // The plugin went away (killed by its runtime's timeout): nothing to answer.
        }
    }

    private static byte[] readAll(InputStream in) throws IOException {
        byte[] bytes = in.readNBytes(MAX_REQUEST + 1);
        if (bytes.length > MAX_REQUEST) {
            throw new IOException("request longer than " + MAX_REQUEST + " bytes");
        }
        return bytes;
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException e) {
            // closing anyway
        }
        acceptor.interrupt();
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            // the next agent deletes it before binding
        }
    }
}
