package dev.sluice.linux;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Removing cgroups that still hold running, exiting and forking tasks, on the real cgroup v2 hierarchy. */
class CgroupsTest {
    private static final String RUN = Long.toString(ProcessHandle.current().pid(), 36);
    private static int seq;

    @BeforeEach
    void privileged() {
        String missing = !isRoot() ? "not running as root" : Cgroups.v2Root().isEmpty() ? "cgroup v2 is not mounted" : null;
        if (missing == null) {
            return;
        }
        if ("true".equals(System.getenv("CI"))) {
            Assertions.fail("CI=true but this privileged test cannot run: " + missing);
        }
        Assumptions.abort("skipped: " + missing + " (run the tests as root to run it)");
    }

    /** A started shell that moves itself into {@code cgroup} and then runs {@code script}. */
    private static Process startIn(Path cgroup, String script) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", "echo $$ > " + cgroup.resolve("cgroup.procs") + " && " + script)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long deadline = System.currentTimeMillis() + 5_000;
        while (!Cgroups.procs(cgroup).contains(p.pid())) {
            assertTrue(p.isAlive() && System.currentTimeMillis() < deadline, "the shell did not join " + cgroup);
            Thread.sleep(5);
        }
        return p;
    }

    private static Path newCgroup() {
        return Cgroups.create(Path.of("sluice-cgt-" + RUN + "-" + (++seq)));
    }

    @RepeatedTest(5)
    void removesATreeWhoseTasksAreStillRunning() throws Exception {
        Path root = newCgroup();
        Path child = Cgroups.create(Cgroups.requireV2Root().relativize(root.resolve("pod")));
        Path grandchild = Cgroups.create(Cgroups.requireV2Root().relativize(child.resolve("inner")));
        List<Process> started = new ArrayList<>();
        try {
            // Many tasks that take a moment to die, in every level: the exit path the old rmdir raced.
            started.add(startIn(child, "for i in 1 2 3 4 5 6 7 8; do sleep 300 & done; wait"));
            started.add(startIn(grandchild, "trap '' TERM; for i in 1 2 3 4; do sleep 300 & done; wait"));
            assertTrue(Cgroups.populated(root));

            Cgroups.remove(root);

            assertFalse(Files.exists(root), "the cgroup tree is gone");
            for (Process p : started) {
                assertTrue(p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS), "the cgroup's tasks were killed");
            }
        } finally {
            started.forEach(Process::destroyForcibly);
        }
    }

    @Test
    void killsTasksForkedWhileItRemoves() throws Exception {
        Path root = newCgroup();
        Process forker = startIn(root, "while true; do sleep 300 & sleep 0.001; done");
        try {
            Thread.sleep(50);
            Cgroups.remove(root);
            assertFalse(Files.exists(root));
        } finally {
            forker.destroyForcibly();
        }
    }

    @Test
    void aMissingCgroupIsAlreadyRemoved() {
        Cgroups.remove(Cgroups.requireV2Root().resolve("sluice-cgt-" + RUN + "-never-made"));
    }

    @Test
    void whatHoldsACgroupIsNamedWithStateAndParent() throws Exception {
        Path root = newCgroup();
        Path child = Cgroups.create(Cgroups.requireV2Root().relativize(root.resolve("busy")));
        Process p = startIn(child, "exec sleep 300");
        try {
            String holders = Cgroups.holders(root);
            assertTrue(holders.startsWith("kernel reports it populated; tasks: " + p.pid() + " (sleep, state S, parent "
                    + ProcessHandle.current().pid() + " ("), holders);
            assertTrue(holders.endsWith(" in busy"), holders);
        } finally {
            Cgroups.remove(root);
        }
        assertTrue(p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS));
        assertFalse(Files.exists(root));
    }

    private static boolean isRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:")).anyMatch(l -> l.split("\\s+")[2].equals("0"));
        } catch (Exception e) {
            return false;
        }
    }
}
