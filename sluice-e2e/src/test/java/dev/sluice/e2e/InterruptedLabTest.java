package dev.sluice.e2e;

import dev.sluice.lab.Lab;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.Command;
import dev.sluice.linux.JavaCommand;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A `lab up` or `lab apply` killed at a random point (the CLI process this test started, SIGKILL, by PID), with
 * the lab's own processes killed too (by the PIDs the lab recorded: its process journal), and then one `lab down`:
 * it must succeed at once and leave no namespace, cgroup, pin, directory or process of the lab. The seed of each
 * run is printed, so a failure can be replayed ({@code -Dsluice.chaos.seed=N}).
 */
class InterruptedLabTest {
    private static final long SEED = Long.getLong("sluice.chaos.seed", System.nanoTime());

    @TempDir
    Path dir;

    @Test
    void oneDownLeavesNothingAfterUpAndApplyAreKilledAtRandomPoints() throws Exception {
        Privileged.require();
        Random random = new Random(SEED);
        System.out.println("[InterruptedLabTest] seed " + SEED);
        Path pods = dir.resolve("pods.yaml");
        Files.writeString(pods, deployment(6));
        Path more = dir.resolve("more.yaml");
        Files.writeString(more, deployment(12));
        for (int round = 0; round < 3; round++) {
            Lab lab = TestLabs.create("k");
            try {
                // Round 0: `lab up` killed somewhere between its start and its end. Round 1: the same, then `lab up`
                // again (of a name whose lab was left broken: it cleans it first), then `lab apply` killed. Round 2:
                // `lab up` to the end, then `lab apply` killed.
                long upAt = round == 2 ? 120_000 : 1_500 + random.nextInt(6_000);
                boolean upFinished = runKilled(lab, upAt, "up", "--nodes", "2", "-f", pods.toString());
                System.out.printf("[InterruptedLabTest] round %d: up killed after %d ms (finished first: %s)%n", round, upAt, upFinished);
                if (round >= 1) {
                    // Killed after `up` had recorded itself done (while the CLI was printing or exiting): the lab is
                    // up, and a second `up` rightly refuses; only a lab left half-made is made again.
                    boolean upRecordedDone = Files.exists(lab.store().dir().resolve("up.done"));
                    if (!upFinished && !upRecordedDone) {
                        assertTrue(runKilled(lab, 120_000, "up", "--nodes", "2", "-f", pods.toString()),
                                "lab up of a name whose lab was left broken cleans it first and succeeds");
                    }
                    long applyAt = 100 + random.nextInt(4_000);
                    boolean applyFinished = runKilled(lab, applyAt, "apply", "-f", more.toString());
                    System.out.printf("[InterruptedLabTest] round %d: apply killed after %d ms (finished first: %s)%n", round, applyAt, applyFinished);
                }
                List<Long> killed = killSomeOfTheLabsProcesses(lab, random);
                System.out.printf("[InterruptedLabTest] round %d: killed %d of the lab's processes%n", round, killed.size());

                List<Long> journal = journal(lab);
                lab.down(); // one `lab down`, which must not fail

                assertNothingLeft(lab, journal);
                assertFalse(lab.down(), "a second lab down finds nothing to remove (and is no error)");
            } finally {
                TestLabs.down(lab);
            }
        }
    }

    private static String deployment(int replicas) {
        return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: echo}\nspec:\n  replicas: " + replicas
                + "\n  selector: {matchLabels: {app: echo}}\n  template:\n    metadata: {labels: {app: echo}}\n    spec:\n"
                + "      containers:\n      - name: echo\n        image: sluice/echo\n        ports: [{containerPort: 8080}]\n";
    }

    /** Runs `sluice lab ARGS --lab LAB` as a process of its own; SIGKILLs it after {@code afterMs}. Whether it ended first. */
    private boolean runKilled(Lab lab, long afterMs, String... args) throws Exception {
        Path log = dir.resolve("cli.log");
        Process cli = cli(lab, args).redirectOutput(log.toFile()).start();
        if (cli.waitFor(afterMs, TimeUnit.MILLISECONDS)) {
            assertEquals(0, cli.exitValue(), "sluice lab " + String.join(" ", args) + " (not killed) failed:\n" + Files.readString(log));
            return true;
        }
        cli.destroyForcibly(); // this test's own process, by its handle
        cli.waitFor();
        return false;
    }

    private static ProcessBuilder cli(Lab lab, String... args) {
        List<String> words = new ArrayList<>(List.of("lab"));
        words.addAll(List.of(args));
        List<String> cmd = new ArrayList<>(JavaCommand.sluice(words.toArray(String[]::new)));
        cmd.addAll(List.of("--lab", lab.name()));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    }

    /** The PIDs the lab recorded in its process journal ("PID START_TICKS" a line). */
    private static List<Long> journal(Lab lab) throws Exception {
        Path file = lab.store().dir().resolve("processes");
        if (!Files.exists(file)) {
            return List.of();
        }
        return Files.readAllLines(file).stream().filter(l -> !l.isBlank()).map(l -> Long.parseLong(l.split(" ")[0])).toList();
    }

    /** SIGKILLs a random half of the live processes the lab recorded (agents' supervisors, pods' launchers). */
    private static List<Long> killSomeOfTheLabsProcesses(Lab lab, Random random) throws Exception {
        List<Long> killed = new ArrayList<>();
        for (long pid : journal(lab)) {
            if (random.nextBoolean()) {
                ProcessHandle.of(pid).filter(ProcessHandle::isAlive).ifPresent(h -> {
                    h.destroyForcibly();
                    killed.add(pid);
                });
            }
        }
        return killed;
    }

    private static void assertNothingLeft(Lab lab, List<Long> journal) {
        assertTrue(Command.exec(List.of("ip", "netns", "list")).stdout().lines().noneMatch(l -> l.startsWith("sl-" + lab.name() + "-")),
                "no namespace of the lab is left");
        assertFalse(Files.exists(Cgroups.requireV2Root().resolve("sluice-lab-" + lab.name())), "no cgroup of the lab is left");
        assertFalse(Files.exists(Lab.pinRoot(lab.name())), "no pin of the lab is left");
        assertFalse(Files.exists(lab.store().dir()), "the lab's directory is gone");
        for (long pid : journal) {
            // A process the lab started is gone, or its PID now belongs to a process that is not the lab's.
            assertFalse(ProcessHandle.of(pid).map(h -> h.isAlive() && h.info().commandLine().orElse("").contains(lab.name())).orElse(false),
                    "process " + pid + " of the lab is stopped");
        }
    }
}
