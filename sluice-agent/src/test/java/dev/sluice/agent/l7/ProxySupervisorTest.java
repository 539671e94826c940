package dev.sluice.agent.l7;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The supervisor with real processes: restarts with a doubling backoff, exit reasons, stop by PID. */
class ProxySupervisorTest {

    private static void await(String what, java.util.function.BooleanSupplier condition, long ms) throws InterruptedException {
        long deadline = System.currentTimeMillis() + ms;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("not within " + ms + " ms: " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void aProcessThatKeepsExitingIsRestartedWithADoublingBackoffAndItsReasonKept(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("logs/proxy-n1.log");
        try (ProxySupervisor s = new ProxySupervisor(List.of("sh", "-c", "echo cannot listen on 0.0.0.0 port 15001; exit 3"), log)) {
            s.ensureStarted();
            long t0 = System.currentTimeMillis();
            await("two restarts", () -> s.state().restarts() >= 2, 10_000);
            long took = System.currentTimeMillis() - t0;
            // 1 s before the first restart, 2 s before the second: the second restart is scheduled only after ~1 s.
            assertTrue(took >= 900, "restarted too soon: " + took + " ms");
            var state = s.state();
            assertTrue(state.lastExit().startsWith("exit status 3 after ") && state.lastExit().endsWith(": cannot listen on 0.0.0.0 port 15001"),
                    state.lastExit());
            assertEquals(Duration.ofSeconds(4), s.backoff(), "1 s, 2 s, then 4 s next");
            assertTrue(Files.readString(log).lines().filter(l -> l.startsWith("cannot listen")).count() >= 2, "output appended to the log");
        }
    }

    @Test
    void theBackoffStopsAtThirtySecondsAndStartsOverAfterAMinuteUp(@TempDir Path dir) throws Exception {
        assertEquals(Duration.ofSeconds(30), ProxySupervisor.doubled(Duration.ofSeconds(16)));
        assertEquals(Duration.ofSeconds(30), ProxySupervisor.doubled(Duration.ofSeconds(30)));
        long[] now = {0};
        // Exits twice, then stays up.
        String script = "n=$(cat " + dir + "/runs 2>/dev/null || echo 0); echo $((n+1)) > " + dir + "/runs; "
                + "[ $n -ge 2 ] && exec sleep 600; exit 1";
        try (ProxySupervisor s = new ProxySupervisor(List.of("sh", "-c", script), dir.resolve("p.log"), () -> now[0])) {
            s.ensureStarted();
            await("up after two exits", () -> s.state().restarts() == 2 && s.state().running(), 10_000);
            assertEquals(Duration.ofSeconds(4), s.backoff(), "waited 1 s, then 2 s");
            // A run of a minute and more counts as healthy: the next wait is the first one again.
            now[0] += 61_000;
            long pid = s.state().pid();
            ProcessHandle.of(pid).orElseThrow().destroyForcibly();
            await("the third exit", () -> s.state().restarts() == 3, 5_000);
            assertEquals(Duration.ofSeconds(2), s.backoff(), "1 s again (then 2 s), not 8 s");
            assertTrue(s.state().lastExit().contains("after 61 s"), s.state().lastExit());
        }
    }

    @Test
    void aSignalIsNamedAndCloseStopsTheProcessByItsPid(@TempDir Path dir) throws Exception {
        ProxySupervisor s = new ProxySupervisor(List.of("sleep", "600"), dir.resolve("p.log"));
        s.ensureStarted();
        long first = s.state().pid();
        assertTrue(s.state().running());
        ProcessHandle.of(first).orElseThrow().destroyForcibly();
        await("a restart", () -> s.state().running() && s.state().pid() != first, 5_000);
        assertEquals(1, s.state().restarts());
        assertTrue(s.state().lastExit().startsWith("killed by signal 9 (SIGKILL) after "), s.state().lastExit());
        long second = s.state().pid();
        s.close();
        assertFalse(ProcessHandle.of(second).map(ProcessHandle::isAlive).orElse(false), "still running after close");
        Thread.sleep(1_500);
        assertFalse(s.state().running(), "nothing restarted after close");
    }
}
