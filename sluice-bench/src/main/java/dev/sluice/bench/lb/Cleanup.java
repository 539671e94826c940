package dev.sluice.bench.lb;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * What the benchmark made, undone in reverse order on {@link #close()}: every step runs even if an
 * earlier one fails, and failures are reported, not thrown. A JVM shutdown hook runs it too (Ctrl-C), so
 * namespaces, cgroups, pins and child processes go away whichever way the run ends; it runs once.
 */
public final class Cleanup implements AutoCloseable {
    private final Deque<Step> steps = new ArrayDeque<>();
    private final Thread hook = new Thread(() -> runSteps(true), "lbbench-cleanup");
    private boolean closed;

    public Cleanup() {
        Runtime.getRuntime().addShutdownHook(hook);
    }

    private record Step(String what, AutoCloseable action, boolean atExit) {
    }

    /** Registers {@code action} (described as {@code what}) to run at close. */
    public synchronized void add(String what, AutoCloseable action) {
        add(what, action, true);
    }

    /**
     * Registers a step that only releases this process's own handles (a BPF object, an unpinned link, a
     * file descriptor): the kernel releases those when the process exits, so the shutdown hook skips it
     * rather than free native state a still-running thread may be using.
     */
    public synchronized void addProcessLocal(String what, AutoCloseable action) {
        add(what, action, false);
    }

    private void add(String what, AutoCloseable action, boolean atExit) {
        if (closed) {
            throw new IllegalStateException("cleanup already ran");
        }
        steps.push(new Step(what, action, atExit));
    }

    /** Runs one registered step now (and forgets it), e.g. to drop a pin directory between repetitions. */
    public synchronized void runNow(AutoCloseable action) {
        steps.removeIf(s -> s.action() == action);
        try {
            action.close();
        } catch (Exception e) {
            System.err.println("lbbench: cleanup failed: " + e);
        }
    }

    private synchronized void runSteps(boolean exiting) {
        if (closed) {
            return;
        }
        closed = true;
        while (!steps.isEmpty()) {
            Step step = steps.pop();
            if (exiting && !step.atExit()) {
                continue;
            }
            try {
                step.action().close();
            } catch (Exception e) {
                System.err.println("lbbench: cleanup of " + step.what() + " failed: " + e);
            }
        }
    }

    @Override
    public void close() {
        runSteps(false);
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException ignored) {
            // already shutting down: the hook is running or has run
        }
    }
}
