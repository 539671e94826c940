package dev.sluice.e2e;

import dev.sluice.agent.api.wireguard.Uapi;
import dev.sluice.agent.api.wireguard.WgDeviceState;
import dev.sluice.agent.api.wireguard.WgKey;
import dev.sluice.agent.api.wireguard.WireGuardNames;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.linux.Command;
import dev.sluice.linux.NetNs;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * WireGuard between the nodes of a 3-node lab (issue 14): every node's device has the other two as peers; a capture
 * on the fabric, for payloads the test sends between pods on different nodes, shows only WireGuard UDP between node
 * addresses, never the payload or a pod address, while in a lab without encryption the same payload is seen; a key
 * rotation under a live connection; strict mode dropping (and counting) what would leave unencrypted.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WireGuardLabTest {
    private static final int HTTP = 8080;
    private Lab lab;
    private Path dir;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        dir = Files.createTempDirectory("wg-lab");
        lab = TestLabs.create("wg");
        Path values = Files.writeString(dir.resolve("values.yaml"), """
                encryption:
                  enabled: true
                  type: wireguard
                  strictMode:
                    enabled: true
                """);
        lab.up(3, ManifestReader.read(List.of(pods(dir))), values);
        awaitPeers(lab, 2);
        awaitEncrypted(lab, 2);
    }

    @AfterAll
    void down() throws IOException {
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

    /** client on node-1 (no server), an echo pod on each of node-2 and node-3. */
    static Path pods(Path dir) throws IOException {
        StringBuilder y = new StringBuilder();
        y.append("apiVersion: v1\nkind: Pod\nmetadata: {name: client, labels: {app: client}}\nspec:\n  nodeName: node-1\n"
                + "  containers:\n  - name: c\n    image: sluice/toolbox\n    command: [\"sleep\", \"infinity\"]\n");
        for (int n = 2; n <= 3; n++) {
            y.append("---\napiVersion: v1\nkind: Pod\nmetadata: {name: web").append(n).append(", labels: {app: web}}\nspec:\n  nodeName: node-")
                    .append(n).append("\n  containers:\n  - name: echo\n    image: sluice/echo\n    ports: [{containerPort: ").append(HTTP).append("}]\n");
        }
        return Files.writeString(dir.resolve("pods.yaml"), y.toString());
    }

    static Optional<WgDeviceState> device(Lab lab, String node) {
        try {
            return Optional.of(new Uapi(WireGuardNames.socket(lab.layout(node))).get());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Until every node's device has {@code peers} peers (each agent published its key and learnt the others'). */
    static void awaitPeers(Lab lab, int peers) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 30_000;
        while (System.currentTimeMillis() < deadline) {
            if (lab.state().nodes().stream().allMatch(n -> device(lab, n.name()).map(d -> d.peers().size() == peers).orElse(false))) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("not every node has " + peers + " WireGuard peers: " + lab.state().nodes().stream()
                .map(n -> n.name() + "=" + device(lab, n.name()).map(d -> d.peers().size() + " peer(s)").orElse("no device")).toList());
    }

    /**
     * Until every agent reports a handshake with each of its {@code peers} peers and no node unencrypted: a new peer is
     * routed into the device after its first handshake (strict mode drops meanwhile), which on a loaded machine can
     * take a few of wireguard-go's 5 s handshake retries after the lab is up.
     */
    static void awaitEncrypted(Lab lab, int peers) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        String out = "";
        while (System.currentTimeMillis() < deadline) {
            out = CliRun.of(lab, "status").out();
            long ready = out.lines().filter(l -> l.contains(peers + " peer(s) with a handshake")).count();
            if (ready == lab.state().nodes().size() && out.lines().noneMatch(l -> l.contains("Encryption WARNING"))) {
                return;
            }
            Thread.sleep(500);
        }
        throw new AssertionError("not every node encrypts to its " + peers + " peers within 60 s:\n" + out);
    }

    private LabState.NodeState node(String name) {
        return lab.state().node(name).orElseThrow();
    }

    @Test
    @Order(1)
    void everyNodePeersWithTheOthersAtTheirAddressForTheirPodCidr() {
        for (LabState.NodeState n : lab.state().nodes()) {
            WgDeviceState d = device(lab, n.name()).orElseThrow();
            String published = n.annotations().get(WireGuardNames.PUBLIC_KEY_ANNOTATION);
            assertEquals(published, d.publicKey().orElseThrow().base64(), n.name() + " published its device's key in the lab state");
            assertEquals(WireGuardNames.PORT, d.listenPort());
            for (LabState.NodeState other : lab.state().nodes()) {
                if (other.name().equals(n.name())) {
                    continue;
                }
                WgDeviceState.Peer p = d.peer(WgKey.fromBase64(other.annotations().get(WireGuardNames.PUBLIC_KEY_ANNOTATION))).orElseThrow(
                        () -> new AssertionError(n.name() + " has no peer for " + other.name()));
                assertEquals(other.address() + ":" + WireGuardNames.PORT, p.endpoint());
                assertEquals(List.of(other.podCidr()), p.allowedIps());
            }
            // The key file: kept under the node's state directory, for root only.
            Path key = lab.layout(n.name()).wireguardDir().resolve("private.key");
            assertTrue(Files.exists(key), key.toString());
        }
        CliRun status = CliRun.of(lab, "status");
        System.out.println(status.out());
        assertTrue(status.out().lines().filter(l -> l.matches(
                "\\s+Encryption:\\s+Wireguard \\[sluice_wg0 \\(Pubkey: \\S+, Port: 51871, Peers: 2\\)\\].*")).count() == 3, status.out());
        CliRun encrypt = CliRun.of(lab, "encrypt", "status");
        System.out.println(encrypt.out());
        assertEquals(0, encrypt.exit(), encrypt.out() + encrypt.err());
    }

    @Test
    @Order(2)
    void theFabricCarriesOnlyWireGuardUdpNeverThePayloadOrAPodAddress() throws Exception {
        String magic = "sluice-wg-" + UUID.randomUUID();
        Capture capture = Capture.start(lab, dir.resolve("encrypted"));
        assertEquals(200, httpStatus(lab, "client", lab.pod("web2").ip(), "/" + magic), "the request crossed nodes and was answered");
        udp(lab, "client", lab.pod("web3").ip(), 9999, magic);
        assertEquals(200, httpStatus(lab, "web3", lab.pod("web2").ip(), "/" + magic));
        List<String> packets = capture.stop();
        System.out.println("fabric, encryption on: " + packets.size() + " packet(s), e.g. " + packets.stream().limit(3).toList());
        assertTrue(packets.size() >= 6, "the capture saw the traffic: " + packets);
        for (String p : packets) {
            assertTrue(p.matches(".* IP 10\\.254\\.0\\.\\d+\\.51871 > 10\\.254\\.0\\.\\d+\\.51871: UDP, length \\d+"), "only WireGuard UDP: " + p);
            assertFalse(p.contains("10.244."), "no pod address: " + p);
        }
        assertFalse(capture.bytes().contains(magic), "the payload is never on the fabric in the clear");

        CliRun check = CliRun.of(lab, "encrypt", "check", "default/client", "default/web2");
        System.out.println(check.out());
        assertEquals(0, check.exit(), check.out() + check.err());
        assertTrue(check.out().contains("crosses nodes") && check.out().contains("ENCRYPTED by sluice_wg0 on node-1")
                && check.out().contains("reply: ENCRYPTED by sluice_wg0 on node-2") && check.out().matches("(?s).*last handshake \\d+s ago.*"), check.out());
        CliRun same = CliRun.of(lab, "encrypt", "check", "default/web2", "default/web2");
        assertTrue(same.out().contains("does not cross nodes"), same.out());
    }

    @Test
    @Order(3)
    void aKeyRotationKeepsALiveConnectionAndReachesEveryPeer() throws Exception {
        String node1Key = node("node-1").annotations().get(WireGuardNames.PUBLIC_KEY_ANNOTATION);
        LabState.PodState client = lab.pod("client");
        Socket socket = NetNs.existing(client.netns()).call(() -> {
            Socket s = new Socket();
            s.connect(new InetSocketAddress(lab.pod("web2").ip(), HTTP), 5000);
            s.setSoTimeout(20_000);
            return s;
        });
        AtomicLong maxGapMs = new AtomicLong();
        List<Integer> statuses = new ArrayList<>();
        try (socket) {
            Thread rotate = Thread.ofVirtual().start(() -> {
                try {
                    Thread.sleep(1000);
                    CliRun r = CliRun.of(lab, "encrypt", "rotate-key", "--node", "node-1");
                    System.out.println(r.out() + r.err());
                    assertEquals(0, r.exit(), r.out() + r.err());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            long end = System.currentTimeMillis() + 12_000;
            long last = System.nanoTime();
            while (System.currentTimeMillis() < end) {
                statuses.add(request(socket, "/rotation"));
                long now = System.nanoTime();
                maxGapMs.accumulateAndGet((now - last) / 1_000_000, Math::max);
                last = now;
                Thread.sleep(50);
            }
            rotate.join();
        }
        System.out.println("rotation under a live connection: " + statuses.size() + " request(s) on one connection, longest wait "
                + maxGapMs.get() + " ms");
        assertTrue(statuses.stream().allMatch(s -> s == 200), statuses.toString());
        String rotated = node("node-1").annotations().get(WireGuardNames.PUBLIC_KEY_ANNOTATION);
        assertFalse(rotated.equals(node1Key), "node-1 published a new key");
        for (String other : List.of("node-2", "node-3")) {
            WgDeviceState d = device(lab, other).orElseThrow();
            assertTrue(d.peer(WgKey.fromBase64(rotated)).isPresent() && d.peer(WgKey.fromBase64(node1Key)).isEmpty(),
                    other + " holds node-1's new key only");
        }
        assertEquals(rotated, device(lab, "node-1").orElseThrow().publicKey().orElseThrow().base64());
        // Kept: the key file holds the new key, which a restarted agent reuses.
        assertEquals(rotated, WgKey.fromBase64(Files.readString(lab.layout("node-1").wireguardDir().resolve("private.key"))).publicKey().base64());
    }

    @Test
    @Order(4)
    void strictModeDropsAndCountsWhatWouldLeaveUnencrypted() throws Exception {
        // node-1 loses its route into WireGuard for node-2's pods (as when a peer is gone): without strict mode the
        // main table's route would send the packets over the fabric in the clear.
        LabState.NodeState n1 = node("node-1");
        String cidr = node("node-2").podCidr();
        Command.run("ip", "-n", n1.netns(), "route", "del", cidr, "table", WireGuardNames.TABLE);
        try {
            String magic = "sluice-strict-" + UUID.randomUUID();
            Capture capture = Capture.start(lab, dir.resolve("strict"));
            assertEquals(-1, httpStatus(lab, "client", lab.pod("web2").ip(), "/" + magic), "no answer: dropped");
            udp(lab, "client", lab.pod("web2").ip(), 9999, magic);
            List<String> packets = capture.stop();
            assertFalse(capture.bytes().contains(magic), "nothing in the clear");
            assertTrue(packets.stream().noneMatch(p -> p.contains("10.244.")), packets.toString());
            CliRun check = CliRun.of(lab, "encrypt", "check", "default/client", "default/web2");
            System.out.println(check.out());
            assertEquals(1, check.exit());
            assertTrue(check.out().contains("DROPPED (strict mode, node node-1)"), check.out());
            long deadline = System.currentTimeMillis() + 10_000;
            String line = "";
            while (System.currentTimeMillis() < deadline) {
                line = CliRun.of(lab, "status").out().lines().filter(l -> l.contains("Encryption:") && l.contains("strict mode: ")
                        && !l.contains("strict mode: 0 ") && !l.contains("strict mode: ?")).findFirst().orElse("");
                if (!line.isEmpty()) {
                    break;
                }
                Thread.sleep(500);
            }
            System.out.println(line.strip());
            assertTrue(line.matches(".*strict mode: [1-9]\\d* packet\\(s\\) dropped.*"), "node-1 counted its drops in status: " + line);
        } finally {
            Command.run("ip", "-n", n1.netns(), "route", "replace", cidr, "dev", WireGuardNames.DEVICE, "table", WireGuardNames.TABLE);
        }
    }

    @Test
    @Order(5)
    void withoutEncryptionTheSameCaptureSeesThePayload() throws Exception {
        Lab plain = TestLabs.create("wgoff");
        try {
            Path values = Files.writeString(dir.resolve("plain.yaml"), "encryption:\n  enabled: false\n");
            plain.up(2, ManifestReader.read(List.of(pods(dir))), values);
            String magic = "sluice-clear-" + UUID.randomUUID();
            Capture capture = Capture.start(plain, dir.resolve("clear"));
            assertEquals(200, httpStatus(plain, "client", plain.pod("web2").ip(), "/" + magic));
            List<String> packets = capture.stop();
            assertTrue(capture.bytes().contains(magic),
                    "the payload is on the fabric in the clear");
            assertTrue(packets.stream().anyMatch(p -> p.contains(plain.pod("client").ip())), "pod addresses are seen: " + packets);
            assertTrue(device(plain, "node-1").isEmpty(), "no WireGuard device");
        } finally {
            TestLabs.down(plain);
        }
    }

    /**
     * tcpdump in the lab's fabric namespace on each node's port of the bridge ({@code nodeN}: frames forwarded
     * between ports never reach the bridge device itself), so every packet between nodes, seen on both ports.
     */
    record Capture(List<Process> processes, List<Path> files) {
        static Capture start(Lab lab, Path dir) throws Exception {
            List<Process> processes = new ArrayList<>();
            List<Path> files = new ArrayList<>();
            for (LabState.NodeState n : lab.state().nodes()) {
                Path file = dir.resolveSibling(dir.getFileName() + "-node" + n.index() + ".pcap");
                Process p = new ProcessBuilder("nsenter", "--net=/run/netns/" + lab.state().fabricNetns(), "tcpdump", "-Z", "root",
                        "-i", "node" + n.index(), "-n", "-U", "--immediate-mode", "-s", "0", "-w", file.toString()).redirectErrorStream(true).start();
                // --immediate-mode: without it packets wait in the kernel's ring until a block fills or a second
                // passes, and a tcpdump stopped sooner never writes them (0 captured, N received by filter).
                processes.add(p);
                files.add(file);
                // tcpdump says "listening on" once its socket is open.
                var lines = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                String line = lines.readLine();
                assertTrue(line != null && line.contains("listening"), "tcpdump started: " + line);
            }
            return new Capture(processes, files);
        }

        /** The packets, as tcpdump prints them (ARP and IPv6 neighbour discovery aside: they name no pod). */
        List<String> stop() throws Exception {
            Thread.sleep(300);
            List<String> packets = new ArrayList<>();
            for (int i = 0; i < processes.size(); i++) {
                processes.get(i).destroy(); // SIGTERM to the tcpdump this test started, by its PID
                processes.get(i).waitFor();
                Command.run("tcpdump", "-r", files.get(i).toString(), "-n").lines()
                        .filter(l -> !l.contains(" ARP, ") && !l.contains(" IP6 ")).forEach(packets::add);
            }
            return packets;
        }

        /** Every captured byte, to look for a payload in the clear. */
        String bytes() throws IOException {
            StringBuilder all = new StringBuilder();
            for (Path f : files) {
                all.append(new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1));
            }
            return all.toString();
        }
    }

    /** An HTTP GET from a pod on a new connection; the status, -1 when nothing answered within 3 s. */
    static int httpStatus(Lab lab, String from, String ip, String path) {
        return NetNs.existing(lab.pod(from).netns()).call(() -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(ip, HTTP), 3000);
                s.setSoTimeout(3000);
                return request(s, path);
            } catch (IOException e) {
                return -1;
            }
        });
    }

    static void udp(Lab lab, String from, String ip, int port, String payload) {
        NetNs.existing(lab.pod(from).netns()).call(() -> {
            try (DatagramSocket s = new DatagramSocket()) {
                byte[] b = payload.getBytes(StandardCharsets.US_ASCII);
                s.send(new DatagramPacket(b, b.length, new InetSocketAddress(ip, port)));
            }
            return null;
        });
    }

    /** One keep-alive HTTP/1.1 request on {@code s}; its status (the body, by Content-Length, read and dropped). */
    static int request(Socket s, String path) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(("GET " + path + " HTTP/1.1\r\nHost: web\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = s.getInputStream();
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("connection closed");
            }
            head.append((char) c);
        }
        int length = 0;
        for (String line : head.toString().split("\r\n")) {
            if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).strip());
            }
        }
        in.readNBytes(length);
        return Integer.parseInt(head.toString().split(" ")[1]);
    }
}
