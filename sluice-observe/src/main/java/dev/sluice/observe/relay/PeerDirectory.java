package dev.sluice.observe.relay;

import dev.sluice.hubble.peer.ChangeNotification;
import dev.sluice.hubble.peer.NotifyRequest;
import dev.sluice.hubble.peer.PeerGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The nodes, as Hubble Relay finds them: through the peer service ({@code peer.Peer/Notify}) of an agent. Any
 * of the given peer services will do; when the one in use goes away the next is tried, so a dead node does not
 * leave the relay blind. Each node's availability is checked every second with its ServerStatus.
 */
final class PeerDirectory implements AutoCloseable {
    private static final long RETRY_MS = 1000;

    private final List<String> peerServices;
    private final Map<String, NodeClient> nodes = new ConcurrentHashMap<>();
    private final Consumer<String> log;
    private volatile boolean closed;
    private volatile String peerProblem = "no peer service asked yet";
    private final Thread notifier;
    private final Thread checker;

    PeerDirectory(List<String> peerServices, Consumer<String> log) {
        this.peerServices = List.copyOf(peerServices);
        this.log = log;
        this.notifier = Thread.ofPlatform().daemon().name("relay-peers").start(this::notifyLoop);
        this.checker = Thread.ofPlatform().daemon().name("relay-health").start(this::checkLoop);
    }

    /** The nodes known now, by name. */
    Map<String, NodeClient> nodes() {
        return Map.copyOf(nodes);
    }

    /** Why no peer service answers, or null while one does. */
    String peerProblem() {
        return peerProblem;
    }

    private void notifyLoop() {
        int next = 0;
        while (!closed) {
            String address = peerServices.get(next % peerServices.size());
            next++;
            ManagedChannel channel = Grpc.newChannelBuilder(NodeClient.target(address), InsecureChannelCredentials.create()).build();
            try {
                var changes = PeerGrpc.newBlockingStub(channel).notify(NotifyRequest.getDefaultInstance());
                while (!closed && changes.hasNext()) {
                    peerProblem = null;
                    apply(changes.next());
                }
            } catch (StatusRuntimeException e) {
                if (!closed) {
                    peerProblem = "peer service " + address + ": " + e.getStatus().getCode();
                }
            } finally {
                channel.shutdownNow();
            }
            sleep(RETRY_MS);
        }
    }

    private void apply(ChangeNotification change) {
        switch (change.getType()) {
            case PEER_ADDED, PEER_UPDATED -> {
                NodeClient known = nodes.get(change.getName());
                if (known == null || !known.address().equals(change.getAddress())) {
                    NodeClient client = new NodeClient(change.getName(), change.getAddress());
                    NodeClient old = nodes.put(change.getName(), client);
                    if (old != null) {
                        old.close();
                    }
                    client.status();
                    log.accept("peer " + change.getName() + " at " + change.getAddress() + (client.available() ? "" : " (not answering: " + client.problem() + ")"));
                }
            }
            case PEER_DELETED -> {
                NodeClient gone = nodes.remove(change.getName());
                if (gone != null) {
                    gone.close();
                    log.accept("peer " + change.getName() + " left");
                }
            }
            default -> { }
        }
    }

    private void checkLoop() {
        while (!closed) {
            for (NodeClient node : nodes.values()) {
                boolean before = node.available();
                node.status();
                if (before != node.available()) {
                    log.accept("node " + node.name() + (node.available() ? " is available again" : " is unavailable: " + node.problem()));
                }
            }
            sleep(RETRY_MS);
        }
    }

    /** Waits until at least {@code count} nodes are known, or the timeout passes. */
    boolean awaitNodes(int count, long timeoutMs) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (nodes.size() < count && System.nanoTime() < deadline) {
            sleep(50);
        }
        return nodes.size() >= count;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true;
        notifier.interrupt();
        checker.interrupt();
        nodes.values().forEach(NodeClient::close);
    }
}
