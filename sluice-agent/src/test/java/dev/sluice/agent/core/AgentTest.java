package dev.sluice.agent.core;

import dev.sluice.agent.api.AgentStatus.Failure;
import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import dev.sluice.model.cluster.ClusterSource;
import dev.sluice.model.cluster.ClusterView;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The agent loop's contract with its subsystems, on a scripted source: who gets which change, and what a failure does. */
class AgentTest {

    /** Hands out scripted changes ({@code null} = nothing changed in time), then reports the cluster gone. */
    private static final class ScriptedSource implements ClusterSource {
        private final Deque<Optional<ClusterChange>> script = new ArrayDeque<>();
        final List<Long> timeouts = new ArrayList<>();

        ScriptedSource then(ClusterChange change) {
            script.add(Optional.ofNullable(change));
            return this;
        }

        @Override
        public Optional<ClusterChange> next(long timeoutMs) {
            timeouts.add(timeoutMs);
            if (script.isEmpty()) {
                throw new Gone("the script is over");
            }
            return script.poll();
        }

        @Override
        public void close() {
        }
    }

    /** Records the versions it was given; fails (or asks to retry) as told. */
    private static final class Recorder implements Subsystem {
        private final String name;
        private final Set<Kind> kinds;
        final List<Long> applied = new ArrayList<>();
        RuntimeException failWith;
        List<String> problems = List.of();
        boolean retry;
        int ticks;

        Recorder(String name, Kind... kinds) {
            this.name = name;
            this.kinds = Set.of(kinds);
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public boolean concerns(ClusterChange change) {
            return change.kinds().stream().anyMatch(kinds::contains);
        }

        @Override
        public Applied apply(ClusterChange change) {
            applied.add(change.version());
            if (failWith != null) {
                throw failWith;
            }
            return new Applied(problems, retry);
        }

        @Override
        public void tick(long nowMs) {
            ticks++;
        }

        @Override
        public List<Line> status() {
            return List.of(new Line(name, "Ok"), new Line(name + " detail", "fine"));
        }

        @Override
        public Set<String> features() {
            return Set.of(name);
        }
    }

    private static ClusterChange change(long version, ClusterEvent... events) {
        return new ClusterChange(version, List.of(events), ClusterView.empty());
    }

    private static ClusterChange initial() {
        return change(1, new ClusterEvent.Synced());
    }

    @Test
    void eachChangeReachesOnlyTheSubsystemsItConcerns() throws InterruptedException {
        Recorder lb = new Recorder("Services", Kind.SERVICE, Kind.POD);
        Recorder policy = new Recorder("Policy", Kind.OBJECT, Kind.POD);
        ScriptedSource source = new ScriptedSource().then(initial())
                .then(change(2, new ClusterEvent.Upserted(Kind.SERVICE, "default/web")))
                .then(change(3, new ClusterEvent.Upserted(Kind.OBJECT, "CiliumNetworkPolicy default/p")))
                .then(null)
                .then(change(4, new ClusterEvent.Deleted(Kind.POD, "default/a")));
        List<Agent.Report> reports = new ArrayList<>();
        new Agent(source, List.of(lb, policy), reports::add).run();

        assertEquals(List.of(1L, 2L, 4L), lb.applied);
        assertEquals(List.of(1L, 3L, 4L), policy.applied);
        assertEquals(5, reports.size(), "a report after every change and every heartbeat");
        assertEquals(4, reports.getLast().change().version());
        assertEquals(3, reports.getLast().latency().count(), "every change after the initial sync is timed");
        assertEquals(5, lb.ticks);
        assertEquals(List.of(Agent.HEARTBEAT_MS), source.timeouts.stream().distinct().toList(), "idle: no retry timer");
    }

    @Test
    void aFailingSubsystemIsDegradedWhileTheOthersGoOnAndItIsRetriedOnTheNextChange() throws InterruptedException {
        Recorder lb = new Recorder("Services", Kind.SERVICE);
        Recorder policy = new Recorder("Policy", Kind.OBJECT);
        lb.failWith = new IllegalStateException("bpf_map_update_elem(lb4_services): E2BIG\nmore detail");
        List<Agent.Report> reports = new ArrayList<>();
        Agent agent = new Agent(new ScriptedSource(), List.of(lb, policy), reports::add);

        agent.step(initial());
        Agent.Report failed = agent.report();
        assertEquals(List.of(new Failure("Services", "bpf_map_update_elem(lb4_services): E2BIG")), failed.failures());
        assertEquals(new Line("Services", "Degraded: bpf_map_update_elem(lb4_services): E2BIG (what was programmed before stays in force)"),
                failed.lines().getFirst());
        assertTrue(failed.lines().contains(new Line("Services detail", "fine")), "its other lines stay: " + failed.lines());
        assertTrue(failed.lines().contains(new Line("Policy", "Ok")));
        assertEquals(Set.of("Services", "Policy"), failed.features());

        // A policy change does not concern load balancing, but a failed subsystem is given every change.
        lb.failWith = null;
        agent.step(change(2, new ClusterEvent.Upserted(Kind.OBJECT, "CiliumNetworkPolicy default/p")));
        assertEquals(List.of(1L, 2L), lb.applied);
        assertEquals(List.of(), agent.report().failures());
        assertEquals(new Line("Services", "Ok"), agent.report().lines().getFirst());
    }

    @Test
    void problemsAreReportedAsFailuresWithoutDegradingTheSubsystem() {
        Recorder policy = new Recorder("Policy", Kind.OBJECT);
        policy.problems = List.of("CiliumNetworkPolicy default/bad: spec.endpointSelector is required (the last good version stays in force)");
        Agent agent = new Agent(new ScriptedSource(), List.of(policy), r -> { });
        agent.step(initial());
        assertEquals(List.of(new Failure("Policy", policy.problems.getFirst())), agent.report().failures());
        assertEquals(new Line("Policy", "Ok"), agent.report().lines().getFirst());
    }

    @Test
    void aSubsystemThatAsksToRetryGetsTheSameViewAgainWithoutAChange() throws InterruptedException {
        Recorder lb = new Recorder("Services", Kind.POD);
        Recorder policy = new Recorder("Policy", Kind.OBJECT);
        lb.retry = true;
        ScriptedSource source = new ScriptedSource().then(initial()).then(null).then(null);
        new Agent(source, List.of(lb, policy), r -> { }).run();
        assertEquals(List.of(1L, 1L, 1L), lb.applied, "retried at each short wait");
        assertEquals(List.of(1L), policy.applied, "the others are not bothered");
        assertEquals(Agent.RETRY_MS, source.timeouts.get(1));
    }
}
