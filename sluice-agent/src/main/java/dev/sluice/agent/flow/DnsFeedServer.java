package dev.sluice.agent.flow;

import dev.sluice.agent.api.DnsExchange;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * Where the cluster DNS server reports the node's pods' queries ({@code NodeLayout.dnsFeedSocket()}): one
 * {@link DnsExchange} JSON line each, on a unix socket in the cluster's directory (the DNS pod shares the machine's
 * files, not the node's network). A line that is not an exchange is counted and skipped, never ends the connection's
 * reader, and never reaches the flows.
 */
public final class DnsFeedServer implements AutoCloseable {
    private final Path socket;
    private final ServerSocketChannel server;
    private final Consumer<DnsExchange> sink;
    private final LongAdder exchanges = new LongAdder();
    private final LongAdder badLines = new LongAdder();
    private volatile String lastProblem;

    private DnsFeedServer(Path socket, ServerSocketChannel server, Consumer<DnsExchange> sink) {
        this.socket = socket;
        this.server = server;
        this.sink = sink;
    }

    public static DnsFeedServer start(Path socket, Consumer<DnsExchange> sink) throws IOException {
        Files.createDirectories(socket.getParent());
        Files.deleteIfExists(socket); // a previous agent's; connecting to it would fail anyway
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        DnsFeedServer self = new DnsFeedServer(socket, server, sink);
        Thread.ofPlatform().name("dns-feed-accept").daemon().start(self::accept);
        return self;
    }

    private void accept() {
        while (server.isOpen()) {
            try {
                SocketChannel ch = server.accept();
                Thread.ofVirtual().name("dns-feed").start(() -> read(ch));
            } catch (IOException e) {
                if (server.isOpen()) {
                    lastProblem = "accept: " + e.getMessage();
                }
            }
        }
    }

    private void read(SocketChannel ch) {
        try (ch; BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                DnsExchange e;
                try {
                    e = DnsExchange.parse(line);
                } catch (IllegalArgumentException bad) {
                    badLines.increment();
                    lastProblem = bad.getMessage();
                    continue;
                }
                exchanges.increment();
                sink.accept(e);
            }
        } catch (IOException | RuntimeException e) {
            lastProblem = "reading the DNS feed: " + e.getMessage();
        }
    }

    public Path socket() {
        return socket;
    }

    public long exchanges() {
        return exchanges.sum();
    }

    public long badLines() {
        return badLines.sum();
    }

    /** The last line or connection that could not be read, or null. */
    public String lastProblem() {
        return lastProblem;
    }

    @Override
    public void close() {
        try {
            server.close();
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            // the socket file is removed with the lab's directory
        }
    }
}
