package dev.sluice.e2e;

import dev.sluice.linux.JavaCommand;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabException;
import dev.sluice.lab.LabState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.Command;
import dev.sluice.linux.NetNs;
import dev.sluice.model.Desired;
import dev.sluice.model.ManifestException;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The lab with the seed's manifests on two nodes: real namespaces, processes and traffic. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LabTest {
    static final Path ROOT = Path.of(System.getenv().getOrDefault("SLUICE_ROOT", ".."));
    static final Path SEED = ROOT.resolve("examples/seed/product-service.yaml");
    static final Path CLIENT = ROOT.resolve("examples/demo/client.yaml");

    private static Lab lab;
    private static Set<String> hostLinksBefore;
    private static LabState lastState;

    @BeforeAll
    static void up() {
        Privileged.require();
        hostLinksBefore = hostLinks();
        lab = TestLabs.create("t");
        Desired desired = ManifestReader.read(List.of(SEED, CLIENT));
        Lab.Changes changes = lab.up(2, desired, ROOT.resolve("examples/seed/cilium-values.yaml"));
        System.out.printf("lab up with the seed manifests: %d pods ready in %d ms%n", changes.created().size(), changes.millis());
    }

    @AfterAll
    static void downLeavesNothing() {
        if (lab == null) {
            return;
        }
        LabState state = lab.store().read().orElse(lastState);
        TestLabs.down(lab);
        assertTrue(Command.exec(List.of("ip", "netns", "list")).stdout().lines().noneMatch(l -> l.startsWith("sl-" + lab.name() + "-")),
                "no lab namespace is left");
        assertFalse(Files.exists(Path.of(state.cgroupRoot())), "the lab's cgroups are gone");
        assertFalse(Files.exists(lab.store().dir()), "the lab's state is gone");
        for (PodState p : state.pods()) {
            assertFalse(Lab.running(p), "pod " + p.key() + " has no process left");
        }
        for (LabState.AgentState a : state.agents()) {
            assertFalse(Lab.running(a), "agent of " + a.node() + " is stopped");
        }
        assertFalse(Files.exists(Path.of("/sys/fs/bpf/sluice", lab.name())), "no pins are left");
        assertEquals(hostLinksBefore, hostLinks(), "the machine's own interfaces are as they were");
    }

    private static Set<String> hostLinks() {
        Set<String> names = new TreeSet<>();
        Command.run("ip", "-o", "link", "show").lines().forEach(l -> names.add(l.split(":")[1].strip()));
        return names;
    }

    private static List<PodState> productPods() {
        lastState = lab.state();
        return lastState.pods().stream().filter(p -> "product-service".equals(p.labels().get("app"))).toList();
    }

    private static NetNs clientNetns() {
        return NetNs.existing(lab.pod("deploy/client").netns());
    }

    @Test
    @Order(1)
    void theSeedGivesFourReadyPodsThreeV1OneV2AcrossTwoNodes() {
        List<PodState> pods = productPods();
        assertEquals(3, pods.stream().filter(p -> "v1".equals(p.labels().get("version"))).count());
        assertEquals(1, pods.stream().filter(p -> "v2".equals(p.labels().get("version"))).count());
        assertEquals(2, pods.stream().map(PodState::node).distinct().count(), "pods are spread over both nodes");
        pods.forEach(p -> assertTrue(Lab.running(p), p.key()));
    }

    @Test
    @Order(2)
    void everyPodAnswersHttpWithItsOwnNameAndVersionFromTheClientPod() {
        NetNs client = clientNetns();
        for (PodState p : productPods()) {
            String response = PodHttp.get(client, p.ip(), 50051, "/hello");
            assertTrue(response.startsWith("HTTP/1.1 200"), response);
            assertTrue(response.contains("\"pod\":\"" + p.name() + "\""), response);
            assertTrue(response.contains("\"version\":\"" + p.labels().get("version") + "\""), response);
        }
    }

    @Test
    @Order(3)
    void everyPodAnswersGrpcFromInsideTheClientPod() {
        for (PodState p : productPods()) {
            Command.Result r = lab.execCapture("deploy/client", JavaCommand.sluice("call", "--grpc", "-n", "1", p.ip() + ":50051"));
            assertEquals(0, r.exitCode(), r.stdout() + r.stderr());
            assertTrue(r.stdout().contains(p.name()) && r.stdout().contains(p.labels().get("version")), r.stdout());
        }
    }

    /** `lab exec POD -- sluice ...`, as the README tells users to run the workload's client. */
    @Test
    @Order(3)
    void theSluiceCommandIsOnThePathInsidePods() {
        Command.Result r = lab.execCapture("deploy/client", List.of("sluice", "call", "--http", "-n", "1", "product-service:50051"));
        assertEquals(0, r.exitCode(), r.stdout() + r.stderr());
        assertTrue(r.stdout().contains("product-service-v"), r.stdout());
    }

    @Test
    @Order(4)
    void serviceNamesResolveInsidePods() {
        String ip = lab.state().clusterIps().get("default/product-service");
        assertTrue(ip != null && ip.startsWith("10.96."), "a ClusterIP from the Service CIDR: " + ip);
        for (String name : List.of("product-service", "product-service.default", "product-service.default.svc.cluster.local")) {
            Command.Result r = lab.execCapture("deploy/client", List.of("getent", "hosts", name));
            assertEquals(0, r.exitCode(), name + ": " + r.stderr());
            assertTrue(r.stdout().startsWith(ip + " "), name + " -> " + r.stdout());
        }
    }

    @Test
    @Order(5)
    void noNodeOrFabricNamespaceHasARouteOutOfTheLab() {
        LabState state = lab.state();
        List<String> namespaces = new ArrayList<>(state.nodes().stream().map(LabState.NodeState::netns).toList());
        namespaces.add(state.fabricNetns());
        for (String ns : namespaces) {
            for (String outside : List.of("1.1.1.1", "8.8.8.8", "192.168.1.1", "172.17.0.1")) {
                // `ip route get` only consults the routing table: nothing is sent.
                Command.Result r = Command.exec(List.of("ip", "-n", ns, "route", "get", outside));
                assertTrue(!r.ok() && r.stderr().contains("unreachable"), ns + " routes " + outside + ": " + r.stdout());
            }
        }
    }

    @Test
    @Order(6)
    void scalingThroughApplyAddsAndRemovesPods(@TempDir Path dir) throws Exception {
        Path scaledDown = dir.resolve("down.yaml");
        Files.writeString(scaledDown, Files.readString(SEED).replace("replicas: 3", "replicas: 1"));
        Lab.Changes down = lab.apply(ManifestReader.read(List.of(scaledDown)));
        assertEquals(2, down.deleted().size(), down.toString());
        assertEquals(1, productPods().stream().filter(p -> "v1".equals(p.labels().get("version"))).count());
        for (String deleted : down.deleted()) {
            String name = deleted.substring(deleted.indexOf('/') + 1);
            assertFalse(Files.exists(Path.of("/run/netns", "sl-" + lab.name() + "-default-" + name)), deleted + "'s namespace is gone");
        }

        Lab.Changes up = lab.apply(ManifestReader.read(List.of(SEED)));
        assertEquals(2, up.created().size(), up.toString());
        List<PodState> v1 = productPods().stream().filter(p -> "v1".equals(p.labels().get("version"))).toList();
        assertEquals(3, v1.size());
        NetNs client = clientNetns();
        v1.forEach(p -> assertTrue(PodHttp.get(client, p.ip(), 50051, "/").contains(p.name()), "new pod " + p.key() + " answers"));
    }

    @Test
    @Order(7)
    void anInvalidManifestIsRejectedByFileAndFieldAndTheLabStaysAsItWas(@TempDir Path dir) throws Exception {
        List<String> before = lab.state().pods().stream().map(PodState::key).sorted().toList();
        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, Files.readString(SEED).replace("replicas: 1", "replicas: lots"));
        ManifestException e = assertThrows(ManifestException.class, () -> lab.apply(ManifestReader.read(List.of(bad))));
        assertTrue(e.getMessage().contains("bad.yaml") && e.getMessage().contains("spec.replicas"), e.getMessage());

        Path otherNs = dir.resolve("other-ns.yaml");
        Files.writeString(otherNs, Files.readString(CLIENT).replace("metadata:\n  name: client\n", "metadata:\n  name: client\n  namespace: nowhere\n"));
        LabException le = assertThrows(LabException.class, () -> lab.apply(ManifestReader.read(List.of(otherNs))));
        assertTrue(le.getMessage().contains("other-ns.yaml") && le.getMessage().contains("metadata.namespace"), le.getMessage());
        assertEquals(before, lab.state().pods().stream().map(PodState::key).sorted().toList(), "nothing changed");
    }

    @Test
    @Order(8)
    void eachNodeHasARunningAgentThatRegisteredItsEndpoints() throws Exception {
        long deadline = System.currentTimeMillis() + 10_000;
        for (LabState.AgentState a : lab.state().agents()) {
            assertTrue(Lab.running(a), "agent of " + a.node());
            long expected = lab.state().pods().stream().filter(p -> p.node().equals(a.node())).count();
            while (true) {
                var status = dev.sluice.agent.api.StatusFile.read(Path.of(a.statusFile()));
                if (status.isPresent() && status.get().endpoints().size() == expected) {
                    break;
                }
                assertTrue(System.currentTimeMillis() < deadline, "agent " + a.node() + " registered " + status.map(s -> s.endpoints().size()).orElse(-1)
                        + " of " + expected + " endpoints");
                Thread.sleep(100);
            }
        }
    }

    @Test
    @Order(10)
    void statusReportsEachAgentAndWhetherTheKernelHasWireGuard() {
        java.io.StringWriter text = new java.io.StringWriter();
        picocli.CommandLine cli = dev.sluice.cli.Main.commandLine();
        cli.setOut(new java.io.PrintWriter(text));
        assertEquals(0, cli.execute("status", "--lab", lab.name()), text.toString());
        String out = text.toString();
        assertTrue(out.contains("Agent node-1:") && out.contains("Agent node-2:") && out.contains("Endpoints:"), out);
        boolean missing = dev.sluice.model.KernelFeatures.running().missing("CONFIG_WIREGUARD", "wireguard").isPresent();
        String encryption = out.lines().filter(l -> l.strip().startsWith("Encryption:")).findFirst().orElseThrow();
        if (missing && dev.sluice.model.KernelFeatures.running().userspaceWireGuard()) {
            // The agents run wireguard-go instead (docs/encryption.md).
            assertTrue(encryption.contains("Wireguard [sluice_wg0 (Pubkey: "), encryption);
        } else if (missing) {
            assertTrue(encryption.contains("Unavailable") && encryption.contains("WireGuard") && encryption.contains("CONFIG_WIREGUARD"), encryption);
        } else {
            assertFalse(encryption.contains("Unavailable"), encryption);
        }
        assertTrue(out.contains("KubeProxyReplacement:"), out);
    }

    @Test
    @Order(10)
    void theLabsStateLogsAndSocketsAreReadableByRootOnly() throws Exception {
        // Pod logs may carry a workload's secrets; the Observer sockets serve every flow of the node.
        assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(lab.store().dir())));
        assertTrue(Files.exists(lab.store().logs()) && lab.store().logs().startsWith(lab.store().dir()));
        assertTrue(lab.layout("node-1").observerSocket().startsWith(lab.store().dir()));
    }

    @Test
    @Order(11)
    void deleteRemovesTheObjectsAndTheirPods() {
        Lab.Changes changes = lab.delete(ManifestReader.read(List.of(CLIENT)));
        assertEquals(1, changes.deleted().size(), changes.toString());
        assertTrue(lab.state().pods().stream().noneMatch(p -> "client".equals(p.owner())));
        assertTrue(lab.state().desired().deployments().stream().noneMatch(d -> d.ref().name().equals("client")));
    }

    @Test
    @Order(9)
    void podProcessesLiveInTheirPodsCgroup() {
        for (PodState p : lab.state().pods()) {
            List<Long> procs = Cgroups.procs(Path.of(p.cgroup()));
            assertTrue(procs.contains(p.containers().getFirst().pid()), p.key() + " cgroup has " + procs);
        }
    }
}
