package dev.sluice.e2e;

import dev.sluice.e2e.PodProbe.Outcome;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.linux.NetNs;
import dev.sluice.model.ContainerPort;
import dev.sluice.model.Desired;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.NamespaceSpec;
import dev.sluice.model.Protocol;
import dev.sluice.policy.ConnectionDecision;
import dev.sluice.policy.Endpoint;
import dev.sluice.policy.IdentityAllocator;
import dev.sluice.policy.PolicyParser;
import dev.sluice.policy.PolicySet;
import dev.sluice.policy.ReferenceEvaluator;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random policies applied to a two-node lab, and random connections between its pods made for real: the
 * datapath's verdict (the connection got through, or was dropped) must equal the reference evaluator's
 * for both ends (client egress and server ingress), every time.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PolicyDifferentialLabTest {
    private static final int SETS = 25;
    private static final int CONNECTIONS_PER_SET = 40;
    private static final int TIMEOUT_MS = 800;
    private static final String[] APPS = {"web", "api", "client", "db"};
    private Lab lab;
    private Path dir;
    private final ExecutorService pool = Executors.newFixedThreadPool(8);
    /** Below the ephemeral range (32768+), so that no socket the kernel numbers collides with them. */
    private int nextSourcePort = 20000;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        dir = Files.createTempDirectory("policy-diff");
        lab = TestLabs.create("d");
        lab.up(2, ManifestReader.read(List.of(Path.of(PolicyDifferentialLabTest.class.getResource("/policy-lab.yaml").toURI()))), null);
    }

    @AfterAll
    void down() {
        pool.shutdownNow();
        if (lab != null) {
            TestLabs.down(lab);
        }
    }

    record Attempt(PodState from, PodState to, Protocol proto, int port) {
    }

    @Test
    void theDatapathDecidesEveryConnectionAsTheReferenceEvaluator() throws Exception {
        LabState state = lab.state();
        Map<String, Map<String, String>> nsLabels = state.desired().namespaces().stream()
                .collect(Collectors.toMap(NamespaceSpec::name, NamespaceSpec::labels));
        IdentityAllocator allocator = new IdentityAllocator();
        Map<PodState, Endpoint> endpoints = new LinkedHashMap<>();
        for (PodState p : state.pods()) {
            List<ContainerPort> ports = state.desired().deployments().stream()
                    .filter(d -> d.ref().namespace().equals(p.namespace()) && d.ref().name().equals(p.owner()))
                    .flatMap(d -> d.template().containers().stream()).flatMap(c -> c.ports().stream()).toList();
            // With its address, as the agents see it: NetworkPolicy ipBlocks select pods by address.
            endpoints.put(p, Endpoint.of(allocator, p.namespace(), p.name(), p.labels(), nsLabels.getOrDefault(p.namespace(), Map.of()), ports)
                    .at((java.net.Inet4Address) dev.sluice.policy.Cidr.address(p.ip())));
        }
        List<PodState> pods = List.copyOf(endpoints.keySet());
        ReferenceEvaluator oracle = ReferenceEvaluator.kubernetesDefaults();
        List<String> mismatches = new ArrayList<>();
        int cases = 0;
        int allowed = 0;
        for (int set = 1; set <= SETS; set++) {
            Random random = new Random(set);
            Path file = dir.resolve("set-" + set + ".yaml");
            Files.writeString(file, randomPolicies(random) + ipBlocks(new Random(set * 7919L), pods));
            Desired policies = ManifestReader.read(List.of(file), w -> { });
            PolicySet parsed = PolicyParser.parseAll(policies.others(), w -> { });
            lab.apply(policies);
            try {
                List<Attempt> attempts = new ArrayList<>();
                while (attempts.size() < CONNECTIONS_PER_SET) {
                    PodState from = pods.get(random.nextInt(pods.size()));
                    PodState to = pods.get(random.nextInt(pods.size()));
                    if (from == to) {
                        continue; // a pod's traffic to its own address never leaves it: no veth sees it (nor in Cilium)
                    }
                    boolean udp = random.nextInt(4) == 0;
                    attempts.add(new Attempt(from, to, udp ? Protocol.UDP : Protocol.TCP, udp ? 5353 : random.nextBoolean() ? 8080 : 9090));
                }
                List<CompletableFuture<String>> results = new ArrayList<>();
                for (Attempt a : attempts) {
                    // A source port no earlier attempt used: a conntrack entry of an earlier set's connection
                    // keeps its verdict for its lifetime (as in Cilium), and a reused tuple would inherit it.
                    int sourcePort = nextSourcePort++;
                    ConnectionDecision expected = oracle.decideConnection(parsed, endpoints.get(a.from()), endpoints.get(a.to()), a.proto(), a.port());
                    results.add(CompletableFuture.supplyAsync(() -> {
                        NetNs from = NetNs.existing(a.from().netns());
                        Outcome o = a.proto() == Protocol.UDP ? PodProbe.udp(from, a.to().ip(), a.port(), TIMEOUT_MS, sourcePort)
                                : PodProbe.tcp(from, a.to().ip(), a.port(), TIMEOUT_MS, sourcePort);
                        boolean through = o != Outcome.DROPPED;
                        return through == expected.allowed() ? (through ? "+" : "-")
                                : a.from().key() + " -> " + a.to().key() + " " + a.proto() + "/" + a.port() + ": datapath " + o + ", reference " + expected;
                    }, pool));
                }
                for (CompletableFuture<String> r : results) {
                    String outcome = r.join();
                    cases++;
                    if (outcome.equals("+")) {
                        allowed++;
                    } else if (!outcome.equals("-")) {
                        mismatches.add("set " + set + ": " + outcome + "\n" + Files.readString(file));
                    }
                }
            } finally {
                lab.delete(policies);
            }
        }
        assertEquals(List.of(), mismatches);
        assertTrue(cases >= 1000 && allowed > cases / 10 && allowed < cases * 9 / 10, cases + " cases, " + allowed + " allowed: both outcomes are exercised");
        System.out.println("[PolicyDifferentialLabTest] " + cases + " real connections under " + SETS + " random policy sets: " + allowed
                + " allowed, " + (cases - allowed) + " dropped, 0 mismatches with the reference evaluator");
    }

    /**
     * Sometimes a NetworkPolicy whose ipBlock covers a pod's address (alone, or its node's /24 with that pod
     * excepted): upstream's semantics, which select the pod by address. Drawn from a Random of its own, so the
     * CiliumNetworkPolicies of each set stay those of earlier runs.
     */
    private static String ipBlocks(Random r, List<PodState> pods) {
        if (r.nextInt(3) != 0) {
            return "";
        }
        String ip = pods.get(r.nextInt(pods.size())).ip();
        String block = r.nextBoolean() ? "{cidr: " + ip + "/32}"
                : "{cidr: " + ip.substring(0, ip.lastIndexOf('.')) + ".0/24, except: [" + ip + "/32]}";
        boolean egress = r.nextBoolean();
        return "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ipblock, namespace: default}\nspec:\n"
                + "  podSelector: {matchLabels: {app: " + APPS[r.nextInt(APPS.length)] + "}}\n"
                + "  policyTypes: [" + (egress ? "Egress" : "Ingress") + "]\n  " + (egress ? "egress" : "ingress") + ":\n"
                + "  - " + (egress ? "to" : "from") + ":\n    - ipBlock: " + block + "\n";
    }

    private static String randomPolicies(Random r) {
        StringBuilder y = new StringBuilder();
        int n = 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
            String ns = r.nextInt(3) == 0 ? "shop" : "default";
            y.append("---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p").append(i).append(", namespace: ").append(ns)
                    .append("}\nspec:\n  endpointSelector: ").append(r.nextInt(4) == 0 ? "{}" : "{matchLabels: {app: " + APPS[r.nextInt(APPS.length)] + "}}")
                    .append('\n');
            for (String section : new String[] {"ingress", "egress", "ingressDeny", "egressDeny"}) {
                if (r.nextInt(section.endsWith("Deny") ? 3 : 2) != 0) {
                    continue;
                }
                boolean in = section.startsWith("ingress");
                y.append("  ").append(section).append(":\n");
                for (int k = 0; k < 1 + r.nextInt(2); k++) {
                    switch (r.nextInt(4)) {
                        case 0 -> y.append("  - ").append(in ? "fromEndpoints" : "toEndpoints").append(": [{matchLabels: {app: ")
                                .append(APPS[r.nextInt(APPS.length)]).append("}}]\n");
                        case 1 -> y.append("  - ").append(in ? "fromEndpoints" : "toEndpoints").append(": [{matchLabels: {k8s:io.kubernetes.pod.namespace: ")
                                .append(r.nextBoolean() ? "shop" : "default").append("}}]\n");
                        case 2 -> y.append("  - ").append(in ? "fromEntities" : "toEntities").append(": [")
                                .append(new String[] {"cluster", "all", "world"}[r.nextInt(3)]).append("]\n");
                        default -> y.append("  - ").append(in ? "fromEndpoints" : "toEndpoints").append(": [{}]\n");
                    }
                    if (r.nextBoolean()) {
                        String port = new String[] {"8080", "9090", "http", "admin", "5353"}[r.nextInt(5)];
                        String proto = port.equals("5353") ? new String[] {"UDP", "ANY"}[r.nextInt(2)] : new String[] {"TCP", "ANY"}[r.nextInt(2)];
                        // Some ingress TCP ports carry HTTP rules (chosen without drawing from r, so the rest of
                        // the generated policies stay as they were): their peers are then admitted only through the
                        // node proxies, which the kernel must show by dropping them directly.
                        String http = section.equals("ingress") && proto.equals("TCP") && (i + k) % 3 == 0
                                ? ", rules: {http: [{method: GET}]}" : "";
                        y.append("    toPorts: [{ports: [{port: \"").append(port).append("\", protocol: ").append(proto).append("}]")
                                .append(http).append("}]\n");
                    }
                }
            }
        }
        return y.toString();
    }
}
