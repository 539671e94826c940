package dev.sluice.agent.policy;

import dev.sluice.model.ContainerPort;
import dev.sluice.model.Desired;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.Protocol;
import dev.sluice.policy.Cidr;
import dev.sluice.policy.Decision;
import dev.sluice.policy.Direction;
import dev.sluice.policy.Endpoint;
import dev.sluice.policy.Identity;
import dev.sluice.policy.IdentityAllocator;
import dev.sluice.policy.Peer;
import dev.sluice.policy.PolicyParser;
import dev.sluice.policy.PolicySet;
import dev.sluice.policy.ReferenceEvaluator;
import dev.sluice.policy.ReservedIdentity;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random policies in Cilium's language, compiled to policy-map entries, then random connections decided
 * twice: by the datapath's lookup over the compiled entries and by the reference evaluator. Verdict, drop
 * reason and the rule blamed must agree every time, for TCP, UDP and SCTP by port and for protocols without
 * ports (ICMP, GRE, 253), which only L3-only rules decide.
 */
class PolicyCompilerDifferentialTest {
    private static final String[] APPS = {"web", "api", "db"};
    private static final String[] NAMESPACES = {"default", "shop"};
    private static final List<ContainerPort> PORTS = List.of(new ContainerPort("http", 80, Protocol.TCP),
            new ContainerPort("admin", 8080, Protocol.TCP), new ContainerPort("dns", 53, Protocol.UDP));

    private static final int[] IP_PROTOCOLS = {6, 6, 17, 17, 132, 1, 47, 253};

    record Case(int seed, String yaml) {
    }

    @Test
    void compiledEntriesDecideExactlyAsTheReferenceEvaluator(@TempDir Path dir) throws Exception {
        ReferenceEvaluator oracle = ReferenceEvaluator.kubernetesDefaults();
        int compared = 0;
        int policies = 0;
        for (int seed = 1; seed <= 60; seed++) {
            Random random = new Random(seed);
            String yaml = randomPolicies(random);
            Path file = dir.resolve("policies-" + seed + ".yaml");
            Files.writeString(file, yaml);
            Desired desired = ManifestReader.read(List.of(file), w -> { });
            PolicySet set = PolicyParser.parseAll(desired.others(), w -> { });
            policies += set.policies().size();

            IdentityAllocator allocator = new IdentityAllocator();
            List<Endpoint> cluster = new ArrayList<>();
            for (String ns : NAMESPACES) {
                for (String app : APPS) {
                    for (String tier : new String[] {"v1", "v2"}) {
                        cluster.add(Endpoint.of(allocator, ns, app + "-" + tier, Map.of("app", app, "version", tier, "pod-template-hash", "h" + tier), Map.of(), PORTS));
                    }
                }
            }
            Map<Cidr, Identity> cidrs = allocator.allocateCidrs(set);
            Map<Endpoint, Integer> local = new LinkedHashMap<>();
            for (int i = 0; i < cluster.size(); i++) {
                local.put(cluster.get(i), i + 1);
            }
            RuleTable rules = new RuleTable();
            List<EndpointPolicy> compiled = new PolicyCompiler(oracle, rules).compile(set, local, cluster, cidrs);
            List<PolicyCompiler.KnownPeer> peers = PolicyCompiler.peers(cluster, cidrs);
            int[] ports = {80, 8080, 53, 443, 1, 9000, 9001, 30000, 65535};

            for (int q = 0; q < 40; q++) {
                int e = random.nextInt(cluster.size());
                Endpoint subject = cluster.get(e);
                EndpointPolicy ep = compiled.get(e);
                Direction direction = random.nextBoolean() ? Direction.INGRESS : Direction.EGRESS;
                PolicyCompiler.KnownPeer peer = peers.get(random.nextInt(peers.size()));
                // TCP, UDP, SCTP by port; ICMP (looked up by its type, an echo request here), GRE and 253 without.
                int proto = IP_PROTOCOLS[random.nextInt(IP_PROTOCOLS.length)];
                int port = random.nextInt(4) == 0 ? 1 + random.nextInt(65535) : ports[random.nextInt(ports.length)];
                int lookupPort = ReferenceEvaluator.transport(proto) != null ? port : proto == 1 ? 8 : 0;

                Decision expected = oracle.decideIp(set, subject, direction, peer.peer(), proto, port);
                PolicyLookup.Verdict actual = new PolicyLookup(ep).decide(PolicyCompiler.index(direction), peer.identity(),
                        proto, lookupPort);
                String where = "seed " + seed + ": " + subject + " " + direction + " " + peer.peer() + " " + proto + "/" + lookupPort + "\n" + yaml;
                assertEquals(expected.allowed(), actual.allowed(), "verdict, " + where);
                assertEquals(expected.dropReasonCode(), actual.dropReason(), "drop reason, " + where);
                assertEquals(rules.id(expected.policy(), expected.rule()), actual.ruleId(), "rule blamed, " + where);
                compared++;
            }
        }
        assertTrue(compared >= 2400 && policies >= 100, compared + " comparisons over " + policies + " policies");
        System.out.println("[PolicyCompilerDifferentialTest] " + compared + " decisions over " + policies + " random policies: no mismatch");
    }

