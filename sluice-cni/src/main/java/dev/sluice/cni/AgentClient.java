package dev.sluice.cni;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/** The plugin's side of the agent's CNI socket ({@link AgentMessages}). */
public final class AgentClient {
    private final Path socket;

    public AgentClient(Path socket) {
        this.socket = socket;
    }

    /**
     * One request and its reply. An agent that cannot be reached is error 11 (try again later): on a node whose agent
     * is starting or restarting, the runtime retries.
     */
    public AgentMessages.Reply call(AgentMessages.Request request) {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            try {
                ch.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                throw new CniError(CniError.TRY_AGAIN_LATER, "the Sluice agent does not answer on " + socket + " ("
                        + e.getMessage() + "); is it running on this node?");
            }
            byte[] line = Json.write(request.toMap());
            ByteBuffer out = ByteBuffer.allocate(line.length + 1).put(line).put((byte) '\n').flip();
            while (out.hasRemaining()) {
                ch.write(out);
            }
            ch.shutdownOutput();
            ByteArrayOutputStream reply = new ByteArrayOutputStream();
            Channels.newInputStream(ch).transferTo(reply);
            if (reply.size() == 0) {
                throw new CniError(CniError.TRY_AGAIN_LATER, "the Sluice agent on " + socket + " closed the connection without an answer");
            }
            return AgentMessages.Reply.fromMap(Json.parse(reply.toByteArray()));
        } catch (IOException e) {
            throw new CniError(CniError.TRY_AGAIN_LATER, "talking to the Sluice agent on " + socket + " failed: " + e.getMessage());
        }
    }

    /** The reply if ok, else its error as the plugin's error. */
    public AgentMessages.Endpoint require(AgentMessages.Request request) {
        AgentMessages.Reply reply = call(request);
        if (!reply.ok()) {
            throw new CniError(reply.code() == 0 ? CniError.TRY_AGAIN_LATER : reply.code(), reply.msg());
        }
        return reply.endpoint();
    }
}
