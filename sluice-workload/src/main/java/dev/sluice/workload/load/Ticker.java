package dev.sluice.workload.load;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The clock and timer a run goes by. The real one is {@link System#nanoTime()} and one timer thread; tests use a
 * simulated one, so that the schedule and the coordinated-omission correction are checked without timing.
 */
public interface Ticker {
    long nanoTime();

    /** Runs {@code task} at {@code atNanos} (at once if that has passed), never on the calling thread's stack. */
    void schedule(long atNanos, Runnable task);

    /** The machine's monotonic clock and a single daemon timer thread (no thread per request or connection). */
    final class SystemTicker implements Ticker, AutoCloseable {
        private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sluice-load-timer");
            t.setDaemon(true);
            return t;
        });

        @Override
        public long nanoTime() {
            return System.nanoTime();
        }

        @Override
        public void schedule(long atNanos, Runnable task) {
            timer.schedule(task, atNanos - System.nanoTime(), TimeUnit.NANOSECONDS);
        }

        /** Runs {@code task} every {@code period} until closed (the progress line). */
        void every(long periodNanos, Runnable task) {
            timer.scheduleAtFixedRate(task, periodNanos, periodNanos, TimeUnit.NANOSECONDS);
        }

        @Override
        public void close() {
            timer.shutdownNow();
        }
    }
}
