package dev.sluice.k8s;

import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;

import java.util.List;

/**
 * A kind the source watches as a generic resource and keeps whole in the view (policies, L7 configuration,
 * routes): named explicitly, so that no API discovery is needed and a kind whose CRD is not installed is simply
 * empty.
 */
record WatchedKind(String group, String version, String kind, String plural, boolean clusterScoped) {

    /** Every kind of other object the agent reads. */
    static final List<WatchedKind> OTHERS = List.of(
            new WatchedKind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", false),
            new WatchedKind("cilium.io", "v2", "CiliumNetworkPolicy", "ciliumnetworkpolicies", false),
            new WatchedKind("cilium.io", "v2", "CiliumClusterwideNetworkPolicy", "ciliumclusterwidenetworkpolicies", true),
            new WatchedKind("cilium.io", "v2", "CiliumEnvoyConfig", "ciliumenvoyconfigs", false),
            new WatchedKind("cilium.io", "v2", "CiliumClusterwideEnvoyConfig", "ciliumclusterwideenvoyconfigs", true),
            new WatchedKind("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", false),
            new WatchedKind("gateway.networking.k8s.io", "v1", "GRPCRoute", "grpcroutes", false));

    String apiVersion() {
        return group + "/" + version;
    }

    ResourceDefinitionContext context() {
        return new ResourceDefinitionContext.Builder().withGroup(group).withVersion(version).withKind(kind)
                .withPlural(plural).withNamespaced(!clusterScoped).build();
    }
}
