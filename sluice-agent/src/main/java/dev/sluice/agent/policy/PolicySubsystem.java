package dev.sluice.agent.policy;

import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.agent.core.Subsystem;
import dev.sluice.linux.Libc;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import dev.sluice.model.cluster.ClusterView;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Network policy: policies, pods, namespaces and nodes in; identities, the ipcache, the endpoints map and
 * the policy entries out, and the policy programs on every local pod's veth. Collects expired conntrack
 * entries every few seconds.
 */
public final class PolicySubsystem implements Subsystem {
    static final long CT_COLLECTION_INTERVAL_MS = 5_000;
    /** How often identities unused past their grace period are released while nothing changes. */
    static final long IDENTITY_GC_INTERVAL_MS = 60_000;

    private final String node;
    private final PolicyAgent agent;
    private final PolicyDatapath datapath;
    private volatile PolicyAgent.Result result;
    private volatile PolicyDatapath.Conntrack conntrack = PolicyDatapath.Conntrack.NONE;
    private long collectedTotal;
    private long nextCollection;
    private long nextIdentityGc;

    private java.util.function.Supplier<java.util.Set<String>> proxied = java.util.Set::of;
    private java.util.Set<String> appliedProxied = java.util.Set.of();

    /** The pods' ip:ports the node proxies forward to, as the L7 subsystem (which runs first) last computed them. */
    public void proxiedFrom(java.util.function.Supplier<java.util.Set<String>> proxied) {
        this.proxied = proxied;
    }

    public PolicySubsystem(String node, PolicyAgent agent, PolicyDatapath datapath) {
        this.node = node;
        this.agent = agent;
        this.datapath = datapath;
    }

    @Override
    public String name() {
        return "Policy";
    }

    @Override
    public boolean concerns(ClusterChange change) {
        return change.touches(Kind.POD, Kind.NAMESPACE, Kind.NODE, Kind.OBJECT) || !proxied.get().equals(appliedProxied);
    }

    @Override
    public Applied apply(ClusterChange change) {
        java.util.Set<String> targets = proxied.get();
        PolicyAgent.Result r = agent.sync(change.view(), targets);
        appliedProxied = targets;
        result = r;
        List<String> problems = new ArrayList<>(r.errors());
        if (!r.failClosed().isEmpty()) {
            problems.add("the policy map is full: " + r.failClosed() + " fail closed (every new connection dropped)");
        }
        boolean missingVeth = change.view().podsOn(node).stream().anyMatch(p -> Libc.ifNameToIndex(p.hostInterface()) <= 0);
        return new Applied(problems, missingVeth);
    }

    @Override
    public void tick(long nowMs) {
        if (nowMs >= nextIdentityGc) {
            nextIdentityGc = nowMs + IDENTITY_GC_INTERVAL_MS;
            try {
                agent.collectIdentities();
            } catch (RuntimeException e) {
                System.out.println("agent: identity garbage collection failed: " + e.getMessage());
            }
        }
        if (nowMs < nextCollection) {
            return;
        }
        nextCollection = nowMs + CT_COLLECTION_INTERVAL_MS;
        try {
            PolicyDatapath.Conntrack c = datapath.collectExpired();
            collectedTotal += c.collected();
            conntrack = c;
        } catch (RuntimeException e) {
            System.out.println("agent: conntrack collection failed: " + e.getMessage());
        }
    }

    /** The last sync's result (identities, entries), or null before the first. */
    public PolicyAgent.Result result() {
        return result;
    }

    public PolicyAgent agent() {
        return agent;
    }

    public PolicyDatapath datapath() {
        return datapath;
    }

    public PolicyDatapath.Conntrack conntrack() {
        return conntrack;
    }

    @Override
    public List<Line> status() {
        List<Line> lines = new ArrayList<>();
        PolicyAgent.Result r = result;
        if (r != null) {
            lines.add(new Line("Policy", r.policies() + " policies in force, enforced on " + r.enforcing()
                    + " of " + r.endpoints() + " local endpoint(s), " + r.entries() + " map entries, "
                    + r.identities() + " identities; tcx on " + datapath.attachedVeths() + " pod veth(s)"
                    + (r.failClosed().isEmpty() ? "" : "; FAIL CLOSED (the policy map is full): " + r.failClosed())
                    + (r.errors().isEmpty() ? "" : "; REJECTED: " + String.join("; ", r.errors()))));
        }
        // The datapath is IPv4 only: say so, rather than let a dual-stack pod look protected.
        lines.add(new Line("IPv6", "not enforced: IPv6 is dropped on endpoints with enforcement (fail closed), passed untouched elsewhere"));
        PolicyDatapath.Conntrack c = conntrack;
        lines.add(new Line("Conntrack", "ct4_policy " + c.established() + " established of " + c.establishedCapacity()
                + String.format(java.util.Locale.ROOT, " (%.0f %% full)", 100 * c.establishedPressure()) + ", ct4_policy_new " + c.fresh()
                + " new (not yet answered) of " + c.freshCapacity() + String.format(java.util.Locale.ROOT, " (%.0f %% full", 100 * c.freshPressure())
                + (c.freshPressure() >= 0.9 ? ": new flows are evicting each other, a flood? established flows are not affected)" : ")")
                + "; " + collectedTotal + " expired entries collected since start (every " + CT_COLLECTION_INTERVAL_MS / 1000 + " s)"
                + (c.policyDenied() == 0 ? "" : "; " + c.policyDenied() + " established flow(s) cut by a policy change (entries kept,"
                        + " marked PolicyDenied, until a change allows them or they expire)")
                + quotaStatus(c)));
        return lines;
    }

    /**
     * The per-endpoint bound on ct4_policy: the three endpoints holding most of it, and those at their limit (their
     * answered flows beyond it stay in ct4_policy_new), by pod.
     */
    private String quotaStatus(PolicyDatapath.Conntrack c) {
        StringBuilder b = new StringBuilder("; per-endpoint limit ").append(dev.sluice.datapath.policy.PolicyStructs.CT4_ENDPOINT_QUOTA)
                .append(" established");
        String most = c.quotas().entrySet().stream().filter(e -> e.getValue().established() > 0)
                .sorted(java.util.Comparator.comparingInt((java.util.Map.Entry<Integer, dev.sluice.datapath.policy.PolicyStructs.Ct4Quota> e)
                        -> e.getValue().established()).reversed().thenComparing(e -> agent.podOf(e.getKey())))
                .limit(3).map(e -> agent.podOf(e.getKey()) + " (" + e.getValue().established() + ")")
                .collect(java.util.stream.Collectors.joining(", "));
        if (!most.isEmpty()) {
            b.append(", most held by ").append(most);
        }
        var atLimit = c.atLimit();
        if (!atLimit.isEmpty()) {
            b.append("; AT LIMIT (their new answered flows stay in ct4_policy_new): ");
            b.append(atLimit.entrySet().stream().map(e -> agent.podOf(e.getKey()) + " " + e.getValue().established() + "/"
                    + e.getValue().effectiveLimit()).collect(java.util.stream.Collectors.joining(", ")));
        }
        if (c.refused() > 0) {
            b.append("; ").append(c.refused()).append(" flows refused a place in ct4_policy since start");
        }
        return b.toString();
    }

    @Override
    public Set<String> features() {
        return Set.of();
    }

    @Override
    public void close() {
        datapath.close();
    }
}
