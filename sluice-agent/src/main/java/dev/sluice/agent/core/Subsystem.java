package dev.sluice.agent.core;

import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.model.cluster.ClusterChange;

import java.util.List;
import java.util.Set;

/**
 * One part of the agent that turns the cluster into kernel state: load balancing, policy, flows (later
 * the L7 proxy, accelerations, encryption). The agent hands each change to the subsystems it concerns, in
 * the order they were registered, and calls {@link #tick} between changes for periodic work.
 *
 * <p>A subsystem owns its maps and links and updates them incrementally: {@link #apply} changes only the
 * entries that differ from what it last wrote. When it cannot apply a change (a full map, a verifier
 * rejection, an object it cannot compile) it throws or reports problems; the agent marks it degraded in
 * status and keeps running, and what the subsystem programmed before stays in force (policy fails closed
 * where it cannot be trusted).
 */
public interface Subsystem extends AutoCloseable {

    /** Its name in status and in failures reported to {@code lab apply}, e.g. "Policy". */
    String name();

    /** Whether {@code change} holds anything this subsystem acts on. The first change (a full sync) concerns every subsystem. */
    boolean concerns(ClusterChange change);

    /**
     * Brings the subsystem's datapath in line with {@code change.view()}.
     *
     * @return what of the view it could not apply, and whether to be given the view again shortly (e.g. a
     *         pod whose interface is not there yet)
     * @throws RuntimeException when it could apply nothing; the agent reports the first line of its message
     */
    Applied apply(ClusterChange change);

    /** Periodic work (garbage collection, counters); called at least every couple of seconds. Must not throw. */
    default void tick(long nowMs) {
    }

    /** Its `Key: value` lines for {@code sluice status}, as of now. */
    List<Line> status();

    /** The features of the values file it provides ("KubeProxyReplacement", "Hubble"…): status says which requested ones run. */
    Set<String> features();

    @Override
    default void close() {
    }

    /**
     * The outcome of one {@link #apply}.
     *
     * @param problems what could not be applied, one sentence each, naming the object (empty when all is in force)
     * @param retry    give this subsystem the same view again soon, even if nothing changes
     */
    record Applied(List<String> problems, boolean retry) {
        public Applied {
            problems = List.copyOf(problems);
        }

        public static Applied ok() {
            return new Applied(List.of(), false);
        }
    }
}
