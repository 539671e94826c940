package dev.sluice.e2e;

import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.linux.Command;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Cluster DNS from inside the lab's pods, through their own /etc/resolv.conf and the kube-dns Service's
 * ClusterIP (load-balanced by the agents like any Service): dig for A, SRV, PTR, NXDOMAIN, the search path
 * and a headless Service; glibc for an outside name (answered at once); a record that follows `lab apply`;
 * and a gRPC C-core client (Python grpcio, c-ares resolver) calling a Service by name.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClusterDnsLabTest {
    private static final String MANIFESTS = """
            apiVersion: v1
            kind: Namespace
            metadata:
              name: shop
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
              namespace: shop
            spec:
              replicas: 2
              selector:
                matchLabels:
                  app: web
              template:
                metadata:
                  labels:
                    app: web
                spec:
                  containers:
                  - name: web
                    image: sluice/echo
                    ports:
                    - name: grpc
                      containerPort: 50051
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              namespace: shop
            spec:
              selector:
                app: web
              ports:
              - name: grpc
                port: 50051
                targetPort: grpc
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: web-pods
              namespace: shop
            spec:
              clusterIP: None
              selector:
                app: web
              ports:
              - name: grpc
                port: 50051
                targetPort: grpc
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: tools
              namespace: shop
            spec:
              replicas: 1
              selector:
                matchLabels:
                  app: tools
              template:
                metadata:
                  labels:
                    app: tools
                spec:
                  containers:
                  - name: tools
                    image: sluice/toolbox
                    command: ["sleep", "infinity"]
            """;

    private Lab lab;
    private Path dir;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        for (String tool : List.of("/usr/bin/dig", "/usr/lib/python3/dist-packages/grpc/__init__.py")) {
            // scripts/test installs them (scripts/lib.sh: SLUICE_PACKAGES).
            assertTrue(Files.exists(Path.of(tool)), tool + " is missing: run scripts/test, which installs the test prerequisites");
        }
        dir = Files.createTempDirectory("cluster-dns");
        Path shop = dir.resolve("shop.yaml");
        Files.writeString(shop, MANIFESTS);
        lab = TestLabs.create("d");
        lab.up(2, ManifestReader.read(List.of(shop, LabTest.CLIENT)), null);
    }

    @AfterAll
    void down() throws Exception {
        if (lab != null) {
            TestLabs.down(lab);
        }
        if (dir != null) {
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    Files.delete(f);
                }
            }
            Files.delete(dir);
        }
    }

    /** dig inside a pod, answers only. */
    private List<String> dig(String pod, String... args) {
        Command.Result r = digRun(pod, "+short", args);
        assertTrue(r.ok(), r.toString());
        return r.stdout().lines().map(String::strip).filter(l -> !l.isEmpty()).sorted().toList();
    }

    /** The response code dig saw (NOERROR, NXDOMAIN, REFUSED...). */
    private String status(String pod, String... args) {
        Command.Result r = digRun(pod, "+noall", args);
        String header = r.stdout().lines().filter(l -> l.contains("status: ")).findFirst().orElse(r.toString());
        return header.replaceAll(".*status: ([A-Z]+).*", "$1");
    }

    private Command.Result digRun(String pod, String mode, String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of("dig", "+time=2", "+tries=1", mode));
        if (mode.equals("+noall")) {
            cmd.add("+comments");
        }
        cmd.addAll(Arrays.asList(args));
        return lab.execCapture(pod, cmd);
    }

    private String clusterIp(String service) {
        return lab.state().clusterIps().get(service);
    }

    @Test
    void podsUseTheClusterDnsWithTheirNamespacesSearchPath() {
        String resolv = lab.execCapture("shop/deploy/tools", List.of("cat", "/etc/resolv.conf")).stdout();
        assertTrue(resolv.contains("nameserver " + clusterIp("kube-system/kube-dns") + "\n"), resolv);
        assertTrue(resolv.contains("search shop.svc.cluster.local svc.cluster.local cluster.local\n"), resolv);
        assertTrue(resolv.contains("options ndots:5\n"), resolv);
        assertEquals("10.96.0.10", clusterIp("kube-system/kube-dns"), "Kubernetes' usual address");
        // The DNS pod is a pod like any other, in kube-system, and its Service is load-balanced like any other.
        PodState dns = lab.pod("kube-system/deploy/coredns");
        assertTrue(dns.ready(), dns.toString());
        String pods = sluice("lab", "pods", "-n", "kube-system");
        assertTrue(pods.contains(dns.name()), pods);
        String services = sluice("service", "list", "--node", lab.pod("deploy/client").node());
        assertTrue(services.contains("10.96.0.10:53"), services);
        // /etc/hosts is still there for what relies on it.
        String hosts = lab.execCapture("shop/deploy/tools", List.of("cat", "/etc/hosts")).stdout();
        assertTrue(hosts.contains(clusterIp("shop/web") + " web "), hosts);
    }

    @Test
    void aSrvAndPtrRecords() {
        String web = clusterIp("shop/web");
        assertEquals(List.of(web), dig("deploy/client", "web.shop.svc.cluster.local", "A"));
        assertEquals(List.of("0 100 50051 web.shop.svc.cluster.local."), dig("deploy/client", "_grpc._tcp.web.shop.svc.cluster.local", "SRV"));
        assertEquals(List.of("web.shop.svc.cluster.local."), dig("deploy/client", "-x", web));
        PodState client = lab.pod("deploy/client");
        assertEquals(List.of(client.ip().replace('.', '-') + ".default.pod.cluster.local."), dig("shop/deploy/tools", "-x", client.ip()));
        assertEquals(List.of(client.ip()), dig("shop/deploy/tools", client.ip().replace('.', '-') + ".default.pod.cluster.local"));
        // Over TCP too (what a client falls back to after a truncated answer).
        assertEquals(List.of(web), dig("deploy/client", "+tcp", "web.shop.svc.cluster.local", "A"));
    }

    @Test
    void unknownNamesAreNxdomainAndAddressesWithoutRecordsNodata() {
        assertEquals("NXDOMAIN", status("deploy/client", "nope.shop.svc.cluster.local", "A"));
        assertEquals("NXDOMAIN", status("deploy/client", "_nope._tcp.web.shop.svc.cluster.local", "SRV"));
        assertEquals("NOERROR", status("deploy/client", "web.shop.svc.cluster.local", "AAAA"));
        assertEquals(List.of(), dig("deploy/client", "web.shop.svc.cluster.local", "AAAA"));
    }

    @Test
    void aShortNameResolvesInItsOwnNamespaceOnly() {
        String web = clusterIp("shop/web");
        assertEquals(List.of(web), dig("shop/deploy/tools", "+search", "web"));
        // From default, the search path asks web.default.svc.cluster.local (NXDOMAIN) and the rest: no answer.
        assertEquals(List.of(), dig("deploy/client", "+search", "web"), "no Service web in default");
        assertEquals("NXDOMAIN", status("deploy/client", "web.default.svc.cluster.local"));
        assertEquals(List.of(web), dig("deploy/client", "+search", "web.shop"));
    }

    @Test
    void aHeadlessServiceNamesEachReadyPod() {
        List<PodState> pods = lab.state().pods().stream().filter(p -> p.namespace().equals("shop") && "web".equals(p.owner())).toList();
        assertEquals(2, pods.size());
        List<String> ips = pods.stream().map(PodState::ip).sorted().toList();
        assertEquals(ips, dig("deploy/client", "web-pods.shop.svc.cluster.local", "A"));
        List<String> srv = dig("deploy/client", "_grpc._tcp.web-pods.shop.svc.cluster.local", "SRV");
        assertEquals(ips.stream().map(ip -> "0 100 50051 " + ip.replace('.', '-') + ".web-pods.shop.svc.cluster.local.").sorted().toList(), srv);
        assertEquals(List.of(pods.getFirst().ip().replace('.', '-') + ".web-pods.shop.svc.cluster.local."),
                dig("deploy/client", "-x", pods.getFirst().ip()));
    }

    @Test
    void anOutsideNameIsAnsweredAtOnce() {
        long start = System.nanoTime();
        assertEquals("REFUSED", status("deploy/client", "example.com", "A"));
        long digMs = (System.nanoTime() - start) / 1_000_000;
        assertTrue(digMs < 1000, "dig took " + digMs + " ms");
        // glibc through the search path (ndots:5: three NXDOMAINs, then REFUSED): fails, without waiting.
        start = System.nanoTime();
        Command.Result getent = lab.execCapture("deploy/client", List.of("getent", "hosts", "example.com"));
        long getentMs = (System.nanoTime() - start) / 1_000_000;
        assertEquals(2, getent.exitCode(), "not found: " + getent);
        assertTrue(getentMs < 1000, "getent took " + getentMs + " ms");
        System.out.println("cluster DNS: example.com REFUSED to dig in " + digMs + " ms, getent failed in " + getentMs
                + " ms (each including lab exec)");
    }

    @Test
    void aNewServiceResolvesWithinASecondOfApply() throws Exception {
        Path late = dir.resolve("late.yaml");
        Files.writeString(late, """
                apiVersion: v1
                kind: Service
                metadata:
                  name: late
                  namespace: shop
                spec:
                  selector:
                    app: web
                  ports:
                  - name: grpc
                    port: 50051
                    targetPort: grpc
                """);
        assertEquals("NXDOMAIN", status("deploy/client", "late.shop.svc.cluster.local", "A"));
        lab.apply(ManifestReader.read(List.of(late)));
        long applied = System.nanoTime();
        String ip = clusterIp("shop/late");
        List<String> got = List.of();
        while (!got.equals(List.of(ip)) && System.nanoTime() - applied < 3_000_000_000L) {
            got = dig("deploy/client", "late.shop.svc.cluster.local", "A");
        }
        long ms = (System.nanoTime() - applied) / 1_000_000;
        assertEquals(List.of(ip), got);
        System.out.println("cluster DNS: a new Service's A record answered " + ms + " ms after lab apply returned");
        assertTrue(ms < 1000, "the record appeared " + ms + " ms after apply returned");
        lab.delete(ManifestReader.read(List.of(late)));
        long deleted = System.nanoTime();
        String status = "";
        while (!status.equals("NXDOMAIN") && System.nanoTime() - deleted < 3_000_000_000L) {
            status = status("deploy/client", "late.shop.svc.cluster.local", "A");
        }
        assertEquals("NXDOMAIN", status);
        assertTrue(System.nanoTime() - deleted < 1_000_000_000L, "the record went within a second of delete");
    }

    @Test
    void aGrpcCoreClientReachesAServiceByName() {
        // grpcio's default resolver is c-ares, which asks DNS; web-pods (headless) is in no /etc/hosts, so only DNS can answer it.
        String script = """
                import sys, grpc
                for target in sys.argv[1:]:
                    with grpc.insecure_channel(target) as channel:
                        check = channel.unary_unary('/grpc.health.v1.Health/Check')
                        print(target, check(b'', timeout=5).hex())
                """;
        Command.Result r = lab.execCapture("shop/deploy/tools", List.of("env", "-u", "GRPC_DNS_RESOLVER", "/usr/bin/python3", "-c", script,
                "web:50051", "web.shop.svc.cluster.local:50051", "web-pods:50051"));
        assertTrue(r.ok(), r.toString());
        // HealthCheckResponse{status: SERVING} is field 1 = 1: 0801.
        assertEquals("web:50051 0801\nweb.shop.svc.cluster.local:50051 0801\nweb-pods:50051 0801",
                r.stdout().lines().collect(Collectors.joining("\n")), r.toString());
    }

    private String sluice(String... args) {
        java.io.StringWriter text = new java.io.StringWriter();
        picocli.CommandLine cli = dev.sluice.cli.Main.commandLine();
        cli.setOut(new java.io.PrintWriter(text));
        String[] all = java.util.stream.Stream.concat(Arrays.stream(args), java.util.stream.Stream.of("--lab", lab.name()))
                .toArray(String[]::new);
        cli.execute(all);
        return text.toString();
    }

    /**
     * DNS flows: a pod's query and its answer, reported by the DNS pod to the agent of the client's node, show in
     * {@code sluice observe --protocol dns} (every node's Observer API) naming the pod, with Hubble's summary.
     */
    @Test
    void queriesAndAnswersAreDnsFlowsNamingThePod() throws Exception {
        PodState client = lab.pod("deploy/client");
        PodState dns = lab.pod("kube-system/deploy/coredns");
        String web = clusterIp("shop/web");
        assertEquals(List.of(web), dig("deploy/client", "web.shop.svc.cluster.local.", "A"));
        assertEquals("NXDOMAIN", status("deploy/client", "flows-nope.shop.svc.cluster.local.", "A"));

        List<dev.sluice.observe.v1.Flow> mine = List.of();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            CliRun r = CliRun.of(lab, "observe", "--protocol", "dns", "--last", "4095", "-o", "json");
            assertEquals(0, r.exit(), r.err());
            assertTrue(r.flows().stream().allMatch(f -> f.getL7().hasDns()), r.out());
            mine = r.flows().stream().filter(f -> f.getSource().getPodName().equals(client.name())
                    || f.getDestination().getPodName().equals(client.name())).toList();
            if (mine.stream().anyMatch(f -> f.getL7().getDns().getRcode() == 3)) {
                break;
            }
            Thread.sleep(200);
        }
        var query = mine.stream().filter(f -> f.getL7().getType() == dev.sluice.observe.v1.L7FlowType.REQUEST
                && f.getL7().getDns().getQuery().equals("web.shop.svc.cluster.local.")).findFirst().orElseThrow(() -> new AssertionError(
                "no DNS query flow from " + client.name()));
        assertEquals(client.name(), query.getSource().getPodName());
        assertEquals(dns.name(), query.getDestination().getPodName());
        assertEquals(client.node(), query.getNodeName(), "reported to the agent of the client's node");
        assertEquals(List.of("A"), query.getL7().getDns().getQtypesList());
        var answer = mine.stream().filter(f -> f.getL7().getType() == dev.sluice.observe.v1.L7FlowType.RESPONSE
                && f.getL7().getDns().getQuery().equals("web.shop.svc.cluster.local.")).findFirst().orElseThrow();
        assertEquals(client.name(), answer.getDestination().getPodName());
        assertEquals(List.of(web), answer.getL7().getDns().getIpsList());
        assertEquals(5, answer.getL7().getDns().getTtl());
        assertEquals(0, answer.getL7().getDns().getRcode());
        var nx = mine.stream().filter(f -> f.getL7().getType() == dev.sluice.observe.v1.L7FlowType.RESPONSE
                && f.getL7().getDns().getQuery().equals("flows-nope.shop.svc.cluster.local.")).findFirst().orElseThrow();
        assertEquals(3, nx.getL7().getDns().getRcode());

        String text = CliRun.of(lab, "observe", "--protocol", "dns", "--last", "4095").out();
        System.out.println("sluice observe --protocol dns:\n" + text);
        assertTrue(text.contains("DNS Query web.shop.svc.cluster.local. A"), text);
        assertTrue(text.contains("DNS Answer \"" + web + "\" TTL: 5 (Query web.shop.svc.cluster.local. A)"), text);
        assertTrue(text.contains("DNS Answer RCode: NXDOMAIN"), text);
    }
}
