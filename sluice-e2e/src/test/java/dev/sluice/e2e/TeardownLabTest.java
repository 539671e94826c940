package dev.sluice.e2e;

import dev.sluice.lab.Lab;
import dev.sluice.lab.LabException;
import dev.sluice.lab.LabState;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.Command;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Teardown that meets a failure: the failing step is reported, every other one is still done, and the
 * state is kept so that `lab down` finishes the job; and the test fixture's sweep of dead runs' labs.
 */
class TeardownLabTest {

    @Test
    void aCgroupThatCannotBeRemovedLeavesNothingElseBehindAndASecondDownFinishes() throws Exception {
        Privileged.require();
        Lab lab = TestLabs.create("f");
        Path busy = null;
        try {
            lab.up(1, ManifestReader.read(List.of(LabTest.CLIENT)), null);
            LabState state = lab.state();
            var pod = state.pods().getFirst();
            // A mount point cannot be removed (rmdir says EBUSY, as for a cgroup the kernel still counts a task in).
            busy = Path.of(pod.cgroup());
            Command.run("mount", "-t", "tmpfs", "sluice-test", busy.toString());

            LabException e = assertThrows(LabException.class, lab::down);
            assertTrue(e.getMessage().contains("cannot remove cgroup " + busy) && e.getMessage().contains("EBUSY"), e.getMessage());
            assertTrue(e.getMessage().contains("run 'sluice lab down' again"), e.getMessage());

            // Everything else is gone: processes, namespaces, pins; the state stays for the second try.
            assertFalse(Lab.running(pod), "the pod's processes are stopped");
            state.agents().forEach(a -> assertFalse(Lab.running(a), "agent stopped"));
            assertTrue(Command.exec(List.of("ip", "netns", "list")).stdout().lines().noneMatch(l -> l.startsWith("sl-" + lab.name() + "-")),
                    "no namespace of the lab is left");
            assertFalse(Files.exists(Lab.pinRoot(lab.name())), "pins removed");
            assertTrue(Files.exists(lab.store().dir()), "the state is kept for another `lab down`");

            Command.run("umount", busy.toString());
            busy = null;
            lab.down();
            assertFalse(Files.exists(Path.of(state.cgroupRoot())), "cgroups removed");
            assertFalse(Files.exists(lab.store().dir()), "state removed");
        } finally {
            if (busy != null) {
                Command.exec(List.of("umount", busy.toString()));
            }
            TestLabs.down(lab);
        }
    }

    @Test
    void theSweepRemovesLabsOfDeadRunsAndOnlyThose() throws Exception {
        Privileged.require();
        // A lab left by a run that died: registered to a process that has exited, with a namespace, a
        // cgroup holding a process, and a pin directory, but no state (its `up` was cut short).
        Process owner = new ProcessBuilder("true").start();
        owner.waitFor();
        String dead = "ztx" + Long.toString(System.nanoTime() & 0xfffffL, 36);
        Files.createDirectories(TestLabs.REGISTRY);
        Files.writeString(TestLabs.REGISTRY.resolve(dead), owner.pid() + " 1\n");
        Command.run("ip", "netns", "add", "sl-" + dead + "-node-1");
        Path cgroup = Cgroups.create(Path.of("sluice-lab-" + dead, "node-1"));
        Process inside = new ProcessBuilder("sh", "-c", "echo $$ > " + cgroup.resolve("cgroup.procs") + " && exec sleep 300").start();
        Files.createDirectories(Lab.pinRoot(dead).resolve("node-1"));
        // A lab of a live run (this one): registered to this JVM, it must survive the sweep.
        Lab live = TestLabs.create("y");
        Files.createDirectories(Lab.pinRoot(live.name()));
        try {
            long deadline = System.currentTimeMillis() + 5_000;
            while (!Cgroups.procs(cgroup).contains(inside.pid()) && System.currentTimeMillis() < deadline) {
                Thread.sleep(5);
            }
            TestLabs.sweep();

            assertFalse(Files.exists(TestLabs.REGISTRY.resolve(dead)), "the dead run's registration is gone");
            assertTrue(Command.exec(List.of("ip", "netns", "list")).stdout().lines().noneMatch(l -> l.startsWith("sl-" + dead + "-")));
            assertFalse(Files.exists(cgroup.getParent()), "its cgroups are gone");
            assertTrue(inside.waitFor(5, java.util.concurrent.TimeUnit.SECONDS), "its process is stopped");
            assertFalse(Files.exists(Lab.pinRoot(dead)), "its pins are gone");
            assertTrue(Files.exists(TestLabs.REGISTRY.resolve(live.name())), "a live run's lab is kept");
            assertTrue(Files.exists(Lab.pinRoot(live.name())));
        } finally {
            inside.destroyForcibly();
            Files.deleteIfExists(Lab.pinRoot(live.name()));
            TestLabs.down(live);
        }
        assertFalse(Files.exists(TestLabs.REGISTRY.resolve(live.name())));
    }
}
