package dev.sluice.lab;

import dev.sluice.linux.JavaCommand;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The supervisor with real child processes: restarts, how they exited, and stopping. */
class AgentSupervisorTest {
    @TempDir
    Path dir;
    private Process supervisor;

    @AfterEach
    void stop() throws InterruptedException {
        if (supervisor != null && supervisor.isAlive()) {
            supervisor.destroy();
            supervisor.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private Path start(String agentScript) throws Exception {
        Path state = Files.writeString(dir.resolve("state.json"), "{}");
        Path record = dir.resolve("agents").resolve("node-1.supervisor.json");
        List<String> args = new ArrayList<>(List.of(record.toString(), state.toString(), "sh", "-c", agentScript));
        supervisor = new ProcessBuilder(JavaCommand.of(AgentSupervisor.class.getName(), List.of("-Xmx16m"), args))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(new File(dir.resolve("agent.log").toString())))
                .start();
        return record;
    }

    private static AgentSupervisor.Record await(Path record, Predicate<AgentSupervisor.Record> until) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 20_000;
        while (System.currentTimeMillis() < deadline) {
            Optional<AgentSupervisor.Record> r = AgentSupervisor.read(record);
            if (r.isPresent() && until.test(r.get())) {
                return r.get();
            }
            Thread.sleep(20);
        }
        throw new AssertionError("the supervisor never recorded what was expected: " + AgentSupervisor.read(record));
    }

    @Test
    void anAgentThatExitsIsStartedAgainAndItsExitIsRecordedWithItsLastLine() throws Exception {
        Path record = start("echo 'agent: the policy map is full'; exit 3");
        AgentSupervisor.Record r = await(record, x -> x.restarts() >= 2);
        assertEquals(3, r.lastExit().code());
        assertEquals(null, r.lastExit().signal());
        assertEquals("agent: the policy map is full", r.lastExit().lastLine());
        assertTrue(r.lastExit().describe().matches("exit status 3 after [0-9]+ ms: agent: the policy map is full"), r.lastExit().describe());
    }

    @Test
    void aKilledAgentIsReplacedAndStoppingTheSupervisorStopsTheAgent() throws Exception {
        Path record = start("exec sleep 60");
        long first = await(record, x -> x.agentPid() > 0).agentPid();
        ProcessHandle.of(first).orElseThrow().destroyForcibly();
        AgentSupervisor.Record r = await(record, x -> x.agentPid() > 0 && x.agentPid() != first);
        assertEquals(1, r.restarts());
        assertEquals("SIGKILL", r.lastExit().signal());
        assertEquals(first, r.lastExit().pid());

        ProcessHandle agent = ProcessHandle.of(r.agentPid()).orElseThrow();
        supervisor.destroy(); // SIGTERM, as lab down sends it
        assertTrue(supervisor.waitFor(10, TimeUnit.SECONDS));
        assertTrue(agent.onExit().get(5, TimeUnit.SECONDS) != null);
        assertFalse(agent.isAlive(), "the agent goes with its supervisor");
    }

    @Test
    void theSupervisorEndsWhenTheLabIsGone() throws Exception {
        Path record = start("exec sleep 60");
        long pid = await(record, x -> x.agentPid() > 0).agentPid();
        Files.delete(dir.resolve("state.json"));
        ProcessHandle.of(pid).orElseThrow().destroyForcibly();
        assertTrue(supervisor.waitFor(10, TimeUnit.SECONDS), "no lab, no restart");
        assertEquals(0, AgentSupervisor.read(record).orElseThrow().restarts());
    }
}
