package dev.sluice.agent.flow;

import dev.sluice.datapath.lb.Backend;
import dev.sluice.datapath.lb.Frontend;
import dev.sluice.agent.policy.RuleTable;
import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.model.cluster.ClusterView;
import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Policy;
import dev.sluice.observe.v1.Service;
import dev.sluice.policy.EndpointLabels;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Who is who, for naming the parties of a flow: pods by address and by cgroup, identities' labels, Services
 * by frontend and by backend, policy rules by number. Built by the agent's loop after each sync and read,
 * whole and unchanged, by the flow thread: a flow is named from one consistent picture of the cluster.
 *
 * @param pods the Endpoint of each pod, by its address (as the events carry it)
 * @param podsByCgroup the address of each pod by its cgroup's id (what socket-level events carry)
 * @param frontends Service by {@link #key frontend address, port and protocol}
 * @param backends Service by backend address, port and protocol; absent when several Services share it
 */
public record FlowDirectory(String node, Map<Integer, Endpoint> pods, Map<Long, Integer> podsByCgroup,
                            Map<Integer, List<String>> identityLabels, Map<Long, Service> frontends, Map<Long, Service> backends,
                            Map<Integer, Policy> rules) {
    public static FlowDirectory empty(String node) {
        return new FlowDirectory(node, Map.of(), Map.of(), Map.of(), Map.of(), Map.of(), Map.of());
    }

    /** One long for an address, port and protocol: the maps are read for every flow. */
    public static long key(int address, int port, int proto) {
        return (address & 0xffffffffL) << 32 | (long) (port & 0xffff) << 8 | (proto & 0xff);
    }

    /**
     * @param podIdentities identity of each pod by {@code namespace/name}
     * @param frontends the Services as the LB compiler made them (empty without load balancing)
     */
    public static FlowDirectory of(String node, ClusterView state, Map<String, Integer> podIdentities,
                                   Map<Integer, List<String>> identityLabels, List<Frontend> frontends, RuleTable rules) {
        Map<String, Map<String, String>> nsLabels = new HashMap<>();
        state.namespaces().forEach(n -> nsLabels.put(n.name(), n.labels()));
        Map<Integer, Endpoint> pods = new HashMap<>();
        Map<Long, Integer> byCgroup = new HashMap<>();
        for (ClusterView.Pod p : state.pods()) {
            int address = address(p.ip());
            Endpoint.Builder endpoint = Endpoint.newBuilder().setNamespace(p.namespace()).setPodName(p.name()).setNode(p.node())
                    .setIdentity(podIdentities.getOrDefault(p.key(), 0));
            if (!p.owner().isEmpty()) {
                endpoint.addWorkloads(dev.sluice.observe.v1.Workload.newBuilder().setName(p.owner()).setKind("Deployment"));
            }
            EndpointLabels.of(p.namespace(), p.labels(), nsLabels.getOrDefault(p.namespace(), Map.of())).labels()
                    .forEach(l -> endpoint.addLabels(l.toString()));
            pods.put(address, endpoint.build());
            long cgroup = cgroupId(p.cgroup());
            if (cgroup != 0) {
                byCgroup.put(cgroup, address);
            }
        }
        Map<Long, Service> byFrontend = new HashMap<>();
        Map<Long, Service> byBackend = new HashMap<>();
        Map<Long, Service> shared = new HashMap<>();
        for (Frontend f : frontends) {
            Service service = service(f.service());
            byFrontend.put(key(address(f.address()), f.port(), f.proto()), service);
            for (Backend b : f.backends()) {
                long k = key(address(b.address()), b.port(), b.proto());
                Service before = byBackend.putIfAbsent(k, service);
                if (before != null && !before.equals(service)) {
                    shared.put(k, before);
                }
            }
        }
        shared.keySet().forEach(byBackend::remove);
        Map<Integer, Policy> policies = new LinkedHashMap<>();
        rules.all().forEach((id, rule) -> policies.put(id, Policy.newBuilder().setKind(rule.policy().kind())
                .setNamespace(rule.policy().namespace() == null ? "" : rule.policy().namespace()).setName(rule.policy().name())
                .setRule(rule.path().startsWith("spec.") ? rule.path().substring(5) : rule.path()).build()));
        return new FlowDirectory(node, Map.copyOf(pods), Map.copyOf(byCgroup), Map.copyOf(identityLabels), Map.copyOf(byFrontend),
                Map.copyOf(byBackend), Map.copyOf(policies));
    }

    /** "ns/name" as the LB compiler names Services. */
    private static Service service(String name) {
        int slash = name.indexOf('/');
        return slash < 0 ? Service.newBuilder().setName(name).build()
                : Service.newBuilder().setNamespace(name.substring(0, slash)).setName(name.substring(slash + 1)).build();
    }

    static int address(String dotted) {
        try {
            return FlowStructs.ipv4((Inet4Address) InetAddress.getByName(dotted));
        } catch (UnknownHostException | ClassCastException e) {
            throw new IllegalArgumentException("not an IPv4 address: " + dotted, e);
        }
    }

    /** A cgroup's id is its directory's inode number (what bpf_get_current_cgroup_id returns); 0 if unknown. */
    static long cgroupId(String path) {
        if (path == null || path.isEmpty()) {
            return 0;
        }
        try {
            return ((Number) Files.getAttribute(Path.of(path), "unix:ino")).longValue();
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return 0;
        }
    }
}
