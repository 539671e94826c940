package dev.sluice.agent;

import dev.sluice.agent.api.AgentStatus.Endpoint;
import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.model.Feature;
import dev.sluice.model.SluiceValues;
import dev.sluice.model.cluster.ClusterView;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Turns the cluster seen from one node into that node's status: the endpoints it owns and the state of
 * each feature the values file asked for. Pure: the same inputs give the same status.
 */
final class NodeStatusCompiler {
    private NodeStatusCompiler() {
    }

    static List<Endpoint> endpoints(ClusterView view, String node) {
        return view.podsOn(node).stream().map(p -> new Endpoint(p.namespace(), p.name(), p.ip(), p.labels(), p.running())).toList();
    }

    /**
     * {@code provided}: the features this agent actually runs. A feature the values enable that is not
     * among them is reported as requested and inactive, never as enabled.
     */
    static List<Line> lines(ClusterView.Node node, List<Endpoint> endpoints, SluiceValues values, Set<String> provided,
                            List<Line> datapath) {
        List<Line> lines = new ArrayList<>();
        long running = endpoints.stream().filter(Endpoint::running).count();
        lines.add(new Line("Endpoints", endpoints.size() + " registered (" + running + " running)"));
        // The agent's IPAM (the CNI plugin's addresses and the source's pods') reports its own line; without it, the lab
        // hands out pod addresses from .10 to .250 of the node's /24.
        if (datapath.stream().noneMatch(l -> l.key().equals("IPAM"))) {
            lines.add(new Line("IPAM", "IPv4: " + endpoints.size() + "/241 allocated from " + node.podCidr()));
        }
        for (Feature f : values.features()) {
            // A subsystem that reports its own state says more than the values file's view of it.
            if (provided.contains(f.name()) && datapath.stream().anyMatch(l -> l.key().equals(f.name()))) {
                continue;
            }
            lines.add(new Line(f.name(), describe(f, provided)));
        }
        lines.addAll(datapath);
        return lines;
    }

    private static String describe(Feature f, Set<String> provided) {
        if (f.state() == Feature.State.ENABLED && !provided.contains(f.name())) {
            return "Requested, not active: this version of the agent does not provide it yet";
        }
        String state = switch (f.state()) {
            case ENABLED -> "Enabled";
            case DISABLED -> "Disabled";
            case UNAVAILABLE -> "Unavailable";
            case NOT_SUPPORTED -> "Not supported";
        };
        return f.detail() == null || f.detail().isBlank() ? state : state + " (" + f.detail() + ")";
    }
}
