package dev.sluice.agent.l7;

import dev.sluice.l7.route.Cluster;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.VirtualHost;
import dev.sluice.l7.route.WeightedCluster;
import dev.sluice.model.ContainerPort;
import dev.sluice.model.NamespaceSpec;
import dev.sluice.model.OtherObject;
import dev.sluice.model.Protocol;
import dev.sluice.model.ServicePort;
import dev.sluice.model.ServiceSpec;
import dev.sluice.model.TargetPort;
import dev.sluice.model.cluster.ClusterView;
import dev.sluice.policy.IdentityAllocator;
import dev.sluice.policy.Policy;
import dev.sluice.policy.PolicyParser;
import dev.sluice.policy.PolicySet;
import dev.sluice.policy.ReferenceEvaluator;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The Service ports L7 policy sends through the node proxy: those whose target pods' ingress policy has HTTP rules
 * on the target port (CiliumNetworkPolicy {@code toPorts.rules.http}). A port no envoy configuration routes gets a
 * plain pass-through route to the Service's ready pods (no weights), so that the proxy can apply the rules; the
 * datapath meanwhile admits only the proxies on such a port (ReferenceEvaluator's L4 view), so nothing reaches it
 * around them.
 */
final class L7PolicyRoutes {
    /** The origin named in routes and status. */
    static final String ORIGIN = "L7 policy";

    /**
     * @param table what the envoy configurations compiled to
     * @param policyPorts the Service ports ({@code ns/name:port}) L7 policy redirects, configured or not
     */
    record Result(RouteTable table, List<String> policyPorts) {
    }

    private L7PolicyRoutes() {
    }

    /** @param warnings gets a line for each policy that cannot be read (the policy subsystem reports it fully) */
    static Result add(RouteTable configured, ClusterView view, Consumer<String> warnings) {
        List<Policy> read = new ArrayList<>();
        for (OtherObject o : view.objects()) {
            if (PolicyParser.isPolicy(o)) {
                try {
                    read.add(PolicyParser.parse(o, w -> { }));
                } catch (RuntimeException e) {
                    warnings.accept("policy not read for L7 redirection: " + e.getMessage().lines().findFirst().orElse(""));
                }
            }
        }
        PolicySet policies = PolicySet.of(read.toArray(Policy[]::new));
        if (read.stream().noneMatch(p -> p.rules().stream().anyMatch(r -> r.peerRules().stream().anyMatch(
                pr -> pr.toPorts().stream().anyMatch(dev.sluice.policy.PortRule::hasHttp))))) {
            return new Result(configured, List.of());
        }
        ReferenceEvaluator evaluator = ReferenceEvaluator.kubernetesDefaults();
        IdentityAllocator allocator = new IdentityAllocator(); // selection only: the ids do not matter here
        Map<String, Map<String, String>> nsLabels = view.namespaces().stream()
                .collect(Collectors.toMap(NamespaceSpec::name, NamespaceSpec::labels, (a, b) -> b));
        List<ServiceRoutes> services = new ArrayList<>(configured.services());
        Map<String, Cluster> clusters = new LinkedHashMap<>(configured.clusters());
        List<String> policyPorts = new ArrayList<>();
        for (ServiceSpec s : view.services()) {
            if (s.selector().isEmpty()) {
                continue;
            }
            String ns = s.ref().namespace();
            for (ServicePort sp : s.ports()) {
                if (sp.protocol() != Protocol.TCP) {
                    continue;
                }
                boolean l7 = false;
                List<Endpoint> endpoints = new ArrayList<>();
                for (ClusterView.Pod pod : view.pods()) {
                    if (!pod.namespace().equals(ns) || !pod.labels().entrySet().containsAll(s.selector().entrySet())) {
                        continue;
                    }
                    Optional<Integer> target = targetPort(pod, sp.targetPort());
                    if (target.isEmpty()) {
                        continue;
                    }
                    var endpoint = dev.sluice.policy.Endpoint.of(allocator, ns, pod.name(), pod.labels(),
                            nsLabels.getOrDefault(ns, Map.of()), pod.ports());
                    l7 |= evaluator.hasHttpRules(policies, endpoint, target.get());
                    if (pod.ready() && pod.ip() != null && !pod.ip().isEmpty()) {
                        endpoints.add(new Endpoint(pod.ip(), target.get(), pod.key()));
                    }
                }
                if (!l7) {
                    continue;
                }
                String key = ns + "/" + s.ref().name() + ":" + sp.port();
                policyPorts.add(key);
                if (services.stream().anyMatch(r -> r.key().equals(key))) {
                    continue; // an envoy configuration routes it; the rules apply to its requests all the same
                }
                String cluster = "l7-policy/" + key;
                clusters.put(cluster, new Cluster(cluster, LbPolicy.ROUND_ROBIN, Duration.ofSeconds(5), endpoints, true));
                Route route = new Route("pass-through", Route.PathKind.PREFIX, "/", true, List.of(),
                        List.of(new WeightedCluster(cluster, 1)));
                String clusterIp = view.clusterIps().getOrDefault(ns + "/" + s.ref().name(), s.clusterIP());
                // Any authority: the proxy has a listener per Service port and routes within it.
                services.add(new ServiceRoutes(ns, s.ref().name(), sp.port(), clusterIp, ORIGIN,
                        List.of(new VirtualHost(key, List.of("*"), List.of(route)))));
            }
        }
        return new Result(new RouteTable(services, clusters), List.copyOf(policyPorts));
    }

    private static Optional<Integer> targetPort(ClusterView.Pod pod, TargetPort target) {
        if (!target.named()) {
            return Optional.of(target.number());
        }
        return pod.ports().stream().filter(p -> target.name().equals(p.name())).map(ContainerPort::port).findFirst();
    }
}
