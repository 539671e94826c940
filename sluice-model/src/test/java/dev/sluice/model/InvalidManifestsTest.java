package dev.sluice.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Manifests Sluice refuses, each error naming the file, the document and the field. */
class InvalidManifestsTest {
    @TempDir
    Path dir;

    /** A manifest with one problem: in {@code document} of {@code file}, at {@code field}, the message saying {@code says}. */
    record Case(String file, int document, String field, String says, String yaml) {
        @Override
        public String toString() {
            return file;
        }
    }

    private static final String SERVICE = """
            apiVersion: v1
            kind: Service
            metadata:
              name: web
            spec:
              selector:
                app: web
              ports:
              - port: 80
            """;

    /** A Deployment of web with the given replicas, template label version (the selector wants v1) and lines of ports. */
    private static String deployment(String replicas, String version, String ports) {
        return """
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: web
                spec:
                  replicas: %s
                  selector:
                    matchLabels:
                      app: web
                      version: v1
                  template:
                    metadata:
                      labels:
                        app: web
                        version: %s
                    spec:
                      containers:
                      - name: web
                        image: web:1
                        ports:
                %s
                """.formatted(replicas, version, ports.indent(8).stripTrailing());
    }

    /** A Service of web with the given clusterIP and lines of ports. */
    private static String service(String clusterIP, String ports) {
        return """
                apiVersion: v1
                kind: Service
                metadata:
                  name: web
                spec:
                  clusterIP: %s
                  ports:
                %s
                """.formatted(clusterIP, ports);
    }

