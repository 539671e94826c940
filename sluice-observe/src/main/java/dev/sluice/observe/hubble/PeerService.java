package dev.sluice.observe.hubble;

import dev.sluice.hubble.peer.ChangeNotification;
import dev.sluice.hubble.peer.ChangeNotificationType;
import dev.sluice.hubble.peer.NotifyRequest;
import dev.sluice.hubble.peer.PeerGrpc;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;

/**
 * Hubble's {@code peer.Peer} on an agent: every node of the cluster with the address of its Observer API, then
 * each node that comes or goes, which is how Hubble Relay (and {@code sluice relay}) finds the nodes. The agent
 * sets the peers each round from its picture of the cluster.
 */
public final class PeerService extends PeerGrpc.PeerImplBase {
    /** How often a Notify stream compares the peers with what it last sent. */
    private static final Duration POLL = Duration.ofMillis(200);

    private volatile Map<String, String> peers = Map.of();

    /** @param peers node name to the address of its Observer API ({@code unix:///...sock}) */
    public void peers(Map<String, String> peers) {
        this.peers = Map.copyOf(peers);
    }

    public Map<String, String> peers() {
        return peers;
    }

    @Override
    public void notify(NotifyRequest request, StreamObserver<ChangeNotification> response) {
        ServerCallStreamObserver<ChangeNotification> call = (ServerCallStreamObserver<ChangeNotification>) response;
        Thread sender = Thread.ofVirtual().name("peer-notify").unstarted(() -> stream(call));
        call.setOnCancelHandler(() -> LockSupport.unpark(sender));
        sender.start();
    }

    private void stream(ServerCallStreamObserver<ChangeNotification> call) {
        Map<String, String> sent = new HashMap<>();
        try {
            while (!call.isCancelled()) {
                Map<String, String> now = peers;
                for (var e : now.entrySet()) {
                    String before = sent.get(e.getKey());
                    if (!Objects.equals(before, e.getValue())) {
                        call.onNext(change(e.getKey(), e.getValue(), before == null ? ChangeNotificationType.PEER_ADDED
                                : ChangeNotificationType.PEER_UPDATED));
                    }
                }
                for (var e : Map.copyOf(sent).entrySet()) {
                    if (!now.containsKey(e.getKey())) {
                        call.onNext(change(e.getKey(), e.getValue(), ChangeNotificationType.PEER_DELETED));
                    }
                }
                sent = new HashMap<>(now);
                LockSupport.parkNanos(POLL.toNanos());
            }
        } catch (RuntimeException e) {
            // The client went away while a change was being sent; nothing is left to tell it.
            if (!call.isCancelled()) {
                throw e;
            }
        }
    }

    private static ChangeNotification change(String name, String address, ChangeNotificationType type) {
        return ChangeNotification.newBuilder().setName(name).setAddress(address).setType(type).build();
    }
}
