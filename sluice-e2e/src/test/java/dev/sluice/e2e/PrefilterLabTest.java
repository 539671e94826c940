package dev.sluice.e2e;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.datapath.abi.DropReason;
import dev.sluice.e2e.PodProbe.Outcome;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.linux.JavaCommand;
import dev.sluice.linux.NetNs;
import dev.sluice.model.ManifestReader;
import dev.sluice.observe.v1.Flow;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The XDP prefilter from another node: pods of node-2 connect to a server pod of node-1 by its pod IP, so
 * their packets enter node-1 through its uplink ({@code eth0} of the node namespace, where the prefilter is
 * attached) with the pod's address as source (the lab routes pod CIDRs between nodes, no tunnel).
 * The values file blocks node-2's whole pod CIDR at start; {@code sluice prefilter delete} lifts it; a /32
 * added with {@code sluice prefilter add} blocks one pod of node-2 and not its neighbour; {@code sluice observe}
 * shows the Prefilter drops of the blocked source, {@code prefilter list} its counter rising, {@code sluice status}
 * the XDP mode; deleting the /32 restores the connection. Drops are told from refusals as PodProbe does:
 * a dropped SYN is never answered.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PrefilterLabTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int PORT = 7000;
    private static final int DROP_MS = 800;
    private static final int CONNECT_MS = 3000;
    private Lab lab;
    private Path dir;
    private String node2PodCidr;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        dir = Files.createTempDirectory("prefilter-lab");
        lab = TestLabs.create("pf");
        // The lab's address plan gives node N the pod CIDR 10.244.N.0/24 (AddressPlan); checked against the
        // lab's state once it is up.
        node2PodCidr = "10.244.2.0/24";
        Path pods = Files.writeString(dir.resolve("pods.yaml"), pods());
        Path values = Files.writeString(dir.resolve("values.yaml"), """
                hubble:
                  enabled: true
                prefilter:
                  enabled: true
                  mode: native
                  cidrs: [%s]
                """.formatted(node2PodCidr));
        lab.up(2, ManifestReader.read(List.of(pods)), values);
        assertEquals(node2PodCidr, lab.state().nodes().stream().filter(n -> n.name().equals("node-2")).findFirst().orElseThrow().podCidr());
    }

    @AfterAll
    void down() throws Exception {
        if (lab != null) {
            TestLabs.down(lab);
        }
        if (dir != null) {
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    Files.delete(f);
                }
            }
            Files.delete(dir);
        }
    }

    /** server on node-1 (TCP PORT), blocked and neighbour on node-2, doing nothing but being there. */
    private static String pods() {
        String server = JSON.valueToTree(JavaCommand.sluice("transfer-server", "--port", Integer.toString(PORT))).toString();
        return pod("server", "node-1", server, true) + pod("blocked", "node-2", "[\"sleep\", \"infinity\"]", false)
                + pod("neighbour", "node-2", "[\"sleep\", \"infinity\"]", false);
    }

    private static String pod(String name, String node, String command, boolean listens) {
        return "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", labels: {app: " + name + "}}\nspec:\n  nodeName: " + node
                + "\n  containers:\n  - name: " + name + "\n    image: sluice/toolbox\n    command: " + command + "\n"
                + (listens ? "    ports:\n    - containerPort: " + PORT + "\n" : "");
    }

    private CliRun sluice(String... args) {
        return CliRun.of(lab, args);
    }

    private Outcome connect(String from) {
        LabState.PodState pod = lab.pod(from);
        return PodProbe.tcp(NetNs.existing(pod.netns()), lab.pod("server").ip(), PORT, DROP_MS);
    }

    /** A connection from the pod, retried for a while: the server's JVM may still be binding. */
    private Outcome connectEventually(String from) throws InterruptedException {
        LabState.PodState pod = lab.pod(from);
        long deadline = System.currentTimeMillis() + 15_000;
        Outcome last;
        do {
            last = PodProbe.tcp(NetNs.existing(pod.netns()), lab.pod("server").ip(), PORT, CONNECT_MS);
            if (last == Outcome.CONNECTED) {
                return last;
            }
            Thread.sleep(200);
        } while (System.currentTimeMillis() < deadline);
        return last;
    }

    /** node-1's drop counter of one CIDR, from `sluice prefilter list --node node-1` (-1: not listed). */
    private long dropped(String cidr) {
        CliRun list = sluice("prefilter", "list", "--node", "node-1");
        assertEquals(0, list.exit(), list.err());
        return list.out().lines().skip(1).map(l -> l.trim().split("\\s+"))
                .filter(f -> f[0].equals("node-1") && f[1].equals(cidr)).mapToLong(f -> Long.parseLong(f[2])).findFirst().orElse(-1);
    }

    /** node-1's flows dropped by the prefilter whose source is {@code ip}, through `sluice observe -o json`. */
    private List<Flow> prefilterDrops(String ip) {
        CliRun observe = sluice("observe", "--verdict", "DROPPED", "--node", "node-1", "--last", "1000", "-o", "json");
        assertEquals(0, observe.exit(), observe.err());
        return observe.flows().stream().filter(f -> f.getIP().getSource().equals(ip) && f.getDropReason() == DropReason.PREFILTER.value()
                && f.getNodeName().equals("node-1")).toList();
    }

    @Test
    @Order(1)
    void theValuesFilesCidrDropsEveryPodOfNode2UntilDeleted() throws Exception {
        CliRun list = sluice("prefilter", "list");
        assertEquals(0, list.exit(), list.err());
        System.out.println("sluice prefilter list (values file):\n" + list.out());
        assertTrue(list.out().lines().anyMatch(l -> l.matches("node-1\\s+" + java.util.regex.Pattern.quote(node2PodCidr) + "\\s+\\d+\\s+\\d+")), list.out());
        assertTrue(list.out().lines().anyMatch(l -> l.matches("node-2\\s+" + java.util.regex.Pattern.quote(node2PodCidr) + "\\s+\\d+\\s+\\d+")), list.out());

        long before = dropped(node2PodCidr);
        assertEquals(Outcome.DROPPED, connect("blocked"));
        assertEquals(Outcome.DROPPED, connect("neighbour"));
        long after = dropped(node2PodCidr);
        assertTrue(after >= before + 2, "node-1 counted the two SYNs under " + node2PodCidr + ": " + before + " -> " + after);

        CliRun delete = sluice("prefilter", "delete", node2PodCidr);
        assertEquals(0, delete.exit(), delete.err());
        assertTrue(delete.out().contains("node-1: 1 CIDR(s) unblocked, 0 blocked"), delete.out());
        assertEquals(Outcome.CONNECTED, connectEventually("blocked"));
        assertEquals(Outcome.CONNECTED, connectEventually("neighbour"));
        assertEquals(-1, dropped(node2PodCidr), "the deleted CIDR is no longer listed");
    }

    @Test
    @Order(2)
    void aBlockedSlash32DropsOnePodItsNeighbourStillConnectsAndDeleteRestoresIt() throws Exception {
        String blocked = lab.pod("blocked").ip() + "/32";
        String neighbourIp = lab.pod("neighbour").ip();
        assertEquals(Outcome.CONNECTED, connectEventually("blocked"), "before any block");

        CliRun add = sluice("prefilter", "add", blocked);
        assertEquals(0, add.exit(), add.err());
        assertTrue(add.out().contains("node-1: 1 CIDR(s) blocked"), add.out());
        long before = dropped(blocked);
        long neighbourDropsBefore = prefilterDrops(lab.pod("neighbour").ip()).size();

        for (int i = 0; i < 3; i++) {
            assertEquals(Outcome.DROPPED, connect("blocked"), "attempt " + i + " from " + blocked);
        }
        assertEquals(Outcome.CONNECTED, connectEventually("neighbour"), "the neighbour " + neighbourIp + " is outside " + blocked);
        long after = dropped(blocked);
        System.out.println("prefilter drops of " + blocked + " on node-1: " + before + " -> " + after);
        assertTrue(after - before >= 3, "each of 3 SYNs counted under " + blocked + ": " + before + " -> " + after);

        // sluice observe: the blocked source's drops, with the Prefilter reason, on node-1; none more of the neighbour.
        List<Flow> drops = prefilterDrops(lab.pod("blocked").ip());
        assertTrue(drops.size() >= 3, "3 Prefilter drops of the blocked source: " + drops);
        assertEquals(neighbourDropsBefore, prefilterDrops(neighbourIp).size(), "no new drop of the neighbour");
        // What was dropped: SYNs to the server's port (the prefilter reports the L4 header of what it drops). Only
        // this test's drops: the first test's block also caught the closing segments of connections it had opened.
        drops = drops.subList(drops.size() - 3, drops.size());
        assertTrue(drops.stream().allMatch(f -> f.getL4().getTCP().getDestinationPort() == PORT && f.getL4().getTCP().getFlags().getSYN()), drops.toString());
        CliRun text = sluice("observe", "--verdict", "DROPPED", "--node", "node-1", "--from-pod", "default/blocked", "--last", "100");
        assertEquals(0, text.exit(), text.err());
        System.out.println("sluice observe --verdict DROPPED --node node-1 --from-pod default/blocked:\n" + text.out());
        assertTrue(text.out().lines().filter(l -> l.contains("[node-1]: default/blocked") && l.contains("default/server")
                && l.contains("DROPPED (Prefilter: blocked CIDR")).count() >= 3, text.out());
        CliRun byPort = sluice("observe", "--verdict", "DROPPED", "--node", "node-1", "--port", Integer.toString(PORT), "--last", "1000");
        assertEquals(0, byPort.exit(), byPort.err());
        assertTrue(byPort.out().lines().filter(l -> l.contains("default/blocked") && l.contains("Prefilter")).count() >= 3,
                "observe --port finds the prefilter's drops:\n" + byPort.out());

        // sluice status: the mode the prefilter runs in, its CIDRs and drops.
        CliRun status = sluice("status");
        assertEquals(0, status.exit(), status.err());
        List<String> lines = status.out().lines().filter(l -> l.strip().startsWith("Prefilter:")).toList();
        System.out.println("sluice status:\n" + String.join("\n", lines));
        assertEquals(2, lines.size(), status.out());
        for (String l : lines) {
            assertTrue(l.matches(".*Prefilter:\\s+(native|generic) XDP on eth0, 1 CIDR\\(s\\) blocked, \\d+ packet\\(s\\) dropped"), l);
        }

        CliRun delete = sluice("prefilter", "delete", blocked);
        assertEquals(0, delete.exit(), delete.err());
        assertEquals(Outcome.CONNECTED, connectEventually("blocked"), "unblocked: " + blocked + " connects again");
        assertEquals(-1, dropped(blocked));
    }
}
