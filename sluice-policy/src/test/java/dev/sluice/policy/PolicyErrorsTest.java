package dev.sluice.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.model.ManifestException;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.Source;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Policies Sluice refuses, each error naming the file, the document, the policy and the field. */
class PolicyErrorsTest {
    @TempDir
    Path dir;

    /** In {@code document} of {@code file}, the policy {@code object}, at {@code field}, a message saying {@code says}. */
    record Case(String file, int document, String object, String field, String says, String yaml) {
        @Override
        public String toString() {
            return file;
        }
    }

    private static final String OTHER = """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: unrelated}
            data: {a: b}
            ---
            """;

    /** A CiliumNetworkPolicy prod/p whose spec is {@code spec}, indented as the spec's body. */
    private static String cnp(String spec) {
        return """
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: p, namespace: prod}
                spec:
                %s
                """.formatted(spec.indent(2).stripTrailing());
    }

    private static String ingressPorts(String port) {
        return cnp("""
                endpointSelector: {matchLabels: {app: web}}
                ingress:
                - toPorts:
                  - ports:
                    - %s
                """.formatted(port));
    }

    private static String netpol(String spec) {
        return """
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: {name: np, namespace: prod}
                spec:
                %s
                """.formatted(spec.indent(2).stripTrailing());
    }

