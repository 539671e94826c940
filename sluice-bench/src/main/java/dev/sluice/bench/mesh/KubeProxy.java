package dev.sluice.bench.mesh;

import dev.sluice.bench.lb.KubeProxyRules;
import dev.sluice.datapath.lb.Backend;
import dev.sluice.datapath.lb.Frontend;

import java.util.List;

/**
 * kube-proxy's iptables mode for the benchmark's Service: the rules {@link KubeProxyRules} renders (kube-proxy's
 * own layout: KUBE-SERVICES, a KUBE-SVC chain picking an endpoint with {@code statistic random}, KUBE-SEP DNAT),
 * restored into the node's namespace, where pods' packets to the ClusterIP pass PREROUTING. Only in the lab whose
 * agent does no Service load balancing, so nothing else translates the ClusterIP first.
 */
final class KubeProxy implements AutoCloseable {
    private static final int TCP = 6;
    private final Netns node;

    private KubeProxy(Netns node) {
        this.node = node;
    }

    /** Writes the rules for {@code service} (ns/name) at {@code vip}:{@code port} with {@code backends} (pod IPs, same port). */
    static KubeProxy install(Netns node, String service, String portName, String vip, int port, List<String> backends, String clusterCidr) {
        List<Backend> eps = backends.stream().map(ip -> new Backend(ip, port, TCP, 0, null)).toList();
        Frontend f = new Frontend(service, portName, vip, port, TCP, 1, false, 0, eps);
        KubeProxyRules.Rendered rules = KubeProxyRules.render(List.of(f), clusterCidr);
        KubeProxy installed = new KubeProxy(node);
        node.run(List.of("iptables-restore", "-w", "5"), rules.text());
        String nat = node.run("iptables-save", "-t", "nat");
        long dnat = nat.lines().filter(l -> l.contains("-j DNAT")).count();
        if (dnat != backends.size()) {
            installed.close();
            throw new IllegalStateException("kube-proxy rules in " + node.name() + ": " + dnat + " DNAT rules after restore, expected " + backends.size());
        }
        return installed;
    }

    /** Connections the KUBE-SEP DNAT rules translated so far (nat rules see a connection's first packet only). */
    long dnatPackets() {
        return Sidecars.packets(node.run("iptables", "-w", "5", "-t", "nat", "-L", "-v", "-x", "-n"), "DNAT");
    }

    /** Empties the tables the restore wrote (the node namespace is the lab's: nothing else of ours is in them). */
    @Override
    public void close() {
        node.run("iptables", "-w", "5", "-t", "nat", "-F");
        node.run("iptables", "-w", "5", "-t", "nat", "-X");
        node.run("iptables", "-w", "5", "-t", "filter", "-F");
        node.run("iptables", "-w", "5", "-t", "filter", "-X");
    }
}
