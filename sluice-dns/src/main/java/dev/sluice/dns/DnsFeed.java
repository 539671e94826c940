package dev.sluice.dns;

import dev.sluice.agent.api.ClusterLayout;
import dev.sluice.agent.api.DnsExchange;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * Reports every answered query to the agent of the querying pod's node (its {@code dnsFeedSocket}), which makes
 * L7 DNS flows of it, as Cilium's DNS proxy does on the client's node. Answering never waits for this: exchanges
 * go through a bounded queue to one sender thread, and what cannot be sent (queue full, no agent listening, a
 * client that is no pod) is counted and dropped, since a flow is worth less than an answer.
 */
public final class DnsFeed implements DnsServer.Listener, AutoCloseable {
    private static final int QUEUE = 4096;
    /** After a failed connect, how long a node's agent is left alone (an agent restarting, or not started yet). */
    private static final long RETRY_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final ClusterLayout layout;
    private final Function<String, String> nodeOf;
    private final String ownAddress;
    private final BlockingQueue<DnsExchange> queue = new ArrayBlockingQueue<>(QUEUE);
    private final Map<String, SocketChannel> connections = new HashMap<>();
    private final Map<String, Long> downUntil = new HashMap<>();
    private final LongAdder sent = new LongAdder();
    private final LongAdder dropped = new LongAdder();
    private volatile boolean closed;
    private final Thread sender;

    /**
     * @param layout the cluster's shared directory (where each node's agent listens)
     * @param nodeOf a client address's node, or null when no pod has it
     */
    public DnsFeed(ClusterLayout layout, Function<String, String> nodeOf) {
        this.layout = layout;
        this.nodeOf = nodeOf;
        this.ownAddress = ownAddress();
        this.sender = Thread.ofPlatform().name("dns-feed").daemon().start(this::send);
    }

    @Override
    public void answered(long startNanos, long latencyNanos, InetSocketAddress client, InetSocketAddress local, String transport,
                         Message answer) {
        String server = local.getAddress().isAnyLocalAddress() ? ownAddress : local.getAddress().getHostAddress();
        if (!queue.offer(exchange(startNanos, latencyNanos, client, server, local.getPort(), transport, answer))) {
            dropped.increment();
        }
    }

    /** What a query asked and its answer held, for the agent. */
    static DnsExchange exchange(long startNanos, long latencyNanos, InetSocketAddress client, String server, int serverPort,
                                String transport, Message answer) {
        Record question = answer.getQuestion();
        List<String> ips = new ArrayList<>();
        List<String> cnames = new ArrayList<>();
        List<String> rrtypes = new ArrayList<>();
        long ttl = -1;
        for (Record r : answer.getSection(Section.ANSWER)) {
            String type = Type.string(r.getType());
            if (!rrtypes.contains(type)) {
                rrtypes.add(type);
            }
            if (r instanceof ARecord a) {
                ips.add(a.getAddress().getHostAddress());
            } else if (r instanceof CNAMERecord c) {
                cnames.add(c.getTarget().toString());
            }
            ttl = ttl < 0 ? r.getTTL() : Math.min(ttl, r.getTTL());
        }
        return new DnsExchange(startNanos, latencyNanos, client.getAddress().getHostAddress(), client.getPort(), server, serverPort,
                transport, question == null ? "" : question.getName().toString(),
                question == null ? "" : Type.string(question.getType()), answer.getRcode(), ips, Math.max(ttl, 0), cnames, rrtypes);
    }

    private void send() {
        while (!closed) {
            DnsExchange e;
            try {
                e = queue.poll(1, TimeUnit.SECONDS);
            } catch (InterruptedException ie) {
                return;
            }
            if (e == null) {
                continue;
            }
            String node = nodeOf.apply(e.client());
            if (node == null || !write(node, e)) {
                dropped.increment();
            } else {
                sent.increment();
            }
        }
    }

    private boolean write(String node, DnsExchange e) {
        SocketChannel ch = connections.get(node);
        if (ch == null) {
            Long until = downUntil.get(node);
            if (until != null && System.nanoTime() - until < 0) {
                return false;
            }
            try {
                ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                ch.connect(UnixDomainSocketAddress.of(layout.node(node).dnsFeedSocket()));
                connections.put(node, ch);
                downUntil.remove(node);
            } catch (IOException | UnsupportedOperationException ex) {
                close(ch);
                downUntil.put(node, System.nanoTime() + RETRY_NANOS);
                return false;
            }
        }
        try {
            ByteBuffer line = ByteBuffer.wrap((e.toJsonLine() + "\n").getBytes(StandardCharsets.UTF_8));
            while (line.hasRemaining()) {
                ch.write(line);
            }
            return true;
        } catch (IOException ex) {
            close(ch); // the agent went away: connect again on the next exchange
            connections.remove(node);
            return false;
        }
    }

    /** Exchanges handed to an agent, and those dropped. */
    public long sent() {
        return sent.sum();
    }

    public long dropped() {
        return dropped.sum();
    }

    private static void close(SocketChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing a broken connection
            }
        }
    }

    /** The pod's address (its one non-loopback IPv4), for answers to queries that arrived on the wildcard address. */
    private static String ownAddress() {
        try {
            for (NetworkInterface ni : NetworkInterface.networkInterfaces().toList()) {
                for (InetAddress a : ni.inetAddresses().toList()) {
                    if (a instanceof Inet4Address && !a.isLoopbackAddress()) {
                        return a.getHostAddress();
                    }
                }
            }
        } catch (SocketException e) {
            // fall through: flows then name no server pod
        }
        return "";
    }

    @Override
    public void close() {
        closed = true;
        sender.interrupt();
        connections.values().forEach(DnsFeed::close);
    }
}
