package dev.sluice.install;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersionBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaPropsBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The CustomResourceDefinitions Sluice reads or writes, under Cilium's names (group {@code cilium.io}, kinds, plurals,
 * short names, scopes and versions as Cilium publishes them), so that manifests written for Cilium apply unchanged
 * and {@code kubectl get cnp} works. The schemas are structural (every object typed, as apiextensions/v1 demands)
 * and type the fields Sluice reads; rule bodies and Envoy resources are kept as written
 * ({@code x-kubernetes-preserve-unknown-fields}) and checked by the agent, which reports a bad one by file and field
 * in {@code sluice status}. They do not carry Cilium's full per-field validation.
 */
public final class CiliumCrds {
    public static final String GROUP = "cilium.io";

    private CiliumCrds() {
    }

    /** @param serviceMesh whether the L7 kinds (CiliumEnvoyConfig, CiliumClusterwideEnvoyConfig) are installed */
    public static List<CustomResourceDefinition> all(boolean serviceMesh) {
        List<CustomResourceDefinition> crds = new ArrayList<>();
        crds.add(networkPolicy("CiliumNetworkPolicy", "ciliumnetworkpolicies", "Namespaced", List.of("cnp", "ciliumnp")));
        crds.add(networkPolicy("CiliumClusterwideNetworkPolicy", "ciliumclusterwidenetworkpolicies", "Cluster", List.of("ccnp")));
        if (serviceMesh) {
            crds.add(envoyConfig("CiliumEnvoyConfig", "ciliumenvoyconfigs", "Namespaced", List.of("cec")));
            crds.add(envoyConfig("CiliumClusterwideEnvoyConfig", "ciliumclusterwideenvoyconfigs", "Cluster", List.of("ccec")));
        }
        crds.add(identity());
        return crds;
    }

    /** The rule lists of a policy, each rule kept as written: the agent's policy compiler is their validator. */
    private static CustomResourceDefinition networkPolicy(String kind, String plural, String scope, List<String> shortNames) {
        JSONSchemaProps rule = object(ordered(
                "description", string(),
                "endpointSelector", preserved(),
                "nodeSelector", preserved(),
                "ingress", arrayOf(preserved()),
                "ingressDeny", arrayOf(preserved()),
                "egress", arrayOf(preserved()),
                "egressDeny", arrayOf(preserved()),
                "labels", arrayOf(preserved()),
                "enableDefaultDeny", preserved()));
        JSONSchemaProps root = object(ordered(
                "apiVersion", string(), "kind", string(), "metadata", new JSONSchemaPropsBuilder().withType("object").build(),
                "spec", rule, "specs", arrayOf(rule), "status", preserved()));
        root.setRequired(List.of("metadata"));
        return crd(kind, plural, scope, shortNames, List.of("cilium", "ciliumpolicy"),
                List.of(version("v2", true, root, true)));
    }

    /**
     * CiliumEnvoyConfig's spec: the Services whose traffic goes to the proxy, the Services whose backends it
     * balances, and Envoy resources (kept as written). Served as v2 and v2alpha1, as Cilium served both: the seed's
     * canary-routing.yaml is v2alpha1.
     */
    private static CustomResourceDefinition envoyConfig(String kind, String plural, String scope, List<String> shortNames) {
        JSONSchemaProps service = object(ordered("name", string(), "namespace", string(), "listener", string(),
                "number", arrayOf(string())));
        service.setRequired(List.of("name"));
        JSONSchemaProps spec = object(ordered(
                "services", arrayOf(service),
                "backendServices", arrayOf(service),
                "resources", arrayOf(preserved()),
                "nodeSelector", preserved()));
        JSONSchemaProps root = object(ordered(
                "apiVersion", string(), "kind", string(), "metadata", new JSONSchemaPropsBuilder().withType("object").build(),
                "spec", spec));
        root.setRequired(List.of("metadata"));
        return crd(kind, plural, scope, shortNames, List.of("cilium"),
                List.of(version("v2", true, root, false), version("v2alpha1", false, root, false)));
    }

    /**
     * Cilium's "crd" identity mode: the object's name is the numeric identity, {@code security-labels} the labels it
     * stands for. Agents agree on identities by creating these (a name taken is an identity taken).
     */
    private static CustomResourceDefinition identity() {
        JSONSchemaProps labels = new JSONSchemaPropsBuilder().withType("object")
                .withNewAdditionalProperties().withAllows(true).withNewSchema().withType("string").endSchema().endAdditionalProperties().build();
        JSONSchemaProps root = object(ordered(
                "apiVersion", string(), "kind", string(), "metadata", new JSONSchemaPropsBuilder().withType("object").build(),
                "security-labels", labels));
        root.setRequired(List.of("metadata", "security-labels"));
        return crd("CiliumIdentity", "ciliumidentities", "Cluster", List.of("ciliumid"), List.of("cilium"),
                List.of(version("v2", true, root, true)));
    }

    private static CustomResourceDefinition crd(String kind, String plural, String scope, List<String> shortNames,
                                                List<String> categories, List<CustomResourceDefinitionVersion> versions) {
        return new CustomResourceDefinitionBuilder()
                .withNewMetadata().withName(plural + "." + GROUP).withLabels(Names.labels(Names.AGENT)).endMetadata()
                .withNewSpec()
                .withGroup(GROUP)
                .withScope(scope)
                .withNewNames().withKind(kind).withListKind(kind + "List").withPlural(plural)
                .withSingular(kind.toLowerCase(java.util.Locale.ROOT)).withShortNames(shortNames).withCategories(categories).endNames()
                .withVersions(versions)
                .endSpec()
                .build();
    }

    private static CustomResourceDefinitionVersion version(String name, boolean storage, JSONSchemaProps schema, boolean status) {
        CustomResourceDefinitionVersionBuilder v = new CustomResourceDefinitionVersionBuilder()
                .withName(name).withServed(true).withStorage(storage)
                .withNewSchema().withOpenAPIV3Schema(schema).endSchema()
                .addNewAdditionalPrinterColumn().withName("Age").withType("date").withJsonPath(".metadata.creationTimestamp").endAdditionalPrinterColumn();
        if (status) {
            v.withNewSubresources().withNewStatus().endStatus().endSubresources();
        }
        return v.build();
    }

    private static JSONSchemaProps object(Map<String, JSONSchemaProps> properties) {
        return new JSONSchemaPropsBuilder().withType("object").withProperties(new LinkedHashMap<>(properties)).build();
    }

    /** An object kept as written: structural, yet not pruned. */
    private static JSONSchemaProps preserved() {
        return new JSONSchemaPropsBuilder().withType("object").withXKubernetesPreserveUnknownFields(true).build();
    }

    private static JSONSchemaProps string() {
        return new JSONSchemaPropsBuilder().withType("string").build();
    }

    private static JSONSchemaProps arrayOf(JSONSchemaProps items) {
        return new JSONSchemaPropsBuilder().withType("array").withNewItems().withSchema(items).endItems().build();
    }

    private static Map<String, JSONSchemaProps> ordered(Object... pairs) {
        Map<String, JSONSchemaProps> map = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            map.put((String) pairs[i], (JSONSchemaProps) pairs[i + 1]);
        }
        return map;
    }
}