    static Stream<Case> cases() {
        String cnp = "CiliumNetworkPolicy prod/p";
        String np = "NetworkPolicy prod/np";
        String port0 = "spec.ingress[0].toPorts[0].ports[0]";
        return Stream.of(
                new Case("port-range.yaml", 2, cnp, port0 + ".port", "must be a port number 0..65535 (0 for every port)"
                        + " or a port name, got \"70000\"", OTHER + ingressPorts("{port: \"70000\", protocol: TCP}")),
                new Case("port-unquoted.yaml", 1, cnp, port0 + ".port", "must be a string, as Cilium's schema says:"
                        + " write \"80\"", ingressPorts("{port: 80}")),
                new Case("port-leading-zero.yaml", 1, cnp, port0 + ".port", "got \"080\"", ingressPorts("{port: \"080\"}")),
                new Case("protocol.yaml", 1, cnp, port0 + ".protocol", "must be TCP, UDP, SCTP or ANY, got \"HTTP\"",
                        ingressPorts("{port: \"80\", protocol: HTTP}")),
                new Case("end-port.yaml", 1, cnp, port0 + ".endPort", "must be 9000..65535 (at least port), got 8000",
                        ingressPorts("{port: \"9000\", endPort: 8000}")),
                new Case("end-port-named.yaml", 1, cnp, port0 + ".endPort", "needs a numeric port",
                        ingressPorts("{port: http, endPort: 8000}")),
                new Case("typo.yaml", 1, cnp, "spec.ingress[0].fromEndpoint", "did you mean fromEndpoints?", cnp("""
                        endpointSelector: {}
                        ingress:
                        - fromEndpoint:
                          - matchLabels: {app: api}
                        """)),
                new Case("fqdn.yaml", 1, cnp, "spec.egress[0].toFQDNs", "is not supported by Sluice yet", cnp("""
                        endpointSelector: {}
                        egress:
                        - toFQDNs:
                          - matchName: example.com
                        """)),
                new Case("entity.yaml", 1, cnp, "spec.ingress[0].fromEntities[1]", "got \"internet\"", cnp("""
                        endpointSelector: {}
                        ingress:
                        - fromEntities: [cluster, internet]
                        """)),
                new Case("world-ipv4.yaml", 1, cnp, "spec.ingress[0].fromEntities[0]", "the lab is IPv4-only", cnp("""
                        endpointSelector: {}
                        ingress:
                        - fromEntities: [world-ipv4]
                        """)),
                new Case("cidr.yaml", 1, cnp, "spec.egress[0].toCIDR[0]", "got \"10.0.0.0/33\"", cnp("""
                        endpointSelector: {}
                        egress:
                        - toCIDR: [10.0.0.0/33]
                        """)),
                new Case("cidr-except.yaml", 1, cnp, "spec.egress[0].toCIDRSet[0].except[0]", "is not within 10.0.0.0/8",
                        cnp("""
                        endpointSelector: {}
                        egress:
                        - toCIDRSet:
                          - {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}
                        """)),
                new Case("combined-l3.yaml", 1, cnp, "spec.ingress[0].fromCIDR", "cannot be combined with fromEndpoints",
                        cnp("""
                        endpointSelector: {}
                        ingress:
                        - fromEndpoints: [{matchLabels: {app: api}}]
                          fromCIDR: [10.0.0.0/8]
                        """)),
                new Case("empty-peers.yaml", 1, cnp, "spec.ingress[0].fromEndpoints", "is an empty list", cnp("""
                        endpointSelector: {}
                        ingress:
                        - fromEndpoints: []
                          toPorts: [{ports: [{port: "80"}]}]
                        """)),
                new Case("operator.yaml", 1, cnp, "spec.endpointSelector.matchExpressions[0].operator",
                        "must be In, NotIn, Exists or DoesNotExist, got \"Equals\"", cnp("""
                        endpointSelector:
                          matchExpressions:
                          - {key: app, operator: Equals, values: [web]}
                        """)),
                new Case("exists-values.yaml", 1, cnp, "spec.endpointSelector.matchExpressions[0].values",
                        "must be empty for operator Exists", cnp("""
                        endpointSelector:
                          matchExpressions:
                          - {key: app, operator: Exists, values: [web]}
                        """)),
                new Case("label-number.yaml", 1, cnp, "spec.endpointSelector.matchLabels.version", "quote it: \"1.0\"",
                        cnp("endpointSelector: {matchLabels: {version: 1.0}}\n")),
                new Case("label-source.yaml", 1, cnp, "spec.ingress[0].fromEndpoints[0].matchLabels.container:app",
                        "label source \"container\"", cnp("""
                        endpointSelector: {}
                        ingress:
                        - fromEndpoints: [{matchLabels: {"container:app": web}}]
                        """)),
                new Case("no-selector.yaml", 1, cnp, "specs[1].endpointSelector", "is required", """
                        apiVersion: cilium.io/v2
                        kind: CiliumNetworkPolicy
                        metadata: {name: p, namespace: prod}
                        specs:
                        - endpointSelector: {}
                        - ingress: [{}]
                        """),
                new Case("no-spec.yaml", 1, cnp, "spec", "is required (or specs", """
                        apiVersion: cilium.io/v2
                        kind: CiliumNetworkPolicy
                        metadata: {name: p, namespace: prod}
                        """),
                new Case("node-selector.yaml", 1, cnp, "spec.nodeSelector", "host policies", cnp("nodeSelector: {}\n")),
                new Case("l7-any.yaml", 1, cnp, port0 + ".protocol", "must be TCP in a port rule with L7 rules", cnp("""
                        endpointSelector: {}
                        ingress:
                        - toPorts:
                          - ports: [{port: "80"}]
                            rules: {http: [{method: GET}]}
                        """)),
                new Case("dns-ingress.yaml", 1, cnp, "spec.ingress[0].toPorts[0].rules.dns", "egress only", cnp("""
                        endpointSelector: {}
                        ingress:
                        - toPorts:
                          - ports: [{port: "53", protocol: UDP}]
                            rules: {dns: [{matchPattern: "*"}]}
                        """)),
                new Case("http-regex.yaml", 1, cnp, "spec.ingress[0].toPorts[0].rules.http[1].path",
                        "is not a valid regular expression: Unclosed group", cnp("""
                        endpointSelector: {}
                        ingress:
                        - toPorts:
                          - ports: [{port: "80", protocol: TCP}]
                            rules: {http: [{method: GET}, {path: "/(public"}]}
                        """)),
                new Case("http-mismatch.yaml", 1, cnp, "spec.ingress[0].toPorts[0].rules.http[0].headerMatches[0].mismatch",
                        "a mismatch action (LOG, ADD, DELETE, REPLACE)", cnp("""
                        endpointSelector: {}
                        ingress:
                        - toPorts:
                          - ports: [{port: "80", protocol: TCP}]
                            rules: {http: [{headerMatches: [{name: x-token, value: a, mismatch: LOG}]}]}
                        """)),
                new Case("http-field.yaml", 1, cnp, "spec.ingress[0].toPorts[0].rules.http[0].methods",
                        "did you mean method?", cnp("""
                        endpointSelector: {}
                        ingress:
                        - toPorts:
                          - ports: [{port: "80", protocol: TCP}]
                            rules: {http: [{methods: GET}]}
                        """)),
                new Case("http-egress.yaml", 1, cnp, "spec.egress[0].toPorts[0].rules.http", "on egress", cnp("""
                        endpointSelector: {}
                        egress:
                        - toPorts:
                          - ports: [{port: "80", protocol: TCP}]
                            rules: {http: [{method: GET}]}
                        """)),
                new Case("http-no-default-deny.yaml", 1, cnp, "spec.enableDefaultDeny.ingress", "needs the endpoint in default deny", cnp("""
                        endpointSelector: {}
                        enableDefaultDeny: {ingress: false}
                        ingress:
                        - toPorts:
                          - ports: [{port: "80", protocol: TCP}]
                            rules: {http: [{method: GET}]}
                        """)),
                new Case("kafka.yaml", 1, cnp, "spec.ingress[0].toPorts[0].rules.kafka", "enforces HTTP rules only", cnp("""
                        endpointSelector: {}
                        ingress:
                        - toPorts:
                          - ports: [{port: "9092", protocol: TCP}]
                            rules: {kafka: [{topic: t}]}
                        """)),
                new Case("deny-l7.yaml", 1, cnp, "spec.egressDeny[0].toPorts[0].rules", "carry no L7 rules", cnp("""
                        endpointSelector: {}
                        egressDeny:
                        - toPorts:
                          - ports: [{port: "80", protocol: TCP}]
                            rules: {http: [{method: GET}]}
                        """)),
                new Case("cnp-version.yaml", 1, "CiliumNetworkPolicy prod/p", "apiVersion", "is served as cilium.io/v2, got"
                        + " \"cilium.io/v1\"", cnp("endpointSelector: {}\n").replace("cilium.io/v2", "cilium.io/v1")),
                new Case("np-port-quoted.yaml", 1, np, "spec.ingress[0].ports[0].port", "written without quotes", netpol("""
                        podSelector: {}
                        ingress:
                        - ports: [{port: "80"}]
                        """)),
                new Case("np-ipblock.yaml", 1, np, "spec.ingress[0].from[0].ipBlock", "cannot be combined with podSelector",
                        netpol("""
                        podSelector: {}
                        ingress:
                        - from:
                          - podSelector: {}
                            ipBlock: {cidr: 10.0.0.0/8}
                        """)),
                new Case("np-types.yaml", 1, np, "spec.ingress", "policyTypes does not list Ingress", netpol("""
                        podSelector: {}
                        policyTypes: [Egress]
                        ingress:
                        - from: [{podSelector: {}}]
                        """)),
                new Case("np-peer.yaml", 1, np, "spec.egress[0].to[0]", "must have podSelector, namespaceSelector or ipBlock",
                        netpol("""
                        podSelector: {}
                        egress:
                        - to: [{}]
                        """)),
                new Case("np-except.yaml", 1, np, "spec.ingress[0].from[0].ipBlock.except[0]", "strictly within",
                        netpol("""
                        podSelector: {}
                        ingress:
                        - from:
                          - ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}
                        """)),
                new Case("np-no-selector.yaml", 1, np, "spec.podSelector", "is required", netpol("policyTypes: [Ingress]\n")),
                new Case("np-label-key.yaml", 1, np, "spec.podSelector.matchLabels.-app", "is not a valid label key",
                        netpol("podSelector: {matchLabels: {-app: web}}\n")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void theErrorNamesFileDocumentObjectAndField(Case bad) throws IOException {
        ManifestException e = parse(bad.file, bad.yaml);
        String start = dir.resolve(bad.file) + ", document " + bad.document + " (" + bad.object + "): field " + bad.field + ": ";
        assertTrue(e.getMessage().startsWith(start), () -> "expected to start with <" + start + ">, got <" + e.getMessage() + ">");
        assertTrue(e.getMessage().contains(bad.says), e.getMessage());
        assertEquals(bad.field, e.field());
        assertEquals(new Source(dir.resolve(bad.file), bad.document), e.source());
    }

    @Test
    void everyBrokenPolicyIsReportedTheFirstWithTheOthersAttached() throws IOException {
        ManifestException e = parse("two.yaml", ingressPorts("{port: \"70000\"}") + "---\n"
                + ingressPorts("{port: \"1\", protocol: tcp}").replace("name: p,", "name: q,"));
        assertEquals("spec.ingress[0].toPorts[0].ports[0].port", e.field());
        assertEquals(1, e.getSuppressed().length);
        ManifestException second = (ManifestException) e.getSuppressed()[0];
        assertEquals(new Source(dir.resolve("two.yaml"), 2), second.source());
        assertTrue(second.getMessage().contains("(CiliumNetworkPolicy prod/q): field spec.ingress[0].toPorts[0].ports[0].protocol"),
                second.getMessage());
    }

    @Test
    void otherKindsAndOtherGroupsAreLeftAlone() throws IOException {
        String calico = """
                apiVersion: projectcalico.org/v3
                kind: NetworkPolicy
                metadata: {name: calico, namespace: prod}
                spec: {selector: all(), anything: goes}
                """;
        Path file = dir.resolve("others.yaml");
        Files.writeString(file, OTHER + calico);
        assertEquals(PolicySet.EMPTY, PolicyParser.parseAll(ManifestReader.read(List.of(file)).others(), w -> { }));
    }

    private ManifestException parse(String name, String yaml) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, yaml);
        List<String> warnings = new ArrayList<>();
        // The model must accept the file: these are policies only Sluice's policy reading refuses.
        var others = ManifestReader.read(List.of(file)).others();
        return assertThrows(ManifestException.class, () -> PolicyParser.parseAll(others, warnings::add));
    }
}
