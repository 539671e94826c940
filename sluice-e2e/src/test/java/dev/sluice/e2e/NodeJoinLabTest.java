package dev.sluice.e2e;

import dev.sluice.agent.api.wireguard.WgDeviceState;
import dev.sluice.agent.api.wireguard.WgKey;
import dev.sluice.agent.api.wireguard.WireGuardNames;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.linux.Command;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A node joining and leaving a running, encrypted 3-node lab (issue 14): after {@code lab node add} every other node
 * routes the new node's pod CIDR and has it as a WireGuard peer, and a pod on it talks to a pod on node-1 with only
 * WireGuard on the fabric; after {@code lab node remove} every route and peer list drops it, and its namespace is gone.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NodeJoinLabTest {
    private Lab lab;
    private Path dir;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        dir = Files.createTempDirectory("nodes-lab");
        lab = TestLabs.create("nodes");
        Path values = Files.writeString(dir.resolve("values.yaml"), "encryption:\n  enabled: true\n  type: wireguard\n");
        lab.up(3, ManifestReader.read(List.of(WireGuardLabTest.pods(dir))), values);
        WireGuardLabTest.awaitPeers(lab, 2);
    }

    @AfterAll
    void down() throws IOException {
        if (lab != null) {
            TestLabs.down(lab);
        }
        if (dir != null) {
            try (var files = Files.walk(dir)) {
                for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(f);
                }
            }
        }
    }

    private static String routes(LabState.NodeState n) {
        return Command.run("ip", "-n", n.netns(), "-4", "route", "show", "table", "all");
    }

    @Test
    void aNodeJoinsEveryPeerListAndRouteTableAndLeavesThemAgain() throws Exception {
        CliRun unknown = CliRun.of(lab, "lab", "node", "remove", "node-9");
        assertNotEquals(0, unknown.exit());
        assertTrue(unknown.err().contains("has no node named 'node-9'"), unknown.err());

        long t0 = System.currentTimeMillis();
        CliRun add = CliRun.of(lab, "lab", "node", "add");
        System.out.println(add.out() + add.err());
        assertEquals(0, add.exit(), add.out() + add.err());
        LabState.NodeState n4 = lab.state().node("node-4").orElseThrow();
        assertEquals("10.254.0.4", n4.address());
        assertEquals("10.244.4.0/24", n4.podCidr());
        WireGuardLabTest.awaitPeers(lab, 3);
        System.out.println("node add to every peer list: " + (System.currentTimeMillis() - t0) + " ms");
        for (LabState.NodeState n : lab.state().nodes()) {
            if (!n.name().equals("node-4")) {
                assertTrue(routes(n).contains("10.244.4.0/24"), n.name() + " routes node-4's pods: " + routes(n));
                WgDeviceState d = WireGuardLabTest.device(lab, n.name()).orElseThrow();
                String key = lab.state().node("node-4").orElseThrow().annotations().get(WireGuardNames.PUBLIC_KEY_ANNOTATION);
                WgDeviceState.Peer p = d.peer(WgKey.fromBase64(key)).orElseThrow(
                        () -> new AssertionError(n.name() + " has no peer for node-4"));
                assertEquals("10.254.0.4:" + WireGuardNames.PORT, p.endpoint());
                assertEquals(List.of("10.244.4.0/24"), p.allowedIps());
            }
        }
        CliRun encrypt = CliRun.of(lab, "encrypt", "status");
        System.out.println(encrypt.out());
        assertEquals(0, encrypt.exit(), encrypt.out() + encrypt.err());
        assertTrue(encrypt.out().contains("node-4"), encrypt.out());

        // A pod scheduled on the new node talks to pods on the others, encrypted.
        Path pod = Files.writeString(dir.resolve("web4.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: web4, labels: {app: web}}\n"
                + "spec:\n  nodeName: node-4\n  containers:\n  - name: echo\n    image: sluice/echo\n    ports: [{containerPort: 8080}]\n");
        lab.apply(ManifestReader.read(List.of(pod)));
        String magic = "sluice-join-" + UUID.randomUUID();
        WireGuardLabTest.Capture capture = WireGuardLabTest.Capture.start(lab, dir.resolve("joined"));
        assertEquals(200, WireGuardLabTest.httpStatus(lab, "client", lab.pod("web4").ip(), "/" + magic), "node-1 -> node-4");
        assertEquals(200, WireGuardLabTest.httpStatus(lab, "web4", lab.pod("web2").ip(), "/" + magic), "node-4 -> node-2");
        List<String> packets = capture.stop();
        assertTrue(packets.size() >= 6, packets.toString());
        for (String p : packets) {
            assertTrue(p.matches(".* IP 10\\.254\\.0\\.\\d+\\.51871 > 10\\.254\\.0\\.\\d+\\.51871: UDP, length \\d+"), "only WireGuard UDP: " + p);
        }
        assertFalse(capture.bytes().contains(magic), "the payload is never on the fabric in the clear");

        // Leaving: its bare pod deleted, every route and peer list drops it, nothing of it left.
        t0 = System.currentTimeMillis();
        CliRun remove = CliRun.of(lab, "lab", "node", "remove", "node-4");
        System.out.println(remove.out() + remove.err());
        assertEquals(0, remove.exit(), remove.out() + remove.err());
        assertTrue(remove.out().contains("- pod default/web4"), remove.out());
        WireGuardLabTest.awaitPeers(lab, 2);
        System.out.println("node remove to every peer list: " + (System.currentTimeMillis() - t0) + " ms");
        assertTrue(lab.state().node("node-4").isEmpty());
        assertTrue(lab.state().pods().stream().noneMatch(p -> p.node().equals("node-4")));
        for (LabState.NodeState n : lab.state().nodes()) {
            assertFalse(routes(n).contains("10.244.4.0/24"), n.name() + " dropped node-4's route: " + routes(n));
        }
        assertFalse(Files.exists(Path.of("/run/netns", n4.netns())), "node-4's namespace is gone");
        assertFalse(Files.exists(Path.of(lab.state().cgroupRoot(), "node-4")), "node-4's cgroup is gone");
        assertFalse(Files.exists(lab.layout("node-4").pinDir()), "node-4's pins are gone");
        assertEquals(200, WireGuardLabTest.httpStatus(lab, "client", lab.pod("web2").ip(), "/after"), "the others still talk");
    }

    @Test
    void theLastNodeIsNotRemoved() throws Exception {
        Lab one = TestLabs.create("node1");
        try {
            one.up(1, ManifestReader.read(List.of(Files.writeString(dir.resolve("none.yaml"),
                    "apiVersion: v1\nkind: Namespace\nmetadata: {name: empty}\n"))), null);
            CliRun r = CliRun.of(one, "lab", "node", "remove", "node-1");
            assertNotEquals(0, r.exit());
            assertTrue(r.err().contains("is the last node"), r.err());
            assertTrue(one.state().node("node-1").isPresent(), "the state in force is kept");
            CliRun bad = CliRun.of(one, "lab", "node", "add", "--name", "Bad_Name");
            assertNotEquals(0, bad.exit());
            assertTrue(bad.err().contains("--name: 'Bad_Name' is not a node name"), bad.err());
        } finally {
            TestLabs.down(one);
        }
    }
}
