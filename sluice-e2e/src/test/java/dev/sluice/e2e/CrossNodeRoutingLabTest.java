package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.e2e.PodProbe.Outcome;
import dev.sluice.lab.Lab;
import dev.sluice.linux.Command;
import dev.sluice.linux.JavaCommand;
import dev.sluice.linux.NetNs;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Routing between nodes (issue 14) in a 3-node lab, once with {@code routingMode: native} and once with
 * {@code routingMode: tunnel} (VXLAN): pod to pod and pod to Service across nodes, TCP and UDP; a capture on the
 * fabric between the nodes (tcpdump in the fabric namespace) that must show pod addresses natively and only VXLAN
 * between node addresses in tunnel mode; the routing status line; and policy across nodes: the same two identities
 * allowed to one node's pod and denied at another's.
 */
class CrossNodeRoutingLabTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DROP_MS = 800;

    @ParameterizedTest
    @ValueSource(strings = {"native", "tunnel"})
    void podsAndServicesAcrossNodesWithPolicy(String mode) throws Exception {
        Privileged.require();
        Path dir = Files.createTempDirectory("routing-lab");
        Lab lab = TestLabs.create(mode.equals("native") ? "rn" : "rt");
        try {
            Path values = Files.writeString(dir.resolve("values.yaml"), "routingMode: " + mode + "\n"
                    + (mode.equals("tunnel") ? "tunnelProtocol: vxlan\n" : ""));
            Path pods = Files.writeString(dir.resolve("pods.yaml"), manifests());
            lab.up(3, ManifestReader.read(List.of(pods)), values);

            // The status line of every node: its mode and its two remote nodes.
            CliRun status = CliRun.of(lab, "status");
            long lines = status.lines().stream().filter(l -> l.contains("Routing:") && l.contains("2 remote nodes")
                    && l.contains(mode.equals("native") ? "native" : "tunnel (vxlan, UDP port 8472) on sluice_vxlan")).count();
            assertEquals(3, lines, status.out());

            // Pod to pod across nodes, TCP and UDP, captured on the fabric as it crosses.
            NetNs client = NetNs.existing(lab.pod("client-1").netns());
            Capture capture = Capture.start(lab.state().fabricNetns(), dir.resolve("fabric.pcap"));
            for (String web : List.of("web-2", "web-3")) {
                String ip = lab.pod(web).ip();
                assertEquals(Outcome.CONNECTED, PodProbe.tcp(client, ip, 8080, 3000), "TCP client-1 -> " + web);
                assertEquals(Outcome.CONNECTED, PodProbe.udp(client, ip, 5353, 3000), "UDP client-1 -> " + web);
            }
            capture.stop();
            System.out.println("[CrossNodeRoutingLabTest] " + Files.size(dir.resolve("fabric.pcap")) + " bytes captured; " + capture.read("").lines().count() + " packets");
            String bare = capture.read("net 10.244.0.0/16");
            String vxlan = capture.read("udp port 8472");
            System.out.println("[CrossNodeRoutingLabTest] " + mode + ": fabric capture, bare pod packets:\n" + head(bare)
                    + "VXLAN packets:\n" + head(vxlan));
            if (mode.equals("native")) {
                assertTrue(bare.contains(lab.pod("client-1").ip()) && bare.contains(lab.pod("web-2").ip()),
                        "native: pod addresses on the fabric\n" + bare);
                assertEquals("", vxlan, "native: no VXLAN");
            } else {
                assertEquals("", bare, "tunnel: no bare pod address on the fabric");
                assertTrue(vxlan.contains("10.254.0.1.") && vxlan.contains("10.254.0.2.8472") && vxlan.contains("10.254.0.3.8472"),
                        "tunnel: VXLAN between the node addresses\n" + vxlan);
            }

            // Pod to Service: backends on every node answer, TCP and UDP.
            Set<String> webs = Set.of("web-1", "web-2", "web-3");
            JsonNode tcp = load(lab, "--connections", "60", "web:8080");
            assertEquals(0, tcp.get("failures").asLong(), tcp.toString());
            assertEquals(webs, names(tcp.get("byPod")), "TCP through the Service: " + tcp);
            JsonNode udp = load(lab, "--udp", "60", "web:5353");
            assertEquals(0, udp.get("failures").asLong(), udp.toString());
            assertEquals(webs, names(udp.get("byPod")), "UDP through the Service: " + udp);

            // Policy across nodes: web-2 admits only app=client, web-3 only app=intruder; both callers on node-1.
            Path policy = Files.writeString(dir.resolve("policy.yaml"), policy("b", "client") + policy("c", "intruder"));
            lab.apply(ManifestReader.read(List.of(policy)));
            NetNs intruder = NetNs.existing(lab.pod("intruder-1").netns());
            List<String> wrong = new ArrayList<>();
            expect(wrong, "client-1 -> web-2", PodProbe.tcp(client, lab.pod("web-2").ip(), 8080, DROP_MS), Outcome.CONNECTED);
            expect(wrong, "client-1 -> web-3", PodProbe.tcp(client, lab.pod("web-3").ip(), 8080, DROP_MS), Outcome.DROPPED);
            expect(wrong, "intruder-1 -> web-2", PodProbe.tcp(intruder, lab.pod("web-2").ip(), 8080, DROP_MS), Outcome.DROPPED);
            expect(wrong, "intruder-1 -> web-3", PodProbe.tcp(intruder, lab.pod("web-3").ip(), 8080, DROP_MS), Outcome.CONNECTED);
            expect(wrong, "UDP client-1 -> web-3", PodProbe.udp(client, lab.pod("web-3").ip(), 5353, DROP_MS), Outcome.DROPPED);
            expect(wrong, "UDP intruder-1 -> web-3", PodProbe.udp(intruder, lab.pod("web-3").ip(), 5353, 3000), Outcome.CONNECTED);
            assertEquals(List.of(), wrong, mode);
        } finally {
            TestLabs.down(lab);
        }
    }

    private static void expect(List<String> wrong, String what, Outcome got, Outcome expected) {
        if (got != expected) {
            wrong.add(what + ": " + got + ", expected " + expected);
        }
    }

    private static JsonNode load(Lab lab, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("load"));
        cmd.addAll(List.of(args));
        Command.Result r = lab.execCapture("client-1", JavaCommand.sluice(cmd.toArray(String[]::new)));
        String json = r.stdout().lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b)
                .orElseThrow(() -> new AssertionError(r.stdout() + r.stderr()));
        return JSON.readTree(json);
    }

    private static Set<String> names(JsonNode byPod) {
        Set<String> names = new TreeSet<>();
        byPod.fieldNames().forEachRemaining(names::add);
        return names;
    }

    private static String head(String s) {
        return s.lines().limit(6).map(l -> "  " + l + "\n").reduce("", String::concat);
    }

    /** web-N on node-N (zone a, b, c), the callers on node-1, and a Service over every web pod. */
    private static String manifests() {
        StringBuilder m = new StringBuilder("""
                apiVersion: v1
                kind: Service
                metadata: {name: web}
                spec:
                  selector: {app: web}
                  ports: [{name: http, port: 8080, targetPort: 8080}, {name: dns, port: 5353, protocol: UDP, targetPort: 5353}]
                """);
        String[] zones = {"a", "b", "c"};
        for (int n = 1; n <= 3; n++) {
            m.append("---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-").append(n).append(", labels: {app: web, zone: ")
                    .append(zones[n - 1]).append("}}\nspec:\n  nodeName: node-").append(n).append("""

                      containers:
                      - name: echo
                        image: sluice/echo
                        ports: [{containerPort: 8080, name: http}, {containerPort: 5353, protocol: UDP, name: dns}]
                    """);
        }
        for (String caller : List.of("client", "intruder")) {
            m.append("---\napiVersion: v1\nkind: Pod\nmetadata: {name: ").append(caller).append("-1, labels: {app: ").append(caller)
                    .append("}}\nspec:\n  nodeName: node-1\n  containers: [{name: c, image: sluice/toolbox, command: [sleep, infinity]}]\n");
        }
        return m.toString();
    }

    private static String policy(String zone, String from) {
        return "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: zone-" + zone + "}\nspec:\n"
                + "  endpointSelector: {matchLabels: {app: web, zone: " + zone + "}}\n"
                + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: " + from + "}}]\n";
    }

    /** tcpdump on every port of the fabric bridge (the bridge device itself sees only what is addressed to it), inside the lab's fabric namespace (never the machine's), stopped by its PID. */
    private record Capture(Process process, Path file) {
        static Capture start(String fabricNetns, Path file) throws Exception {
            Process p = new ProcessBuilder("nsenter", "--net=/run/netns/" + fabricNetns, "tcpdump", "-i", "any", "-nn", "-U",
                    "--immediate-mode",
                    "-w", file.toString()).redirectErrorStream(true).start();
            // tcpdump says "listening on any" once it captures. --immediate-mode: without it libpcap hands packets over a
            // block at a time (or after 1 s), and a tcpdump stopped before that drops them uncounted.
            StringBuilder said = new StringBuilder();
            long deadline = System.currentTimeMillis() + 10_000;
            var in = p.getInputStream();
            while (!said.toString().contains("listening on") && System.currentTimeMillis() < deadline && p.isAlive()) {
                if (in.available() > 0) {
                    said.append((char) in.read());
                } else {
                    Thread.sleep(20);
                }
            }
            assertTrue(said.toString().contains("listening on"), "tcpdump did not start: " + said);
            return new Capture(p, file);
        }

        void stop() throws InterruptedException {
            Thread.sleep(300); // the last packets' way through the bridge
            process.destroy(); // SIGTERM to the tcpdump we started, by its PID
            process.waitFor(5, TimeUnit.SECONDS);
        }

        /** The captured packets that {@code filter} (pcap syntax, on the outer headers) matches, one a line. */
        String read(String filter) throws IOException, InterruptedException {
            Process r = new ProcessBuilder("tcpdump", "-r", file.toString(), "-nn", filter).start();
            String out = new String(r.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String err = new String(r.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            r.waitFor(10, TimeUnit.SECONDS);
            assertEquals(0, r.exitValue(), "tcpdump -r " + file + " (" + Files.size(file) + " bytes): " + err);
            return out;
        }
    }
}
