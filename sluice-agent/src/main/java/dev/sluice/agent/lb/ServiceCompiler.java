package dev.sluice.agent.lb;

import dev.sluice.datapath.lb.Frontend;
import dev.sluice.datapath.lb.Backend;
import dev.sluice.model.ContainerPort;
import dev.sluice.model.Protocol;
import dev.sluice.model.ServicePort;
import dev.sluice.model.ServiceSpec;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Compiles Services and their endpoints into frontends with backends, as kube-proxy would resolve them:
 * a pod backs a Service when it is in the Service's namespace, matches its selector and is ready; a
 * named targetPort is looked up among the pod's container ports (pods without it are skipped).
 *
 * <p>Ids are stable: a frontend or backend that existed before keeps its id (the caller passes the ids
 * in force, e.g. read back from pinned maps after a restart), and new ones take the lowest free id.
 */
public final class ServiceCompiler {
    /** Default ClientIP affinity timeout, as Kubernetes' sessionAffinityConfig (3 hours). */
    public static final int DEFAULT_AFFINITY_TIMEOUT = 10_800;

    private final Map<String, Integer> frontendIds;
    private final Map<String, Integer> backendIds;

    /** @param frontendIds ids in force by {@link Frontend#key()}; @param backendIds ids in force by {@link Backend#key()} */
    public ServiceCompiler(Map<String, Integer> frontendIds, Map<String, Integer> backendIds) {
        this.frontendIds = new HashMap<>(frontendIds);
        this.backendIds = new HashMap<>(backendIds);
    }

    /** The frontends of every Service with a ClusterIP (headless Services have none). */
    public List<Frontend> compile(List<ServiceSpec> services, Map<String, String> clusterIps, List<Endpoint> endpoints) {
        return compile(services, clusterIps, endpoints, Map.of());
    }

    /**
     * @param redirects Service ports ({@code namespace/name:port}) whose traffic goes to the node's L7 proxy
     *                  ({@code address:port}) instead of their pods: their only backend is the proxy
     */
    public List<Frontend> compile(List<ServiceSpec> services, Map<String, String> clusterIps, List<Endpoint> endpoints,
                                  Map<String, String> redirects) {
        List<Frontend> out = new ArrayList<>();
        // Sorted once and grouped by namespace: a Service only ever selects pods of its own namespace.
        Map<String, List<Endpoint>> byNamespace = new HashMap<>();
        endpoints.stream().filter(Endpoint::ready).sorted(Comparator.comparing(Endpoint::address))
                .forEach(e -> byNamespace.computeIfAbsent(e.namespace(), n -> new ArrayList<>()).add(e));
        Map<String, Integer> usedFrontends = new HashMap<>();
        Map<String, Integer> usedBackends = new HashMap<>();
        for (ServiceSpec service : services.stream().sorted(Comparator.comparing(s -> s.ref().toString())).toList()) {
            String vip = clusterIps.get(service.ref().toString());
            if (vip == null || service.headless()) {
                continue;
            }
            for (ServicePort sp : service.ports()) {
                int proto = proto(sp.protocol());
                if (proto == 0) {
                    continue; // SCTP: not load-balanced by this datapath
                }
                String key = vip + ":" + sp.port() + "/" + proto;
                int id = id(frontendIds, usedFrontends, key, 1, 65_535);
                List<Backend> backends = new ArrayList<>();
                String proxy = proto == 6 ? redirects.get(service.ref() + ":" + sp.port()) : null;
                if (proxy != null) {
                    String address = proxy.substring(0, proxy.lastIndexOf(':'));
                    int port = Integer.parseInt(proxy.substring(proxy.lastIndexOf(':') + 1));
                    backends.add(new Backend(address, port, proto, id(backendIds, usedBackends, proxy + "/" + proto, 1, Integer.MAX_VALUE),
                            "l7-proxy"));
                }
                for (Endpoint e : proxy != null ? List.<Endpoint>of() : byNamespace.getOrDefault(service.ref().namespace(), List.of())) {
                    if (!selects(service.selector(), e.labels())) {
                        continue;
                    }
                    Optional<Integer> target = targetPort(sp, e);
                    if (target.isEmpty()) {
                        continue;
                    }
                    String bkey = e.address() + ":" + target.get() + "/" + proto;
                    backends.add(new Backend(e.address(), target.get(), proto, id(backendIds, usedBackends, bkey, 1, Integer.MAX_VALUE), e.pod()));
                }
                out.add(new Frontend(service.ref().toString(), sp.name(), vip, sp.port(), proto, id, service.clientIpAffinity(),
                        DEFAULT_AFFINITY_TIMEOUT, List.copyOf(backends)));
            }
        }
        return out;
    }

    // Keeps the id a key had; otherwise the lowest id neither in force nor taken in this compilation.
    private static int id(Map<String, Integer> inForce, Map<String, Integer> used, String key, int min, int max) {
        Integer existing = used.get(key);
        if (existing != null) {
            return existing;
        }
        Integer id = inForce.get(key);
        if (id == null) {
            java.util.Set<Integer> taken = new java.util.HashSet<>(inForce.values());
            taken.addAll(used.values());
            id = min;
            while (taken.contains(id)) {
                id++;
            }
            if (id > max) {
                throw new IllegalStateException("no free id for " + key);
            }
            inForce.put(key, id);
        }
        used.put(key, id);
        return id;
    }

    static boolean selects(Map<String, String> selector, Map<String, String> labels) {
        // A Service without a selector has endpoints managed by hand; the lab has none of those.
        return !selector.isEmpty() && selector.entrySet().stream().allMatch(e -> e.getValue().equals(labels.get(e.getKey())));
    }

    static Optional<Integer> targetPort(ServicePort sp, Endpoint e) {
        if (!sp.targetPort().named()) {
            return Optional.of(sp.targetPort().number());
        }
        return e.ports().stream().filter(p -> sp.targetPort().name().equals(p.name()) && p.protocol() == sp.protocol())
                .map(ContainerPort::port).findFirst();
    }

    /** The datapath's number for a Service port's protocol; 0 for SCTP, which the datapath does not balance. */
    static int proto(Protocol p) {
        return switch (p) {
            case TCP -> dev.sluice.datapath.abi.Protocol.TCP.value();
            case UDP -> dev.sluice.datapath.abi.Protocol.UDP.value();
            case SCTP -> 0;
        };
    }
}
