package dev.sluice.agent.core;

import dev.sluice.agent.api.AgentStatus;
import dev.sluice.agent.api.AgentStatus.Failure;
import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent;
import dev.sluice.model.cluster.ClusterSource;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The agent's loop: waits for the next change of its cluster source, hands it to the subsystems it
 * concerns, runs their periodic work and publishes status. Nothing is recomputed while nothing changes;
 * a subsystem that fails is reported degraded and the loop goes on.
 */
public final class Agent {
    /** How often an idle agent writes its status, as a heartbeat, and ticks its subsystems. */
    static final long HEARTBEAT_MS = 2_000;
    /** How soon a subsystem that asked to retry (a pod's interface not there yet) gets the view again. */
    static final long RETRY_MS = 100;
    /** A change that takes longer is logged with the time each subsystem took. */
    private static final long SLOW_CHANGE_NS = 20_000_000;

    private final ClusterSource source;
    private final List<Subsystem> subsystems;
    private final Consumer<Report> publish;
    private final Map<Subsystem, Outcome> outcomes = new LinkedHashMap<>();
    private final ChangeLatency latency = new ChangeLatency();
    private ClusterChange current;

    /**
     * What the agent publishes after every change and heartbeat.
     *
     * @param change   the change last applied (its version and view), null before the first
     * @param lines    every subsystem's status lines, a degraded subsystem's reason first
     * @param failures what of {@code change} did not apply, by subsystem
     * @param features the features the running subsystems provide
     */
    public record Report(ClusterChange change, List<Line> lines, List<Failure> failures, Set<String> features, ChangeLatency latency) {
    }

    /** The last apply of one subsystem: its problems, or the reason it failed as a whole. */
    private record Outcome(List<String> problems, String failed, boolean retry) {
    }

    public Agent(ClusterSource source, List<Subsystem> subsystems, Consumer<Report> publish) {
        this.source = source;
        this.subsystems = List.copyOf(subsystems);
        this.publish = publish;
    }

    /** Runs until the source reports the cluster gone (or the thread is interrupted). */
    public void run() throws InterruptedException {
        while (true) {
            Optional<ClusterChange> next;
            try {
                next = source.next(retrying() ? RETRY_MS : HEARTBEAT_MS);
            } catch (ClusterSource.Gone gone) {
                System.out.println("agent: " + gone.getMessage() + "; stopping");
                return;
            }
            if (next.isPresent()) {
                step(next.get());
            } else if (retrying()) {
                retry();
            }
            tick(System.currentTimeMillis());
            publish.accept(report());
        }
    }

    /** Applies one change: every concerned subsystem, and every subsystem waiting to retry, gets it. */
    public void step(ClusterChange change) {
        long received = change.receivedNanos();
        boolean first = current == null;
        current = change;
        StringBuilder spent = new StringBuilder();
        for (Subsystem s : subsystems) {
            Outcome last = outcomes.get(s);
            if (first || s.concerns(change) || (last != null && (last.retry() || last.failed() != null))) {
                long t = System.nanoTime();
                apply(s, change);
                spent.append(spent.isEmpty() ? "" : ", ").append(s.name()).append(' ').append((System.nanoTime() - t) / 1_000_000).append(" ms");
            }
        }
        long elapsed = System.nanoTime() - received;
        if (!first && change.events().stream().noneMatch(e -> e instanceof ClusterEvent.Synced)) {
            latency.record(change, elapsed);
        }
        if (elapsed >= SLOW_CHANGE_NS) {
            System.out.println("agent: change " + change.version() + " (" + change.events().size() + " event(s)) applied in "
                    + elapsed / 1_000_000 + " ms: " + spent);
        }
    }

    private void retry() {
        ClusterChange again = current.resync();
        for (Subsystem s : subsystems) {
            Outcome last = outcomes.get(s);
            if (last != null && last.retry()) {
                apply(s, again);
            }
        }
    }

    private void apply(Subsystem s, ClusterChange change) {
        Outcome before = outcomes.get(s);
        Outcome now;
        try {
            Subsystem.Applied applied = s.apply(change);
            now = new Outcome(applied.problems(), null, applied.retry());
        } catch (RuntimeException e) {
            String reason = String.valueOf(e.getMessage()).lines().findFirst().orElse(e.toString());
            // Retried on the next change: whatever it programmed before stays in force meanwhile.
            now = new Outcome(List.of(), reason, false);
        }
        if (before == null || !before.equals(now)) {
            if (now.failed() != null) {
                System.out.println("agent: " + s.name() + " failed: " + now.failed());
            }
            now.problems().forEach(p -> System.out.println("agent: " + s.name() + ": " + p));
        }
        outcomes.put(s, now);
    }

    private void tick(long nowMs) {
        for (Subsystem s : subsystems) {
            try {
                s.tick(nowMs);
            } catch (RuntimeException e) {
                System.out.println("agent: " + s.name() + " periodic work failed: " + e.getMessage());
            }
        }
    }

    private boolean retrying() {
        return outcomes.values().stream().anyMatch(Outcome::retry);
    }

    /** Status as of now. */
    public Report report() {
        List<Line> lines = new ArrayList<>();
        List<Failure> failures = new ArrayList<>();
        Set<String> features = new HashSet<>();
        for (Subsystem s : subsystems) {
            Outcome o = outcomes.get(s);
            features.addAll(s.features());
            if (o != null && o.failed() != null) {
                lines.add(new Line(s.name(), "Degraded: " + o.failed() + " (what was programmed before stays in force)"));
                failures.add(new Failure(s.name(), o.failed()));
                s.status().stream().filter(l -> !l.key().equals(s.name())).forEach(lines::add);
            } else {
                lines.addAll(s.status());
            }
            if (o != null) {
                o.problems().forEach(p -> failures.add(new Failure(s.name(), p)));
            }
        }
        return new Report(current, lines, failures, features, latency);
    }
}
