package dev.sluice.observe.relay;

import dev.sluice.hubble.observer.ObserverGrpc;
import dev.sluice.hubble.observer.ServerStatusRequest;
import dev.sluice.hubble.observer.ServerStatusResponse;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;

import java.util.concurrent.TimeUnit;

/**
 * One node as the relay knows it: its Observer API's address (a unix socket of the lab), the channel to it, and
 * whether it answered the last time it was asked.
 */
final class NodeClient implements AutoCloseable {
    /** How long the relay waits for a node's ServerStatus before it counts the node unavailable. */
    static final long STATUS_DEADLINE_MS = 1500;

    private final String name;
    private final String address;
    private final ManagedChannel channel;
    private volatile boolean available;
    private volatile String problem = "not asked yet";

    NodeClient(String name, String address) {
        this.name = name;
        this.address = address;
        this.channel = Grpc.newChannelBuilder(target(address), InsecureChannelCredentials.create()).build();
    }

    static String target(String address) {
        return address.startsWith("unix:") || address.contains("://") ? address : "dns:///" + address;
    }

    String name() {
        return name;
    }

    String address() {
        return address;
    }

    ManagedChannel channel() {
        return channel;
    }

    boolean available() {
        return available;
    }

    String problem() {
        return problem;
    }

    ObserverGrpc.ObserverBlockingStub observer() {
        return ObserverGrpc.newBlockingStub(channel);
    }

    /** Asks the node for its status; records whether it answered. */
    ServerStatusResponse status() {
        try {
            ServerStatusResponse status = observer().withDeadlineAfter(STATUS_DEADLINE_MS, TimeUnit.MILLISECONDS)
                    .serverStatus(ServerStatusRequest.getDefaultInstance());
            available = true;
            problem = null;
            return status;
        } catch (StatusRuntimeException e) {
            available = false;
            problem = e.getStatus().getCode() + (e.getStatus().getDescription() == null ? "" : ": " + e.getStatus().getDescription());
            return null;
        }
    }

    void unavailable(String why) {
        available = false;
        problem = why;
    }

    @Override
    public void close() {
        channel.shutdownNow();
    }
}