    static Stream<Case> cases() {
        String port = "- containerPort: 8080";
        return Stream.of(
                new Case("replicas-text.yaml", 2, "spec.replicas", "must be an integer >= 0, got \"three\"",
                        SERVICE + "---\n" + deployment("three", "v1", port)),
                new Case("replicas-negative.yaml", 1, "spec.replicas", "must be an integer >= 0, got -1",
                        deployment("-1", "v1", port)),
                new Case("replicas-float.yaml", 1, "spec.replicas", "must be an integer >= 0, got 2.5",
                        deployment("2.5", "v1", port)),
                new Case("selector-mismatch.yaml", 1, "spec.template.metadata.labels.version",
                        "must equal spec.selector.matchLabels.version (\"v1\"), got \"v2\"", deployment("1", "v2", port)),
                new Case("port-range.yaml", 1, "spec.template.spec.containers[0].ports[0].containerPort",
                        "must be a port number 1..65535, got 70000", deployment("1", "v1", "- containerPort: 70000")),
                new Case("port-text.yaml", 1, "spec.template.spec.containers[0].ports[0].containerPort",
                        "must be a port number 1..65535, got \"http\"", deployment("1", "v1", "- containerPort: http")),
                new Case("port-protocol.yaml", 1, "spec.template.spec.containers[0].ports[0].protocol",
                        "must be TCP, UDP or SCTP, got \"HTTP\"", deployment("1", "v1", port + "\n  protocol: HTTP")),
                new Case("label-number.yaml", 1, "spec.template.metadata.labels.version", "must be a string, got 1.0",
                        deployment("1", "1.0", port)),
                new Case("missing-kind.yaml", 3, "kind", "is required",
                        SERVICE + "---\n# nothing here\n---\napiVersion: v1\nmetadata:\n  name: x\n"),
                new Case("missing-apiversion.yaml", 1, "apiVersion", "is required", "kind: ConfigMap\nmetadata:\n  name: x\n"),
                new Case("missing-name.yaml", 1, "metadata.name", "is required",
                        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  namespace: prod\nspec: {}\n"),
                new Case("no-containers.yaml", 1, "spec.containers", "must list at least one container",
                        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers: []\n"),
                new Case("unnamed-container.yaml", 1, "spec.containers[1].name", "is required",
                        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n  - image: b\n"),
                new Case("unnamed-ports.yaml", 1, "spec.ports[0].name", "is required when a Service has more than one port",
                        service("", "  - port: 80\n  - port: 443")),
                new Case("bad-clusterip.yaml", 1, "spec.clusterIP", "got \"10.0.0.300\"",
                        service("10.0.0.300", "  - port: 80")),
                new Case("target-port-zero.yaml", 1, "spec.ports[0].targetPort", "must be a port number 1..65535, got 0",
                        service("", "  - port: 80\n    targetPort: 0")),
                new Case("target-port-quoted.yaml", 1, "spec.ports[0].targetPort", "write it without quotes",
                        service("", "  - port: 80\n    targetPort: \"8080\"")),
                new Case("no-ports.yaml", 1, "spec.ports", "must list at least one port",
                        service("None", "    []")),
                new Case("affinity.yaml", 1, "spec.sessionAffinity", "must be None or ClientIP, got \"Sticky\"",
                        SERVICE.replace("spec:\n", "spec:\n  sessionAffinity: Sticky\n")),
                new Case("old-deployment.yaml", 1, "apiVersion", "apps/v1",
                        deployment("1", "v1", port).replace("apps/v1", "extensions/v1beta1")),
                new Case("list-item.yaml", 1, "items[1].spec.replicas", "must be an integer >= 0",
                        "apiVersion: v1\nkind: List\nitems:\n- " + SERVICE.indent(2).strip() + "\n- "
                                + deployment("[3]", "v1", port).indent(2).strip() + "\n"),
                new Case("network-policy.yaml", 1, "spec.podSelector.matchLabels", "must be a mapping, got a list",
                        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\nspec:\n"
                                + "  podSelector:\n    matchLabels: [app]\n"),
                new Case("bad-namespace.yaml", 1, "metadata.namespace", "got \"Prod_1\"",
                        SERVICE.replace("  name: web\n", "  name: web\n  namespace: Prod_1\n")));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void theErrorNamesFileDocumentAndField(Case bad) throws IOException {
        ManifestException e = read(bad.file, bad.yaml);
        assertTrue(e.getMessage().startsWith(dir.resolve(bad.file) + ", document " + bad.document + ":")
                || e.getMessage().startsWith(dir.resolve(bad.file) + ", document " + bad.document + " ("), e.getMessage());
        assertTrue(e.getMessage().contains(": field " + bad.field + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(bad.says), e.getMessage());
        assertEquals(bad.field, e.field());
        assertEquals(new Source(dir.resolve(bad.file), bad.document), e.source());
    }

    @Test
    void theObjectIsNamedOnceKnown() throws IOException {
        ManifestException e = read("bad.yaml", SERVICE + "---\n" + deployment("three", "v1", "- containerPort: 80"));
        assertEquals(dir.resolve("bad.yaml") + ", document 2 (Deployment default/web): field spec.replicas:"
                + " must be an integer >= 0, got \"three\"", e.getMessage());
    }

    @Test
    void unparsableYamlIsReportedWithItsLine() throws IOException {
        ManifestException e = read("broken.yaml", SERVICE + "---\napiVersion: v1\nkind: ConfigMap\ndata: {a: b\n");
        assertTrue(e.getMessage().startsWith(dir.resolve("broken.yaml") + ", document 2: invalid YAML at line "), e.getMessage());
        assertTrue(e.getMessage().contains("(while parsing a flow mapping at line 13, column 7)"), e.getMessage());
        assertNull(e.field());
    }

    @Test
    void badIndentationIsReportedWithItsLine() throws IOException {
        ManifestException e = read("indent.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   labels: {}\n");
        assertTrue(e.getMessage().contains("document 1: invalid YAML at line 5"), e.getMessage());
    }

    @Test
    void aDuplicateObjectNamesBothSources() throws IOException {
        Path first = write("a.yaml", SERVICE);
        Path second = write("b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\n" + SERVICE);
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.read(List.of(first, second)));
        assertEquals(second + ", document 2 (Service default/web): field metadata.name: defined twice:"
                + " Service default/web is also defined in " + first + ", document 1", e.getMessage());
    }

    @Test
    void theSameNameInAnotherNamespaceIsAnotherObject() throws IOException {
        Path file = write("two.yaml", SERVICE + "---\n" + SERVICE.replace("  name: web\n", "  name: web\n  namespace: prod\n"));
        assertEquals(2, ManifestReader.read(List.of(file)).services().size());
    }

    @Test
    void everyProblemIsListed() throws IOException {
        Path file = write("many.yaml", deployment("-1", "v1", "- containerPort: 80") + "---\n"
                + service("1.2.3", "  - port: 80"));
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.read(List.of(file)));
        assertEquals(2, e.problems().size());
        assertEquals("spec.replicas", e.field());
        assertEquals("spec.clusterIP", e.problems().get(1).field());
        assertEquals(2, e.problems().get(1).source().document());
        assertTrue(e.getMessage().startsWith("2 problems in the manifests:\n  " + file + ", document 1"), e.getMessage());
        assertTrue(e.getMessage().contains("\n  " + file + ", document 2 (Service default/web): field spec.clusterIP"), e.getMessage());
    }

    @Test
    void aMissingFileIsNamed() {
        Path missing = dir.resolve("absent.yaml");
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.read(List.of(missing)));
        assertEquals(missing + ": cannot be read: no such file or directory", e.getMessage());
    }

    @Test
    void aDocumentThatIsNotAMappingIsRefused() throws IOException {
        ManifestException e = read("scalar.yaml", SERVICE + "---\njust some text\n");
        assertTrue(e.getMessage().contains("scalar.yaml, document 2: must be a mapping"), e.getMessage());
    }

    private ManifestException read(String name, String yaml) throws IOException {
        Path file = write(name, yaml);
        return assertThrows(ManifestException.class, () -> ManifestReader.read(List.of(file)));
    }

    private Path write(String name, String yaml) throws IOException {
        return Files.writeString(dir.resolve(name), yaml);
    }
}
