package dev.sluice.e2e;

import dev.sluice.e2e.PodProbe.Outcome;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.linux.NetNs;
import dev.sluice.model.Desired;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Network policy in a two-node lab, by real connections between pods: a table of scenarios, each a set of
 * policies (CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, NetworkPolicy) applied with `lab apply`
 * and the connections it must let through or drop, for TCP and UDP. Drops are told from refusals: an
 * allowed port where nothing listens answers at once, a dropped one never does.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PolicyLabTest {
    private static final int TIMEOUT_MS = 800;
    private Lab lab;
    private Path dir;
    private final ExecutorService pool = Executors.newFixedThreadPool(8);

    record Check(String from, String to, String proto, int port, boolean allowed) {
    }

    record Scenario(String name, String yaml, List<Check> checks) {
    }

    static Check ok(String from, String to, int port) {
        return new Check(from, to, "TCP", port, true);
    }

    static Check no(String from, String to, int port) {
        return new Check(from, to, "TCP", port, false);
    }

    static Check okUdp(String from, String to) {
        return new Check(from, to, "UDP", 5353, true);
    }

    static Check noUdp(String from, String to) {
        return new Check(from, to, "UDP", 5353, false);
    }

    static String cnp(String name, String spec) {
        return "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: " + name + "}\nspec:\n" + spec;
    }

    static String cnpIn(String ns, String name, String spec) {
        return "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n" + spec;
    }

    static String netpol(String ns, String name, String spec) {
        return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n" + spec;
    }

    static final String WEB = "  endpointSelector: {matchLabels: {app: web}}\n";
    static final String CLIENT = "  endpointSelector: {matchLabels: {app: client}}\n";

    static List<Scenario> scenarios() {
        List<Scenario> s = new ArrayList<>();
        s.add(new Scenario("no policy: everything passes", "", List.of(ok("client", "web", 8080), ok("shop/shopper", "shop/db", 8080), okUdp("web", "api"))));
        // L3 by labels
        s.add(new Scenario("ingress from app=client of the policy's namespace", cnp("p", WEB + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n"),
                List.of(ok("client", "web", 8080), no("api", "web", 8080), no("shop/shopper", "web", 8080))));
        s.add(new Scenario("ingress from app=client of any namespace", cnp("p", WEB + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}, matchExpressions: [{key: k8s:io.kubernetes.pod.namespace, operator: Exists}]}]\n"),
                List.of(ok("client", "web", 8080), ok("shop/shopper", "web", 8080), no("api", "web", 8080))));
        s.add(new Scenario("ingress from namespace shop", cnp("p", WEB + "  ingress:\n  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: shop}}]\n"),
                List.of(ok("shop/shopper", "web", 8080), ok("shop/db", "web", 8080), no("client", "web", 8080))));
        s.add(new Scenario("ingress from every pod of the namespace ({})", cnp("p", WEB + "  ingress:\n  - fromEndpoints: [{}]\n"),
                List.of(ok("client", "web", 8080), ok("api", "web", 8080), no("shop/shopper", "web", 8080))));
        s.add(new Scenario("matchExpressions In", cnp("p", WEB + "  ingress:\n  - fromEndpoints: [{matchExpressions: [{key: app, operator: In, values: [client, api]}]}]\n"),
                List.of(ok("client", "web", 8080), ok("api", "web", 8080), no("shop/db", "web", 8080))));
        s.add(new Scenario("matchExpressions NotIn", cnp("p", WEB + "  ingress:\n  - fromEndpoints: [{matchExpressions: [{key: app, operator: NotIn, values: [client]}]}]\n"),
                List.of(ok("api", "web", 8080), no("client", "web", 8080))));
        s.add(new Scenario("matchExpressions Exists", cnp("p", WEB + "  ingress:\n  - fromEndpoints: [{matchExpressions: [{key: role, operator: Exists}]}]\n"),
                List.of(ok("api", "web", 8080), no("client", "web", 8080))));
        s.add(new Scenario("matchExpressions DoesNotExist", cnp("p", WEB + "  ingress:\n  - fromEndpoints: [{matchExpressions: [{key: role, operator: DoesNotExist}]}]\n"),
                List.of(ok("client", "web", 8080), no("api", "web", 8080))));
        // L4
        s.add(new Scenario("L4: TCP 8080 only", cnp("p", WEB + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n    toPorts: [{ports: [{port: \"8080\", protocol: TCP}]}]\n"),
                List.of(ok("client", "web", 8080), no("client", "web", 9090), noUdp("client", "web"))));
        s.add(new Scenario("L4: port range 9090-9091", cnp("p", WEB + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n    toPorts: [{ports: [{port: \"9090\", endPort: 9091, protocol: TCP}]}]\n"),
                List.of(ok("client", "web", 9090), no("client", "web", 8080))));
        s.add(new Scenario("L4: named port http", cnp("p", WEB + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n    toPorts: [{ports: [{port: http, protocol: TCP}]}]\n"),
                List.of(ok("client", "web", 8080), no("client", "web", 9090))));
        s.add(new Scenario("L4: UDP 5353", cnp("p", WEB + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n    toPorts: [{ports: [{port: \"5353\", protocol: UDP}]}]\n"),
                List.of(okUdp("client", "web"), no("client", "web", 8080))));
        s.add(new Scenario("L4: protocol ANY", cnp("p", WEB + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n    toPorts: [{ports: [{port: \"5353\", protocol: ANY}]}]\n"),
                List.of(okUdp("client", "web"), no("client", "web", 8080))));
        s.add(new Scenario("L4 only: port 8080 from anyone", cnp("p", WEB + "  ingress:\n  - toPorts: [{ports: [{port: \"8080\", protocol: TCP}]}]\n"),
                List.of(ok("api", "web", 8080), ok("shop/shopper", "web", 8080), no("client", "web", 9090))));
        // entities
        s.add(new Scenario("entity cluster", cnp("p", WEB + "  ingress:\n  - fromEntities: [cluster]\n"),
                List.of(ok("client", "web", 8080), ok("shop/shopper", "web", 8080))));
        s.add(new Scenario("entity world (pods are not world)", cnp("p", WEB + "  ingress:\n  - fromEntities: [world]\n"),
                List.of(no("client", "web", 8080))));
        s.add(new Scenario("entity all", cnp("p", WEB + "  ingress:\n  - fromEntities: [all]\n"), List.of(ok("client", "web", 8080), okUdp("api", "web"))));
        s.add(new Scenario("entity host (pods are not the host)", cnp("p", WEB + "  ingress:\n  - fromEntities: [host]\n"), List.of(no("client", "web", 8080))));
        // deny
        s.add(new Scenario("deny beats allow", cnp("p", WEB + "  ingress:\n  - fromEntities: [all]\n  ingressDeny:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n"),
                List.of(no("client", "web", 8080), ok("api", "web", 8080))));
        s.add(new Scenario("deny a port, allow the rest", cnp("p", WEB + "  ingress:\n  - fromEntities: [all]\n  ingressDeny:\n  - toPorts: [{ports: [{port: \"9090\", protocol: TCP}]}]\n"),
                List.of(ok("client", "web", 8080), no("client", "web", 9090))));
        s.add(new Scenario("deny rules alone put the endpoint in default deny", cnp("p", WEB + "  ingressDeny:\n  - fromEndpoints: [{matchLabels: {app: api}}]\n"),
                List.of(no("api", "web", 8080), no("client", "web", 8080))));
        s.add(new Scenario("deny cluster beats a specific allow", cnp("p", WEB + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n  ingressDeny:\n  - fromEntities: [cluster]\n"),
                List.of(no("client", "web", 8080))));
        // egress
        s.add(new Scenario("egress to app=web only", cnp("p", CLIENT + "  egress:\n  - toEndpoints: [{matchLabels: {app: web}}]\n"),
                List.of(ok("client", "web", 8080), no("client", "api", 8080), noUdp("client", "api"))));
        s.add(new Scenario("egress to port 8080 only", cnp("p", CLIENT + "  egress:\n  - toPorts: [{ports: [{port: \"8080\", protocol: TCP}]}]\n"),
                List.of(ok("client", "web", 8080), ok("client", "api", 8080), no("client", "web", 9090))));
        s.add(new Scenario("egress to namespace shop", cnp("p", CLIENT + "  egress:\n  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: shop}}]\n"),
                List.of(ok("client", "shop/db", 8080), no("client", "web", 8080))));
        s.add(new Scenario("egress deny beats egress allow", cnp("p", CLIENT + "  egress:\n  - toEntities: [all]\n  egressDeny:\n  - toEndpoints: [{matchLabels: {app: api}}]\n"),
                List.of(ok("client", "web", 8080), no("client", "api", 8080))));
        s.add(new Scenario("egress and ingress together", cnp("e", CLIENT + "  egress:\n  - toEndpoints: [{matchLabels: {app: web}}]\n") + "\n---\n"
                + cnp("i", WEB + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n"),
                List.of(ok("client", "web", 8080), no("client", "api", 8080), no("api", "web", 8080))));
        s.add(new Scenario("egress to world only", cnp("p", CLIENT + "  egress:\n  - toEntities: [world]\n"), List.of(no("client", "web", 8080))));
        // CIDR
        s.add(new Scenario("CIDR rules never select pods", cnp("p", WEB + "  ingress:\n  - fromCIDR: [10.244.0.0/16]\n"), List.of(no("client", "web", 8080))));
        s.add(new Scenario("CIDR set with except never selects pods", cnp("p", CLIENT + "  egress:\n  - toCIDRSet: [{cidr: 0.0.0.0/0, except: [10.0.0.0/8]}]\n"),
                List.of(no("client", "web", 8080))));
        // clusterwide
        s.add(new Scenario("clusterwide: peers of every namespace",
                "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: c}\nspec:\n  endpointSelector: {matchLabels: {app: db}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n",
                List.of(ok("shop/shopper", "shop/db", 8080), ok("client", "shop/db", 8080), no("web", "shop/db", 8080))));
        s.add(new Scenario("clusterwide: every pod, from the cluster",
                "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: c}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEntities: [cluster]\n",
                List.of(ok("client", "shop/db", 8080), ok("shop/shopper", "web", 8080))));
        // Kubernetes NetworkPolicy
        s.add(new Scenario("NetworkPolicy podSelector", netpol("default", "n", "  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: client}}}]\n"),
                List.of(ok("client", "web", 8080), no("api", "web", 8080), no("shop/shopper", "web", 8080))));
        s.add(new Scenario("NetworkPolicy namespaceSelector", netpol("default", "n", "  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: shop}}}]\n"),
                List.of(ok("shop/shopper", "web", 8080), no("client", "web", 8080))));
        s.add(new Scenario("NetworkPolicy namespaceSelector AND podSelector", netpol("default", "n",
                "  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: shop}}, podSelector: {matchLabels: {app: client}}}]\n"),
                List.of(ok("shop/shopper", "web", 8080), no("shop/db", "web", 8080), no("client", "web", 8080))));
        s.add(new Scenario("NetworkPolicy ports from anyone", netpol("default", "n", "  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - ports: [{port: 8080}]\n"),
                List.of(ok("api", "web", 8080), no("api", "web", 9090))));
        s.add(new Scenario("NetworkPolicy egress deny-all", netpol("default", "n", "  podSelector: {matchLabels: {app: client}}\n  policyTypes: [Egress]\n"),
                List.of(no("client", "web", 8080), noUdp("client", "api"), ok("api", "web", 8080))));
        s.add(new Scenario("NetworkPolicy allow-all ingress", netpol("default", "n", "  podSelector: {}\n  ingress:\n  - {}\n"),
                List.of(ok("client", "web", 8080), ok("shop/shopper", "api", 8080))));
        s.add(new Scenario("NetworkPolicy deny-all ingress in one namespace", netpol("shop", "n", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
                List.of(no("client", "shop/db", 8080), no("shop/shopper", "shop/db", 8080), ok("client", "web", 8080))));
        s.add(new Scenario("two policies on one endpoint allow the union", cnp("a", WEB + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n")
                + "\n---\n" + cnp("b", WEB + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: api}}]\n"),
                List.of(ok("client", "web", 8080), ok("api", "web", 8080), no("shop/shopper", "web", 8080))));
        return s;
    }

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        dir = Files.createTempDirectory("policy-lab");
        lab = TestLabs.create("q");
        Path pods = Path.of(PolicyLabTest.class.getResource("/policy-lab.yaml").toURI());
        lab.up(2, ManifestReader.read(List.of(pods)), null);
    }

    @AfterAll
    void down() throws Exception {
        pool.shutdownNow();
        if (lab != null) {
            TestLabs.down(lab);
        }
    }

    private Desired manifests(String name, String yaml) throws Exception {
        Path file = dir.resolve(name.replaceAll("[^a-zA-Z0-9]", "_") + ".yaml");
        Files.writeString(file, yaml);
        return ManifestReader.read(List.of(file));
    }

    private NetNs netns(String pod) {
        return NetNs.existing(lab.pod(pod.contains("/") ? pod.substring(0, pod.indexOf('/')) + "/deploy/" + pod.substring(pod.indexOf('/') + 1)
                : "deploy/" + pod).netns());
    }

    private String ip(String pod) {
        return lab.pod(pod.contains("/") ? pod.substring(0, pod.indexOf('/')) + "/deploy/" + pod.substring(pod.indexOf('/') + 1) : "deploy/" + pod).ip();
    }

    private Outcome probe(Check c) {
        return c.proto().equals("UDP") ? PodProbe.udp(netns(c.from()), ip(c.to()), c.port(), TIMEOUT_MS)
                : PodProbe.tcp(netns(c.from()), ip(c.to()), c.port(), TIMEOUT_MS);
    }

    private List<String> run(List<Check> checks) {
        List<CompletableFuture<String>> results = checks.stream().map(c -> CompletableFuture.supplyAsync(() -> {
            Outcome o = probe(c);
            boolean allowed = o != Outcome.DROPPED;
            if (allowed == c.allowed()) {
                return null;
            }
            // Said with the failure: whether the policy was late (right a second later) or wrong.
            try {
                Thread.sleep(1_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return c + " -> " + o + " (a second later: " + probe(c) + ")";
        }, pool)).toList();
        return results.stream().map(CompletableFuture::join).filter(r -> r != null).toList();
    }

    @Test
    void everyScenarioLetsThroughAndDropsExactlyWhatItShould() throws Exception {
        List<String> failures = new ArrayList<>();
        List<Scenario> scenarios = scenarios();
        for (Scenario s : scenarios) {
            Desired policies = s.yaml().isEmpty() ? null : manifests(s.name(), s.yaml());
            if (policies != null) {
                lab.apply(policies);
            }
            try {
                run(s.checks()).forEach(f -> failures.add(s.name() + ": " + f));
            } finally {
                if (policies != null) {
                    lab.delete(policies);
                }
            }
        }
        assertTrue(scenarios.size() >= 40, scenarios.size() + " scenarios");
        assertEquals(List.of(), failures);
        System.out.println("[PolicyLabTest] " + scenarios.size() + " scenarios, " + scenarios.stream().mapToInt(x -> x.checks().size()).sum()
                + " connections checked");
    }

    private int conntrackEntries(String clientIp, int port) {
        int n = 0;
        for (var node : lab.state().nodes()) {
            // Both conntrack tables: established flows and those not (yet) established.
            for (String table : List.of("ct4_policy", "ct4_policy_new")) {
                try (var map = dev.sluice.libbpf.BpfMap.openPinned(Lab.pinRoot(lab.name()).resolve(node.name()).resolve("maps/" + table))) {
                    n += (int) map.typed(dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple.CODEC, dev.sluice.datapath.policy.PolicyStructs.Ct4Entry.CODEC)
                            .keys().stream().filter(k -> k.source().getHostAddress().equals(clientIp) && k.destinationPort() == port).count();
                }
            }
        }
        return n;
    }

    @Test
    void conntrackEntriesOfClosedConnectionsExpireAndAreCollected() throws Exception {
        NetNs client = netns("client");
        String clientIp = ip("client");
        for (int i = 0; i < 100; i++) {
            assertEquals(Outcome.CONNECTED, PodProbe.tcp(client, ip("api"), 9090, TIMEOUT_MS));
        }
        int tracked = conntrackEntries(clientIp, 9090);
        assertTrue(tracked >= 100, "each connection is tracked (both ends have their entry): " + tracked);
        long start = System.currentTimeMillis();
        // Closed flows live 10 s, flows never established (a stray late packet) 60 s; the agents collect
        // expired entries every 5 s.
        while (conntrackEntries(clientIp, 9090) > 0 && System.currentTimeMillis() - start < 80_000) {
            Thread.sleep(500);
        }
        assertEquals(0, conntrackEntries(clientIp, 9090), () -> "expired entries are collected; left:\n"
                + dev.sluice.linux.Command.exec(dev.sluice.linux.JavaCommand.sluice("bpf", "ct", "list", "global", "--lab", lab.name())).stdout());
        System.out.println("[PolicyLabTest] " + tracked + " conntrack entries of 100 closed connections were collected "
                + (System.currentTimeMillis() - start) / 1000 + " s later");
    }

    @Test
    void podsCreatedAfterThePolicyAreEnforcedToo() throws Exception {
        Desired policy = manifests("late", cnp("late", WEB + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n"));
        Desired web2 = manifests("web2", Files.readString(Path.of(PolicyLabTest.class.getResource("/policy-lab.yaml").toURI()))
                .split("---")[1].replace("name: web}", "name: web2}"));
        lab.apply(policy);
        try {
            lab.apply(web2);
            assertEquals(List.of(), run(List.of(ok("client", "web2", 8080), no("api", "web2", 8080))));
        } finally {
            lab.delete(web2);
            lab.delete(policy);
        }
    }

    /**
     * Established flows are re-checked after a policy change (bpf/pod_policy.bpf.c, "Why the re-check"): a deny applied
     * while a keep-alive TCP connection and a UDP flow are open cuts both at their next packet, and `sluice observe`
     * shows those drops with the policy's reason; lifting it resumes both, the TCP connection itself (its retransmitted
     * request reaches the server, as in Cilium, whose conntrack entry survives the deny).
     */
    @Test
    void aDenyCutsOpenConnectionsAtTheirNextPacketAndLiftingItResumesThem() throws Exception {
        NetNs client = netns("client");
        String web = ip("web");
        Desired deny = manifests("deny-client", cnp("deny", WEB + "  ingress:\n  - fromEntities: [all]\n  ingressDeny:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n"));
        Socket open = client.call(() -> {
            Socket s = new Socket();
            s.connect(new InetSocketAddress(web, 8080), 2_000);
            return s;
        });
        DatagramSocket udp = client.call(() -> new DatagramSocket());
        boolean applied = false;
        try (open; udp) {
            udp.connect(new InetSocketAddress(web, 5353));
            assertTrue(request(open, 2_000).startsWith("HTTP/1.1 200"), "the open connection answers before the policy");
            assertTrue(ping(udp), "the UDP flow answers before the policy");

            lab.apply(deny);
            applied = true;
            long t0 = System.nanoTime();
            // Measured from `lab apply` returning: the first new connection must already be dropped.
            Outcome first = PodProbe.tcp(client, web, 8080, TIMEOUT_MS);
            long ms = (System.nanoTime() - t0) / 1_000_000 - (first == Outcome.DROPPED ? TIMEOUT_MS : 0);
            assertEquals(Outcome.DROPPED, first, "a new connection is dropped");
            assertEquals("timeout", request(open, 3_000), "the open connection's next request is dropped");
            assertFalse(ping(udp), "the open UDP flow's next datagram is dropped");

            String node = lab.pod("deploy/web").node();
            int tcpPort = open.getLocalPort();
            int udpPort = udp.getLocalPort();
            List<String> drops = awaitObserved(node, l -> l.contains(":" + tcpPort + " ") && l.contains("web") && l.contains(":8080"), 8080);
            assertTrue(drops.stream().anyMatch(l -> l.contains("DROPPED") && l.contains("Policy denied by denylist")),
                    "observe shows the open connection's drop with the policy's reason: " + drops);
            List<String> udpDrops = awaitObserved(node, l -> l.contains(":" + udpPort + " ") && l.contains(":5353"), 5353);
            assertTrue(udpDrops.stream().anyMatch(l -> l.contains("DROPPED") && l.contains("Policy denied by denylist") && l.contains("UDP")),
                    "observe shows the UDP flow's drop with the policy's reason: " + udpDrops);

            lab.delete(deny);
            applied = false;
            long lifted = System.nanoTime();
            // The request sent while denied is retransmitted by the client's TCP (back-off doubling from ~200 ms).
            String resumed = awaitAnswer(open, 30_000);
            assertTrue(resumed.startsWith("HTTP/1.1 200"), "the same connection resumes once the deny is lifted: " + resumed);
            long resumedMs = (System.nanoTime() - lifted) / 1_000_000;
            assertTrue(request(open, 2_000).startsWith("HTTP/1.1 200"), "and keeps answering");
            assertTrue(ping(udp), "the same UDP flow answers again");
            System.out.println("[PolicyLabTest] deny in force for new connections " + ms + " ms after `lab apply` returned; the open TCP"
                    + " connection and UDP flow cut at their next packet (observe: " + drops.getFirst().trim() + "); the TCP connection"
                    + " resumed " + resumedMs + " ms after the deny was deleted (its retransmission)");
        } finally {
            if (applied) {
                lab.delete(deny);
            }
        }
        assertEquals(Outcome.CONNECTED, PodProbe.tcp(client, web, 8080, TIMEOUT_MS), "deleting the policy opens the way again");
    }

    /** The DROPPED flows of the node at this port that match, waiting up to 10 s for them to reach observe. */
    private List<String> awaitObserved(String node, java.util.function.Predicate<String> match, int port) throws InterruptedException {
        List<String> found = List.of();
        for (int i = 0; i < 20 && found.isEmpty(); i++) {
            var observe = CliRun.of(lab, "observe", "--verdict", "DROPPED", "--node", node, "--port", Integer.toString(port), "--last", "1000");
            assertEquals(0, observe.exit(), observe.err());
            found = observe.out().lines().filter(match).toList();
            if (found.isEmpty()) {
                Thread.sleep(500);
            }
        }
        return found;
    }

    /** One HTTP/1.1 GET on an open connection: the status line, or "timeout" when none came within ms. */
    private static String request(Socket s, int ms) throws java.io.IOException {
        OutputStream out = s.getOutputStream();
        out.write("GET / HTTP/1.1\r\nHost: w\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        out.flush();
        return awaitAnswer(s, ms);
    }

    /** The status line of the next answer on the connection (its headers and body read), or "timeout". */
    private static String awaitAnswer(Socket s, int ms) throws java.io.IOException {
        s.setSoTimeout(ms);
        InputStream in = s.getInputStream();
        try {
            String status = line(in);
            long length = 0;
            for (String h = line(in); !h.isEmpty(); h = line(in)) {
                if (h.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                    length = Long.parseLong(h.substring(15).trim());
                }
            }
            in.readNBytes((int) length);
            return status;
        } catch (java.net.SocketTimeoutException e) {
            return "timeout";
        }
    }

    private static String line(InputStream in) throws java.io.IOException {
        StringBuilder b = new StringBuilder();
        for (int c = in.read(); c >= 0 && c != '\n'; c = in.read()) {
            if (c != '\r') {
                b.append((char) c);
            }
        }
        return b.toString();
    }

    /** One datagram on the connected UDP socket: whether the echo answered within 800 ms. */
    private static boolean ping(DatagramSocket udp) throws java.io.IOException {
        udp.setSoTimeout(800);
        byte[] b = "ping".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        udp.send(new DatagramPacket(b, b.length));
        try {
            udp.receive(new DatagramPacket(new byte[2048], 2048));
            return true;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        }
    }
}
