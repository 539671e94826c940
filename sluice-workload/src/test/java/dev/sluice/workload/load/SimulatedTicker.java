package dev.sluice.workload.load;

import java.util.PriorityQueue;

/** A clock that only moves when the next timer task runs: runs are replayed exactly, with no real waiting. */
final class SimulatedTicker implements Ticker {
    private record Task(long at, long seq, Runnable run) {
    }

    private final PriorityQueue<Task> tasks = new PriorityQueue<>((a, b) -> a.at != b.at ? Long.compare(a.at, b.at) : Long.compare(a.seq, b.seq));
    private long now;
    private long seq;

    SimulatedTicker(long start) {
        this.now = start;
    }

    @Override
    public long nanoTime() {
        return now;
    }

    @Override
    public void schedule(long atNanos, Runnable task) {
        tasks.add(new Task(Math.max(atNanos, now), seq++, task));
    }

    /** Runs every task, moving the clock to each one's time. */
    void runAll() {
        Task t;
        while ((t = tasks.poll()) != null) {
            now = t.at;
            t.run.run();
        }
    }
}
