package dev.sluice.e2e;

import dev.sluice.agent.api.AgentStatus;
import dev.sluice.agent.api.StatusFile;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabException;
import dev.sluice.lab.LabState;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `lab apply` tells the truth: it returns once every agent has applied the change (a killed agent's
 * successor included), and fails naming the node when an agent could not (here: one whose supervisor is dead).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ApplyLabTest {
    private Lab lab;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        lab = TestLabs.create("a");
        lab.up(2, ManifestReader.read(List.of(LabTest.CLIENT)), null);
    }

    @AfterAll
    void down() {
        if (lab != null) {
            TestLabs.down(lab);
        }
    }

    private static Path service(Path dir, String name) throws Exception {
        Path file = dir.resolve(name + ".yaml");
        Files.writeString(file, """
                apiVersion: v1
                kind: Service
                metadata:
                  name: %s
                spec:
                  selector:
                    app: client
                  ports:
                  - port: 80
                    targetPort: 8080
                """.formatted(name));
        return file;
    }

    private String sluice(String... args) {
        java.io.StringWriter text = new java.io.StringWriter();
        picocli.CommandLine cli = dev.sluice.cli.Main.commandLine();
        cli.setOut(new java.io.PrintWriter(text));
        String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(args), java.util.stream.Stream.of("--lab", lab.name()))
                .toArray(String[]::new);
        cli.execute(all);
        return text.toString();
    }

    private AgentStatus status(String node) {
        return StatusFile.read(lab.layout(node).statusFile()).orElseThrow();
    }

    @Test
    void applyReturnsOnceEveryAgentAppliedItAndFailsNamingADeadAgent(@TempDir Path dir) throws Exception {
        lab.apply(ManifestReader.read(List.of(service(dir, "first"))));
        long written = lab.store().version();
        for (LabState.AgentState a : lab.state().agents()) {
            AgentStatus s = status(a.node());
            assertEquals(written, s.appliedVersion(), a.node() + " applied the state apply wrote before apply returned");
            assertTrue(s.failures().isEmpty(), s.failures().toString());
        }

        // An agent killed with SIGKILL is started again by its supervisor; apply waits for the new one.
        LabState.AgentState victim = lab.state().agents().get(1);
        long killed = Lab.supervision(victim).orElseThrow().agentPid();
        ProcessHandle.of(killed).orElseThrow().destroyForcibly();
        lab.apply(ManifestReader.read(List.of(service(dir, "second"))));
        AgentStatus restarted = status(victim.node());
        assertTrue(restarted.pid() != killed, "a new agent applied it");
        assertEquals(lab.store().version(), restarted.appliedVersion());
        var record = Lab.supervision(victim).orElseThrow();
        assertEquals(1, record.restarts());
        assertEquals(killed, record.lastExit().pid());
        assertEquals("SIGKILL", record.lastExit().signal());
        String status = sluice("status");
        assertTrue(status.contains("Restarts:              1; last exit: killed by SIGKILL"), status);

        // With its supervisor gone too, nothing brings it back: apply says so, naming the node.
        ProcessHandle.of(victim.pid()).orElseThrow().destroyForcibly();
        ProcessHandle.of(restarted.pid()).ifPresent(ProcessHandle::destroyForcibly);
        while (Lab.running(victim)) {
            Thread.sleep(10);
        }
        LabException e = assertThrows(LabException.class, () -> lab.apply(ManifestReader.read(List.of(service(dir, "third")))));
        assertTrue(e.getMessage().contains(victim.node() + ": the agent is not running (its supervisor, pid " + victim.pid() + ", is gone)"),
                e.getMessage());
        assertTrue(e.getMessage().contains("the change is recorded, but not every agent applied it"), e.getMessage());
        String other = lab.state().agents().getFirst().node();
        assertTrue(!e.getMessage().contains(other + ":"), "the live agent applied it: " + e.getMessage());

        // Back with an agent, the recorded change reaches it and apply is whole again.
        lab.restartAgent(victim.node());
        lab.apply(ManifestReader.read(List.of(service(dir, "fourth"))));
        String services = status(victim.node()).lines().stream().filter(l -> l.key().equals("Services")).findFirst().orElseThrow().value();
        // Four Services of one port, and cluster DNS's kube-dns (UDP and TCP 53).
        assertTrue(services.startsWith("6 frontend(s)"), services);
    }

    private static Path policy(Path dir, String entity) throws Exception {
        Path file = dir.resolve("policy-" + entity + ".yaml");
        Files.writeString(file, """
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata:
                  name: client-ingress
                spec:
                  endpointSelector:
                    matchLabels:
                      app: client
                  ingress:
                  - fromEntities: [%s]
                """.formatted(entity));
        return file;
    }

    private String policyLine(String node) {
        return status(node).lines().stream().filter(l -> l.key().equals("Policy")).findFirst().orElseThrow().value();
    }

    @Test
    void aPolicyEditTheAgentCannotCompileLeavesThePreviousInForceAndApplySaysSo(@TempDir Path dir) throws Exception {
        lab.apply(ManifestReader.read(List.of(policy(dir, "cluster"))));
        String node = lab.state().agents().getFirst().node();
        String before = policyLine(node);
        assertTrue(before.startsWith("1 policies in force"), before);

        Path broken = policy(dir, "galaxy");
        LabException e = assertThrows(LabException.class, () -> lab.apply(ManifestReader.read(List.of(broken))));
        for (LabState.AgentState a : lab.state().agents()) {
            assertTrue(e.getMessage().contains(a.node() + ": Policy: "), "every node names the policy: " + e.getMessage());
        }
        assertTrue(e.getMessage().contains("fromEntities"), "the field is named: " + e.getMessage());
        assertTrue(e.getMessage().contains("the last good version stays in force"), e.getMessage());
        String during = policyLine(node);
        assertTrue(during.startsWith("1 policies in force") && during.contains("REJECTED"), during);
        assertEquals(before.substring(0, before.indexOf(';')), during.substring(0, during.indexOf(';')),
                "the same entries are in force: " + during);

        // Fixed, it applies cleanly and the failure is gone.
        lab.apply(ManifestReader.read(List.of(policy(dir, "world"))));
        assertTrue(status(node).failures().isEmpty(), status(node).failures().toString());
        lab.delete(ManifestReader.read(List.of(policy(dir, "world"))));
    }
}
