package dev.sluice.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How files, directories, documents and kinds are read. */
class ManifestReaderTest {
    @TempDir
    Path dir;

    @Test
    void aDirectoryIsReadInNameOrderWithoutDescending() throws IOException {
        write("b.yml", configMap("second"));
        write("a.yaml", configMap("first"));
        write("c.json", """
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "third"}}
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fourth"}}
                """);
        write("notes.txt", "not a manifest");
        Files.createDirectory(dir.resolve("nested"));
        write("nested/d.yaml", configMap("nested"));

        Desired desired = ManifestReader.read(List.of(dir));

        assertEquals(List.of("first", "second", "third", "fourth"),
                desired.others().stream().map(o -> o.ref().name()).toList());
        assertEquals(new Source(dir.resolve("c.json"), 2), desired.others().get(3).source());
    }

    @Test
    void emptyAndCommentOnlyDocumentsAreSkippedButCounted() throws IOException {
        Path file = write("sparse.yaml", "# header\n---\n---\n# only a comment\n---\n" + configMap("x") + "---\n");
        OtherObject only = ManifestReader.read(List.of(file)).others().getFirst();
        assertEquals(3, only.source().document());
        assertEquals(file + ", document 3", only.source().toString());
    }

    @Test
    void anEmptyFileHoldsNothing() throws IOException {
        assertEquals(Desired.empty(), ManifestReader.read(List.of(write("empty.yaml", "# nothing yet\n"))));
    }

    @Test
    void aListIsFlattened() throws IOException {
        Path file = write("list.yaml", """
                apiVersion: v1
                kind: List
                items:
                - apiVersion: v1
                  kind: Namespace
                  metadata:
                    name: shop
                    labels: {team: a}
                - apiVersion: v1
                  kind: Pod
                  metadata:
                    name: client
                    namespace: shop
                    labels: {app: client}
                  spec:
                    nodeName: node-2
                    containers:
                    - name: curl
                      image: curl:8
                      command: [sleep]
                      args: ["infinity"]
                      env:
                      - {name: A, value: "1"}
                      - {name: EMPTY}
                      - name: FROM_FIELD
                        valueFrom: {fieldRef: {fieldPath: metadata.name}}
                      ports:
                      - {name: dns, containerPort: 53, protocol: UDP}
                """);
        Desired desired = ManifestReader.read(List.of(file));
        assertEquals(List.of(new NamespaceSpec("shop", Map.of("team", "a"))), desired.namespaces());
        PodSpec pod = desired.pods().getFirst();
        assertEquals(new ObjectRef("shop", "client"), pod.ref());
        assertEquals("node-2", pod.nodeName());
        assertEquals(new Source(file, 1), pod.source());
        assertEquals(new PodTemplate(Map.of("app", "client"), List.of(new ContainerSpec("curl", "curl:8", List.of("sleep"),
                List.of("infinity"), List.of(new ContainerPort("dns", 53, Protocol.UDP)), Map.of("A", "1", "EMPTY", "")))),
                pod.template());
        assertEquals(Set.of("shop"), desired.namespacesUsed());
    }

    @Test
    void serviceVariantsAreKeptAsGiven() throws IOException {
        Path file = write("services.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: dns, namespace: kube-system}
                spec:
                  type: NodePort
                  clusterIP: 10.96.0.10
                  sessionAffinity: ClientIP
                  selector: {k8s-app: kube-dns}
                  ports:
                  - {name: dns, port: 53, targetPort: dns, protocol: UDP}
                  - {name: dns-tcp, port: 53, targetPort: 5353}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: db}
                spec:
                  clusterIP: None
                  ports:
                  - port: 5432
                """);
        List<ServiceSpec> services = ManifestReader.read(List.of(file)).services();
        ServiceSpec dns = services.getFirst();
        assertEquals("NodePort", dns.type());
        assertEquals("10.96.0.10", dns.clusterIP());
        assertTrue(dns.clientIpAffinity());
        assertEquals(List.of(new ServicePort("dns", 53, TargetPort.of("dns"), Protocol.UDP),
                new ServicePort("dns-tcp", 53, TargetPort.of(5353), Protocol.TCP)), dns.ports());
        assertTrue(dns.ports().getFirst().targetPort().named());
        ServiceSpec db = services.get(1);
        assertTrue(db.headless());
        assertEquals(new ServicePort(null, 5432, TargetPort.of(5432), Protocol.TCP), db.ports().getFirst());
        assertEquals(Map.of(), db.selector());
    }

    @Test
    void otherKindsKeepTheirScope() throws IOException {
        Path file = write("policies.yaml", """
                apiVersion: cilium.io/v2
                kind: CiliumClusterwideNetworkPolicy
                metadata: {name: deny-all}
                spec: {endpointSelector: {}}
                ---
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: allow-web, namespace: shop}
                spec: {endpointSelector: {matchLabels: {app: web}}}
                ---
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: {name: deny}
                spec: {podSelector: {}}
                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: route}
                spec: {}
                """);
        List<OtherObject> others = ManifestReader.read(List.of(file)).others();
        assertNull(others.get(0).ref().namespace());
        assertEquals("deny-all", others.get(0).ref().toString());
        assertEquals("shop/allow-web", others.get(1).ref().toString());
        assertEquals("default/deny", others.get(2).ref().toString());
        assertEquals("gateway.networking.k8s.io", others.get(3).group());
        assertEquals("web", others.get(1).body().at("/spec/endpointSelector/matchLabels/app").asText());
    }

    @Test
    void theBodyCannotBeChangedFromOutside() throws IOException {
        OtherObject config = ManifestReader.read(List.of(write("c.yaml", configMap("c")))).others().getFirst();
        ((com.fasterxml.jackson.databind.node.ObjectNode) config.body()).put("kind", "Secret");
        assertEquals("ConfigMap", config.body().get("kind").asText());
    }

    @Test
    void aKeyWrittenTwiceKeepsTheLastValueAndIsReported() throws IOException {
        Path file = write("twice.yaml", configMap("x") + "---\n" + configMap("y") + "  key: again\n");
        List<String> warnings = new ArrayList<>();
        OtherObject second = ManifestReader.read(List.of(file), warnings::add).others().get(1);
        assertEquals("again", second.body().at("/data/key").asText());
        assertEquals(List.of(file + ", document 2: key data.key is written twice (again at line 14); the last value is used"), warnings);
    }

    @Test
    void theSeedEnvoyConfigWritesTypeTwice() {
        List<String> warnings = new ArrayList<>();
        Path file = Repo.seed("canary-routing.yaml");
        OtherObject cec = ManifestReader.read(List.of(file), warnings::add).others().getFirst();
        assertEquals("EDS", cec.body().at("/spec/resources/1/type").asText());
        assertEquals(List.of(
                file + ", document 1: key spec.resources[1].type is written twice (again at line 29); the last value is used",
                file + ", document 1: key spec.resources[2].type is written twice (again at line 43); the last value is used"), warnings);
    }

    private static String configMap(String name) {
        return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  key: value\n";
    }

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }
}