    private static String randomPolicies(Random r) {
        StringBuilder y = new StringBuilder();
        int n = 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
            String ns = NAMESPACES[r.nextInt(NAMESPACES.length)];
            y.append("---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: p").append(i)
                    .append("\n  namespace: ").append(ns).append("\nspec:\n  endpointSelector:\n");
            if (r.nextInt(4) == 0) {
                y.append("    {}\n");
            } else {
                y.append("    matchLabels:\n      app: ").append(APPS[r.nextInt(APPS.length)]).append('\n');
            }
            for (String section : new String[] {"ingress", "egress", "ingressDeny", "egressDeny"}) {
                if (r.nextInt(3) == 0) {
                    continue;
                }
                y.append("  ").append(section).append(":\n");
                int rules = 1 + r.nextInt(2);
                for (int k = 0; k < rules; k++) {
                    boolean in = section.startsWith("ingress");
                    String first = "  - ";
                    switch (r.nextInt(5)) {
                        case 0 -> y.append(first).append(in ? "fromEndpoints" : "toEndpoints").append(":\n    - matchLabels:\n        app: ")
                                .append(APPS[r.nextInt(APPS.length)]).append('\n');
                        case 1 -> y.append(first).append(in ? "fromEndpoints" : "toEndpoints").append(":\n    - matchLabels:\n        k8s:io.kubernetes.pod.namespace: ")
                                .append(NAMESPACES[r.nextInt(NAMESPACES.length)]).append('\n');
                        case 2 -> y.append(first).append(in ? "fromEntities" : "toEntities").append(":\n    - ")
                                .append(new String[] {"world", "cluster", "host", "all"}[r.nextInt(4)]).append('\n');
                        case 3 -> {
                            int net = r.nextInt(3);
                            y.append(first).append(in ? "fromCIDRSet" : "toCIDRSet").append(":\n    - cidr: 10.").append(net)
                                    .append(".0.0/16\n      except:\n      - 10.").append(net).append(".").append(r.nextInt(3)).append(".0/24\n");
                        }
                        default -> y.append(first).append("toPorts:\n    - ports:\n      - port: \"").append(new String[] {"80", "8080", "53", "http"}[r.nextInt(4)])
                                .append("\"\n        protocol: ").append(new String[] {"TCP", "UDP", "SCTP", "ANY"}[r.nextInt(4)]).append('\n');
                    }
                    if (r.nextBoolean() && !y.toString().endsWith("protocol: TCP\n") && !y.toString().endsWith("protocol: UDP\n")
                            && !y.toString().endsWith("protocol: ANY\n") && !y.toString().endsWith("protocol: SCTP\n")) {
                        String port = new String[] {"80", "9000", "http", "dns"}[r.nextInt(4)];
                        y.append("    toPorts:\n    - ports:\n      - port: \"").append(port).append("\"\n");
                        if (port.equals("9000") && r.nextBoolean()) {
                            y.append("        endPort: 9010\n");
                        }
                        String protocol = new String[] {"TCP", "UDP", "SCTP", "ANY"}[r.nextInt(4)];
                        y.append("        protocol: ").append(protocol).append('\n');
                        // HTTP rules: the peer is then admitted through the node proxies only (host, remote-node)
                        if (section.equals("ingress") && protocol.equals("TCP") && r.nextInt(3) == 0) {
                            y.append("      rules:\n        http:\n        - {method: GET}\n");
                        }
                    }
                }
            }
        }
        return y.toString();
    }

}
