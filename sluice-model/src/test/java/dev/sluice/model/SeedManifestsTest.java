package dev.sluice.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The seed article's manifests, as written, read into the model. */
class SeedManifestsTest {
    /** The envoy config's two {@code type} keys; {@link ManifestReaderTest} checks those warnings. */
    private final List<String> warnings = new ArrayList<>();
    private final Desired desired = ManifestReader.read(List.of(
            Repo.seed("product-service.yaml"), Repo.seed("canary-routing.yaml")), warnings::add);

    @Test
    void theServiceSelectsBothVersionsOnThePortNamedGrpc() {
        assertEquals(1, desired.services().size());
        ServiceSpec service = desired.services().getFirst();
        assertEquals(new ObjectRef("default", "product-service"), service.ref());
        assertEquals("ClusterIP", service.type());
        assertNull(service.clusterIP());
        assertEquals(List.of(new ServicePort("grpc", 50051, TargetPort.of(50051), Protocol.TCP)), service.ports());
        assertEquals(Map.of("app", "product-service"), service.selector());
        assertEquals(false, service.clientIpAffinity());
        assertEquals(1, service.source().document());
        assertTrue(service.source().toString().endsWith("product-service.yaml, document 1"));
    }

    @Test
    void theTwoDeploymentsRunThreeAndOneReplicas() {
        assertEquals(2, desired.deployments().size());
        DeploymentSpec v1 = desired.deployments().get(0);
        DeploymentSpec v2 = desired.deployments().get(1);
        assertEquals(new ObjectRef("default", "product-service-v1"), v1.ref());
        assertEquals(3, v1.replicas());
        assertEquals(Map.of("app", "product-service", "version", "v1"), v1.selector());
        assertEquals(Map.of("app", "product-service", "version", "v1"), v1.template().labels());
        assertEquals(List.of(new ContainerSpec("product-service", "your-repo/product-service:v1", List.of(), List.of(),
                List.of(new ContainerPort(null, 50051, Protocol.TCP)), Map.of())), v1.template().containers());
        assertEquals(2, v1.source().document());

        assertEquals("product-service-v2", v2.ref().name());
        assertEquals(1, v2.replicas());
        assertEquals("v2", v2.template().labels().get("version"));
        assertEquals("your-repo/product-service:v2", v2.template().containers().getFirst().image());
        assertEquals(3, v2.source().document());
    }

    @Test
    void theCanaryEnvoyConfigIsKeptWhole() {
        assertEquals(1, desired.others().size());
        OtherObject cec = desired.others().getFirst();
        assertEquals("cilium.io/v2alpha1", cec.apiVersion());
        assertEquals("CiliumEnvoyConfig", cec.kind());
        assertEquals(new ObjectRef("default", "product-service-canary"), cec.ref());
        assertEquals("canary-routing.yaml", cec.source().file().getFileName().toString());
        var clusters = cec.body().at("/spec/resources/0/virtualHosts/0/routes/0/route/weightedClusters/clusters");
        assertEquals("default/product-service-v1", clusters.get(0).get("name").asText());
        assertEquals(90, clusters.get(0).get("weight").asInt());
        assertEquals(10, clusters.get(1).get("weight").asInt());
        assertEquals("default/product-service-v2", cec.body().at("/spec/resources/2/edsClusterConfig/serviceName").asText());
    }

    @Test
    void everythingLivesInTheDefaultNamespace() {
        assertEquals(List.of(), desired.namespaces());
        assertEquals(List.of(), desired.pods());
        assertEquals(Set.of("default"), desired.namespacesUsed());
    }
}
