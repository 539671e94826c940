package dev.sluice.cli;

import dev.sluice.agent.AgentMain;
import dev.sluice.agent.AgentStatus;
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
 * `lab apply` tells the truth: it returns once every agent has applied the change, and fails naming the
 * node when an agent could not (here: one that is dead).
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

    private AgentStatus status(String node) {
        return AgentMain.readStatus(lab.store().agentStatus(node)).orElseThrow();
    }

    @Test
    void applyReturnsOnceEveryAgentAppliedItAndFailsNamingADeadAgent(@TempDir Path dir) throws Exception {
        lab.apply(ManifestReader.read(List.of(service(dir, "first"))));
        long written = Files.getLastModifiedTime(lab.store().dir().resolve("state.json")).toMillis();
        for (LabState.AgentState a : lab.state().agents()) {
            AgentStatus s = status(a.node());
            assertEquals(written, s.observedStateMillis(), a.node() + " applied the state apply wrote before apply returned");
            assertTrue(s.failures().isEmpty(), s.failures().toString());
        }

        LabState.AgentState victim = lab.state().agents().get(1);
        ProcessHandle.of(victim.pid()).orElseThrow().destroyForcibly();
        while (Lab.running(victim)) {
            Thread.sleep(10);
        }
        LabException e = assertThrows(LabException.class, () -> lab.apply(ManifestReader.read(List.of(service(dir, "second")))));
        assertTrue(e.getMessage().contains(victim.node() + ": the agent is not running (pid " + victim.pid() + ")"), e.getMessage());
        assertTrue(e.getMessage().contains("the change is recorded, but not every agent applied it"), e.getMessage());
        String other = lab.state().agents().getFirst().node();
        assertTrue(!e.getMessage().contains(other + ":"), "the live agent applied it: " + e.getMessage());

        // Back with an agent, the recorded change reaches it and apply is whole again.
        lab.restartAgent(victim.node());
        lab.apply(ManifestReader.read(List.of(service(dir, "third"))));
        String services = status(victim.node()).lines().stream().filter(l -> l.key().equals("Services")).findFirst().orElseThrow().value();
        assertTrue(services.startsWith("3 frontend(s)"), services);
    }
}
