package dev.sluice.agent.flow;

import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.agent.core.Subsystem;
import dev.sluice.agent.lb.LbSubsystem;
import dev.sluice.agent.policy.PolicyAgent;
import dev.sluice.agent.policy.PolicySubsystem;
import dev.sluice.datapath.lb.Frontend;
import dev.sluice.model.SluiceValues;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterView;
import dev.sluice.observe.metrics.AgentMetrics.MapFill;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Flows: reads the datapath's flow events, names their parties from the cluster view and the other
 * subsystems' results (identities, Services, policy rules), and serves them (Observer API, metrics).
 * Runs after load balancing and policy, whose results it names flows with.
 */
public final class FlowSubsystem implements Subsystem {
    private final Observability observability;
    private final SluiceValues.Hubble hubble;
    private final PolicySubsystem policy;
    private final LbSubsystem lb;
    private ClusterChange last;

    /** @param lb null when load balancing is off */
    public FlowSubsystem(Observability observability, SluiceValues.Hubble hubble, PolicySubsystem policy, LbSubsystem lb) {
        this.observability = observability;
        this.hubble = hubble;
        this.policy = policy;
        this.lb = lb;
    }

    @Override
    public String name() {
        return "Hubble";
    }

    @Override
    public boolean concerns(ClusterChange change) {
        return !change.events().isEmpty(); // any object may name a flow's party
    }

    @Override
    public Applied apply(ClusterChange change) {
        last = change;
        update();
        return Applied.ok();
    }

    @Override
    public void tick(long nowMs) {
        update(); // health gauges, lost events and the flow rate; the names only move with the version
    }

    private void update() {
        PolicyAgent.Result result = policy.result();
        if (last == null || result == null) {
            return;
        }
        List<Frontend> frontends = lb == null ? List.of() : lb.frontends();
        ClusterView view = last.view();
        observability.update(view, last.version(), result, frontends, policy.agent().rules(), new Observability.Health(
                mapFill(result, frontends), policy.datapath().attachedVeths(), lb == null ? 0 : lb.datapath().attachedVeths(),
                lb != null && lb.datapath().socketLb(), view.podsOn(policy.agent().node()).size(), endpointConntrack()));
    }

    /** Each endpoint's established conntrack entries against its limit, by pod (from the last recount, no map walk). */
    private Map<String, MapFill> endpointConntrack() {
        var fills = new LinkedHashMap<String, MapFill>();
        policy.conntrack().quotas().forEach((id, q) -> fills.put(policy.agent().podOf(id),
                new MapFill(Integer.toUnsignedLong(q.established()), Integer.toUnsignedLong(q.effectiveLimit()))));
        return fills;
    }

    /** How full the node's main maps are, from what the subsystems wrote (no map walk). */
    private Map<String, MapFill> mapFill(PolicyAgent.Result result, List<Frontend> frontends) {
        var maps = new LinkedHashMap<String, MapFill>();
        maps.put("ct4_policy", new MapFill(policy.conntrack().established(), policy.datapath().object().map("ct4_policy").maxEntries()));
        maps.put("ct4_policy_new", new MapFill(policy.conntrack().fresh(), policy.datapath().object().map("ct4_policy_new").maxEntries()));
        maps.put("policy_entries", new MapFill(result.entries(), policy.datapath().object().map("policy_entries").maxEntries()));
        if (lb != null) {
            LbSubsystem.Counts c = lb.counts();
            maps.put("lb4_services", new MapFill(c.slots(), lb.datapath().capacity("lb4_services")));
            maps.put("lb4_backends", new MapFill(c.backends(), lb.datapath().capacity("lb4_backends")));
        }
        return maps;
    }

    @Override
    public List<Line> status() {
        return List.of(observability.statusLine());
    }

    @Override
    public Set<String> features() {
        // Its own status line, enabled or not, says more than the values file; `sluice observe` and `sluice ui` read every
        // node's socket.
        return hubble.enabled() ? Set.of("Hubble", "Hubble Relay", "Hubble UI") : Set.of("Hubble");
    }

    @Override
    public void close() {
        observability.close();
    }
}
