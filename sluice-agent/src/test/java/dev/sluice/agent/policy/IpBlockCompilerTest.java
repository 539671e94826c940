package dev.sluice.agent.policy;

import dev.sluice.model.ContainerPort;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.Protocol;
import dev.sluice.policy.Cidr;
import dev.sluice.policy.Decision;
import dev.sluice.policy.Direction;
import dev.sluice.policy.Endpoint;
import dev.sluice.policy.Identity;
import dev.sluice.policy.IdentityAllocator;
import dev.sluice.policy.PeerIdentities;
import dev.sluice.policy.PolicyParser;
import dev.sluice.policy.PolicySet;
import dev.sluice.policy.ReferenceEvaluator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.Inet4Address;
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
 * NetworkPolicy ipBlocks over pod addresses, where replicas share an identity but not an address: every pod, as a
 * peer, is looked up in the compiled entries under the identity the ipcache gives its address, and must be decided
 * as the reference evaluator decides that very pod. Compiled without the address-split identities the same
 * policies over-allow (or over-deny) replicas, which the test also shows, so it can tell the two apart.
 */
class IpBlockCompilerTest {
    private static final List<ContainerPort> PORTS = List.of(new ContainerPort("serve-80-tcp", 80, Protocol.TCP),
            new ContainerPort("serve-81-tcp", 81, Protocol.TCP), new ContainerPort("serve-80-udp", 80, Protocol.UDP));
    private static final String[] NAMESPACES = {"x", "y"};
    private static final String[] APPS = {"a", "b"};

    @Test
    void everyPodIsDecidedByItsOwnAddress(@TempDir Path dir) throws Exception {
        ReferenceEvaluator oracle = ReferenceEvaluator.kubernetesDefaults();
        int compared = 0;
        int splitPods = 0;
        int mismatchesWithoutSplit = 0;
        for (int seed = 1; seed <= 40; seed++) {
            Random random = new Random(seed);
            Path file = dir.resolve("p" + seed + ".yaml");
            String yaml = randomPolicies(random);
            Files.writeString(file, yaml);
            PolicySet set = PolicyParser.parseAll(ManifestReader.read(List.of(file), w -> { }).others(), w -> { });

            IdentityAllocator allocator = new IdentityAllocator();
            List<Endpoint> cluster = new ArrayList<>();
            int host = 10;
            for (String ns : NAMESPACES) {
                for (String app : APPS) {
                    for (int replica = 0; replica < 2; replica++) {
                        cluster.add(Endpoint.of(allocator, ns, app + "-" + replica, Map.of("app", app), Map.of(), PORTS)
                                .at((Inet4Address) Cidr.address("10.244.0." + host++)));
                    }
                }
            }
            Map<Cidr, Identity> cidrs = allocator.allocateCidrs(set);
            Map<Endpoint, Identity> split = PeerIdentities.split(set, cluster, allocator);
            splitPods += split.size();
            Map<Endpoint, Integer> local = new LinkedHashMap<>();
            for (int i = 0; i < cluster.size(); i++) {
                local.put(cluster.get(i), i + 1);
            }
            RuleTable rules = new RuleTable();
            List<EndpointPolicy> compiled = new PolicyCompiler(oracle, rules).compile(set, local, cluster, split, cidrs);
            List<EndpointPolicy> unsplit = new PolicyCompiler(oracle, new RuleTable()).compile(set, local, cluster, cidrs);

            for (int s = 0; s < cluster.size(); s++) {
                for (Endpoint peer : cluster) {
                    for (Direction direction : Direction.values()) {
                        for (int[] pp : new int[][] {{6, 80}, {6, 81}, {17, 80}, {6, 443}}) {
                            Decision expected = oracle.decideIp(set, cluster.get(s), direction, peer, pp[0], pp[1]);
                            PolicyLookup.Verdict actual = new PolicyLookup(compiled.get(s)).decide(PolicyCompiler.index(direction),
                                    split.getOrDefault(peer, peer.identity()).id(), pp[0], pp[1]);
                            String where = "seed " + seed + ": " + cluster.get(s) + " " + direction + " " + peer + " at "
                                    + peer.address().getHostAddress() + " " + pp[0] + "/" + pp[1] + "\n" + yaml;
                            assertEquals(expected.allowed(), actual.allowed(), "verdict, " + where);
                            assertEquals(rules.id(expected.policy(), expected.rule()), actual.ruleId(), "rule blamed, " + where);
                            compared++;
                            if (new PolicyLookup(unsplit.get(s)).decide(PolicyCompiler.index(direction), peer.identity().id(), pp[0], pp[1])
                                    .allowed() != expected.allowed()) {
                                mismatchesWithoutSplit++;
                            }
                        }
                    }
                }
            }
        }
        assertTrue(compared > 10_000 && splitPods > 20, compared + " comparisons, " + splitPods + " pods set apart");
        assertTrue(mismatchesWithoutSplit > 0, "one identity per label set would have decided these policies the same");
        System.out.println("[IpBlockCompilerTest] " + compared + " decisions, " + splitPods + " pods given an identity of their own:"
                + " no mismatch (one identity per label set: " + mismatchesWithoutSplit + " mismatches)");
    }

    /** NetworkPolicies whose ipBlocks cover single pods, halves of the pods, or all with an except. */
    private static String randomPolicies(Random r) {
        StringBuilder y = new StringBuilder();
        int n = 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
            boolean egress = r.nextBoolean();
            y.append("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p").append(i)
                    .append(", namespace: ").append(NAMESPACES[r.nextInt(2)]).append("}\nspec:\n  podSelector: ")
                    .append(r.nextBoolean() ? "{}" : "{matchLabels: {app: " + APPS[r.nextInt(2)] + "}}")
                    .append("\n  policyTypes: [").append(egress ? "Egress" : "Ingress").append("]\n  ")
                    .append(egress ? "egress" : "ingress").append(":\n");
            for (int k = 0; k < 1 + r.nextInt(2); k++) {
                y.append("  - ").append(egress ? "to" : "from").append(":\n");
                switch (r.nextInt(4)) {
                    case 0 -> y.append("    - ipBlock: {cidr: 10.244.0.").append(10 + r.nextInt(8)).append("/32}\n");
                    case 1 -> y.append("    - ipBlock: {cidr: 10.244.0.").append(new int[] {8, 16}[r.nextInt(2)]).append("/29}\n");
                    case 2 -> y.append("    - ipBlock: {cidr: 10.244.0.0/24, except: [10.244.0.").append(10 + r.nextInt(8)).append("/32]}\n");
                    default -> y.append("    - podSelector: {matchLabels: {app: ").append(APPS[r.nextInt(2)]).append("}}\n");
                }
                if (r.nextBoolean()) {
                    y.append("    ports: [{port: ").append(80 + r.nextInt(2)).append(r.nextBoolean() ? ", protocol: UDP" : "").append("}]\n");
                }
            }
        }
        return y.toString();
    }
}
