package dev.sluice.datapath;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * What a test made, undone in reverse order on close; every step runs even if an earlier one fails,
 * and the first failure is thrown with the others suppressed.
 */
public final class Cleanup implements AutoCloseable {
    private final Deque<AutoCloseable> steps = new ArrayDeque<>();

    /** Registers {@code resource} to be closed, and returns it. */
    public <T extends AutoCloseable> T add(T resource) {
        steps.push(resource);
        return resource;
    }

    @Override
    public void close() {
        RuntimeException first = null;
        while (!steps.isEmpty()) {
            try {
                steps.pop().close();
            } catch (Exception e) {
                RuntimeException r = e instanceof RuntimeException re ? re : new RuntimeException(e);
                if (first == null) {
                    first = r;
                } else {
                    first.addSuppressed(r);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
