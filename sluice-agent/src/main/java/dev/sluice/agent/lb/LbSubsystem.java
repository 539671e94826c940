package dev.sluice.agent.lb;

import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.agent.core.Subsystem;
import dev.sluice.datapath.lb.Frontend;
import dev.sluice.linux.Libc;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import dev.sluice.model.cluster.ClusterView;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Service load balancing (kube-proxy replacement): Services and ready pods in, frontends and backends in
 * the LB maps out, and the per-packet programs on every local pod's veth.
 */
public final class LbSubsystem implements Subsystem {
    private final String node;
    private final LbDatapath datapath;
    private final ServiceCompiler compiler;
    private final String cgroup;
    private final int maglevTableSize;
    private volatile List<Frontend> frontends = List.of();
    private volatile Counts counts = new Counts(0, 0, 0);

    /**
     * What is programmed, counted once per change (status and metrics read it at every heartbeat).
     *
     * @param slots one slot-0 entry per frontend and one per backend slot: the entries of lb4_services
     */
    public record Counts(int frontends, long backends, long slots) {
    }

    private java.util.function.Supplier<Map<String, String>> redirects = Map::of;
    private Map<String, String> appliedRedirects = Map.of();

    /** Service ports to send to the node's L7 proxy, as the L7 subsystem (which runs before this one) last computed them. */
    public void redirectsFrom(java.util.function.Supplier<Map<String, String>> redirects) {
        this.redirects = redirects;
    }

    public LbSubsystem(String node, LbDatapath datapath, String cgroup, int maglevTableSize) {
        this.node = node;
        this.datapath = datapath;
        this.compiler = new ServiceCompiler(datapath.adoptedIds().frontends(), datapath.adoptedIds().backends());
        this.cgroup = cgroup;
        this.maglevTableSize = maglevTableSize;
    }

    @Override
    public String name() {
        return "Services";
    }

    @Override
    public boolean concerns(ClusterChange change) {
        return change.touches(Kind.SERVICE, Kind.POD) || !redirects.get().equals(appliedRedirects);
    }

    @Override
    public Applied apply(ClusterChange change) {
        ClusterView view = change.view();
        Map<String, String> proxied = redirects.get();
        List<Frontend> compiled = compiler.compile(view.services(), view.clusterIps(), endpoints(view), proxied);
        appliedRedirects = proxied;
        int programmed = datapath.syncServices(compiled);
        frontends = compiled;
        counts = new Counts(compiled.size(), compiled.stream().flatMap(f -> f.backends().stream()).map(b -> b.key()).distinct().count(),
                compiled.size() + compiled.stream().mapToLong(f -> f.backends().size()).sum());
        if (programmed > 0) {
            System.out.println("agent: programmed " + programmed + " frontend(s) of " + compiled.size());
        }
        Set<String> veths = view.podsOn(node).stream().map(ClusterView.Pod::hostInterface).collect(Collectors.toSet());
        datapath.syncVeths(veths);
        // A pod whose veth is not there yet (being made or removed): look again shortly.
        return new Applied(List.of(), veths.stream().anyMatch(v -> Libc.ifNameToIndex(v) <= 0));
    }

    /** Every pod of the cluster as a possible backend. */
    static List<Endpoint> endpoints(ClusterView view) {
        return view.pods().stream().map(p -> new Endpoint(p.namespace(), p.name(), p.ip(), p.labels(), p.ports(), p.ready())).toList();
    }

    /** The frontends last programmed (for naming flows and map fill). */
    public List<Frontend> frontends() {
        return frontends;
    }

    public Counts counts() {
        return counts;
    }

    public LbDatapath datapath() {
        return datapath;
    }

    @Override
    public List<Line> status() {
        Counts c = counts;
        List<Line> lines = new ArrayList<>();
        lines.add(new Line("Services", c.frontends() + " frontend(s), " + c.backends() + " backend(s) programmed"));
        lines.add(new Line("Socket LB", datapath.socketLb()
                ? "Enabled (connect, sendmsg, recvmsg, getpeername for IPv4 and v4-mapped IPv6, sock_release on " + cgroup + ")"
                : "Disabled (socketLB.enabled: false): per-packet LB only"));
        lines.add(new Line("Per-packet LB", "tcx on " + datapath.attachedVeths() + " pod veth(s), "
                + (datapath.socketLb() ? "random backend for traffic that bypassed socket LB, kept by conntrack"
                : "Maglev consistent hashing, table size " + maglevTableSize)));
        return lines;
    }

    @Override
    public Set<String> features() {
        return datapath.socketLb() ? Set.of("KubeProxyReplacement", "SocketLB") : Set.of("KubeProxyReplacement");
    }

    @Override
    public void close() {
        datapath.close();
    }
}
