package dev.sluice.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The CRDs are Cilium's names and versions, and their schemas are structural as apiextensions.k8s.io/v1 demands. */
class CiliumCrdsTest {
    @Test
    void namesScopesAndVersionsAreCiliums() {
        Map<String, CustomResourceDefinition> byName = CiliumCrds.all(true).stream()
                .collect(Collectors.toMap(c -> c.getMetadata().getName(), c -> c));
        record Expect(String kind, String scope, List<String> shortNames, List<String> versions) {
        }
        Map<String, Expect> expected = Map.of(
                "ciliumnetworkpolicies.cilium.io", new Expect("CiliumNetworkPolicy", "Namespaced", List.of("cnp", "ciliumnp"), List.of("v2")),
                "ciliumclusterwidenetworkpolicies.cilium.io", new Expect("CiliumClusterwideNetworkPolicy", "Cluster", List.of("ccnp"), List.of("v2")),
                "ciliumenvoyconfigs.cilium.io", new Expect("CiliumEnvoyConfig", "Namespaced", List.of("cec"), List.of("v2", "v2alpha1")),
                "ciliumclusterwideenvoyconfigs.cilium.io", new Expect("CiliumClusterwideEnvoyConfig", "Cluster", List.of("ccec"), List.of("v2", "v2alpha1")),
                "ciliumidentities.cilium.io", new Expect("CiliumIdentity", "Cluster", List.of("ciliumid"), List.of("v2")));
        assertEquals(expected.keySet(), byName.keySet());
        expected.forEach((name, e) -> {
            CustomResourceDefinition crd = byName.get(name);
            assertEquals(e.kind(), crd.getSpec().getNames().getKind());
            assertEquals(e.scope(), crd.getSpec().getScope());
            assertEquals(e.shortNames(), crd.getSpec().getNames().getShortNames());
            assertEquals(e.versions(), crd.getSpec().getVersions().stream().map(CustomResourceDefinitionVersion::getName).toList());
            assertEquals(1, crd.getSpec().getVersions().stream().filter(CustomResourceDefinitionVersion::getStorage).count(), name);
        });
        assertFalse(CiliumCrds.all(false).stream().anyMatch(c -> c.getMetadata().getName().contains("envoy")));
    }

    @Test
    void schemasAreStructural() {
        for (CustomResourceDefinition crd : CiliumCrds.all(true)) {
            for (CustomResourceDefinitionVersion v : crd.getSpec().getVersions()) {
                JSONSchemaProps root = v.getSchema().getOpenAPIV3Schema();
                assertNotNull(root, crd.getMetadata().getName());
                structural(crd.getMetadata().getName() + "/" + v.getName(), root);
                assertTrue(root.getRequired().contains("metadata"));
            }
        }
    }

    /** Every node has a type; objects and arrays say what they hold, or keep unknown fields on purpose. */
    private static void structural(String path, JSONSchemaProps s) {
        assertNotNull(s.getType(), path + " has no type");
        switch (s.getType()) {
            case "object" -> {
                boolean described = !s.getProperties().isEmpty() || s.getAdditionalProperties() != null
                        || Boolean.TRUE.equals(s.getXKubernetesPreserveUnknownFields()) || path.endsWith(".metadata");
                assertTrue(described, path + " is an object of nothing");
                assertFalse(!s.getProperties().isEmpty() && s.getAdditionalProperties() != null, path + ": properties and additionalProperties");
                s.getProperties().forEach((k, p) -> structural(path + "." + k, p));
                if (s.getAdditionalProperties() != null && s.getAdditionalProperties().getSchema() != null) {
                    structural(path + ".*", s.getAdditionalProperties().getSchema());
                }
            }
            case "array" -> {
                assertNotNull(s.getItems(), path + " is an array of nothing");
                structural(path + "[]", s.getItems().getSchema());
            }
            default -> assertTrue(List.of("string", "integer", "number", "boolean").contains(s.getType()), path);
        }
    }
}
