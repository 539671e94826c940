package dev.sluice.agent.core;

import dev.sluice.libbpf.BpfLink;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/**
 * Makes a pod's two tcx links (its veth's ingress and egress) at the same time. Each tcx attach swaps the
 * device's program array and waits for an RCU grace period before it returns (several milliseconds on a busy
 * machine, the largest part of setting up a new pod's datapath); two attaches in flight together wait for the
 * same grace period, so a pod costs one wait per subsystem instead of two.
 */
public final class LinkPair {
    private LinkPair() {
    }

    /** Both links, or neither: if one attach fails, the other link is closed and the failure thrown. */
    public static List<BpfLink> attach(Supplier<BpfLink> first, Supplier<BpfLink> second) {
        CompletableFuture<BpfLink> other = CompletableFuture.supplyAsync(second, Thread::startVirtualThread);
        BpfLink one;
        try {
            one = first.get();
        } catch (RuntimeException e) {
            other.thenAccept(BpfLink::close);
            throw e;
        }
        try {
            return List.of(one, other.join());
        } catch (CompletionException e) {
            one.close();
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }
}
