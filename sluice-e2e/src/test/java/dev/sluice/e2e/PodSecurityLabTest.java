package dev.sluice.e2e;

import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState.ContainerState;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.Command;
import dev.sluice.model.ManifestReader;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A container's securityContext and resources.limits, as the kernel sees them: its user and group, its capability
 * sets (dropped ones really gone, added ones really usable), no_new_privs, a read-only root; a memory limit the
 * kernel enforces (the container is OOM-killed, and the lab says so), a CPU limit that throttles a busy loop; and
 * `lab down` removes the limit cgroups with the rest.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PodSecurityLabTest {
    private static final String PODS = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: secure
            spec:
              securityContext:
                runAsUser: 1000
              containers:
              - name: main
                image: sluice/toolbox
                command: ["sh", "-c", "echo \\"uid=$(id -u) gid=$(id -g) groups=$(id -G)\\"; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; touch /var/tmp/sluice-ro-test-$$; exec sleep infinity"]
                securityContext:
                  runAsGroup: 3000
                  runAsNonRoot: true
                  allowPrivilegeEscalation: false
                  readOnlyRootFilesystem: true
                  capabilities:
                    drop: ["ALL"]
                    add: ["NET_BIND_SERVICE"]
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: netadmin
            spec:
              containers:
              - name: main
                image: sluice/toolbox
                command: ["sleep", "infinity"]
                securityContext:
                  capabilities:
                    add: ["NET_ADMIN"]
                    drop: ["CHOWN"]
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: hog
            spec:
              restartPolicy: Never
              containers:
              - name: main
                image: sluice/toolbox
                command: ["/usr/bin/python3", "-c", "import time\\ntime.sleep(1)\\nb = bytearray(256 << 20)\\nprint('allocated', len(b))\\ntime.sleep(60)"]
                resources:
                  limits:
                    memory: 64Mi
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: busy
            spec:
              containers:
              - name: main
                image: sluice/toolbox
                command: ["sh", "-c", "while :; do :; done"]
                resources:
                  limits:
                    cpu: 100m
                    memory: 32Mi
            """;

    private Lab lab;
    private Path dir;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        dir = Files.createTempDirectory("pod-security");
        Path pods = dir.resolve("pods.yaml");
        Files.writeString(pods, PODS);
        lab = TestLabs.create("s");
        lab.up(1, ManifestReader.read(List.of(pods)), null);
    }

    @AfterAll
    void cleanUp() throws Exception {
        if (lab != null && Files.exists(lab.store().dir())) {
            TestLabs.down(lab);
        }
        if (dir != null) {
            Files.deleteIfExists(dir.resolve("pods.yaml"));
            Files.deleteIfExists(dir);
        }
    }

    private static void await(String what, long timeoutMs, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("not within " + timeoutMs + " ms: " + what);
            }
            Thread.sleep(100);
        }
    }

    @Test
    @Order(1)
    void theContainerRunsAsItsUserWithItsCapabilitiesOnly() throws Exception {
        Path log = lab.logs("secure").getFirst();
        await("the secure pod's report", 5_000, () -> {
            try {
                return Files.readString(log).contains("NoNewPrivs");
            } catch (java.io.IOException e) {
                return false;
            }
        });
        String out = Files.readString(log);
        assertTrue(out.contains("uid=1000 gid=3000 groups=3000"), out);
        // A non-root user keeps no effective capabilities; the bounding set is NET_BIND_SERVICE (bit 10) alone.
        assertTrue(out.contains("CapEff:\t0000000000000000"), out);
        assertTrue(out.contains("CapBnd:\t0000000000000400"), out);
        assertTrue(out.contains("NoNewPrivs:\t1"), out);
        assertTrue(out.contains("Read-only file system"), "the root is read-only (/var/tmp is writable for anyone otherwise): " + out);
        // lab exec runs as the same user, with the same limits.
        Command.Result id = lab.execCapture("secure", List.of("id", "-u"));
        assertEquals("1000", id.stdout().strip(), id.toString());
        Command.Result caps = lab.execCapture("secure", List.of("grep", "CapBnd", "/proc/self/status"));
        assertTrue(caps.stdout().contains("0000000000000400"), caps.toString());
    }

    @Test
    @Order(1)
    void anAddedCapabilityIsUsableAndADroppedOneIsGone() {
        // NET_ADMIN added: the container configures its own network namespace (the interface goes with the pod).
        Command.Result add = lab.execCapture("netadmin", List.of("ip", "link", "add", "sec0", "type", "veth", "peer", "name", "sec1"));
        assertTrue(add.ok(), add.toString());
        Command.Result caps = lab.execCapture("netadmin", List.of("grep", "CapEff", "/proc/self/status"));
        long eff = Long.parseLong(caps.stdout().strip().substring("CapEff:".length()).strip(), 16);
        assertTrue((eff & (1L << 12)) != 0, "NET_ADMIN (12) effective: " + caps);
        assertEquals(0, eff & 1L, "CHOWN (0) dropped: " + caps);
        Command.Result chown = lab.execCapture("netadmin", List.of("sh", "-c", "f=$(mktemp) && chown 1000 $f; r=$?; rm -f $f; exit $r"));
        assertFalse(chown.ok(), chown.toString());
        assertTrue(chown.stderr().contains("Operation not permitted"), chown.toString());
    }

    @Test
    @Order(1)
    void aContainerOverItsMemoryLimitIsOomKilled() throws Exception {
        await("hog terminated", 30_000, () -> lab.pod("hog").containers().getFirst().terminated() != null);
        ContainerState c = lab.pod("hog").containers().getFirst();
        assertEquals(137, c.terminated().code(), c.toString());
        assertEquals("OOMKilled", c.terminated().reason(), c.toString());
        assertEquals(0, c.restartCount(), "restartPolicy Never");
        assertFalse(Files.readString(Path.of(c.log())).contains("allocated"), "the 256 MiB never fitted in 64 MiB");
        CliRun pods = CliRun.of(lab, "lab", "pods");
        assertTrue(pods.out().lines().anyMatch(l -> l.contains("hog") && l.contains("OOMKilled")), pods.out());
    }

    @Test
    @Order(1)
    void aCpuLimitThrottlesABusyLoop() throws Exception {
        Path podCgroup = Path.of(lab.pod("busy").cgroup());
        List<Long> pids = Cgroups.procs(podCgroup);
        java.util.Map<Long, Long> before = cpuTicks(pids);
        long start = System.nanoTime();
        Thread.sleep(3_000);
        java.util.Map<Long, Long> after = cpuTicks(pids);
        // Only processes there at both ends (a short-lived one, such as the pod's init forking, may come and go).
        double cpuSeconds = after.entrySet().stream().filter(e -> before.containsKey(e.getKey()))
                .mapToLong(e -> e.getValue() - before.get(e.getKey())).sum() / 100.0;
        double wall = (System.nanoTime() - start) / 1e9;
        // 100m: at most a tenth of a CPU (with one period's slack); unlimited, the loop would take a whole one.
        assertTrue(cpuSeconds <= 0.1 * wall + 0.15, "the busy loop used " + cpuSeconds + " s of CPU in " + wall + " s");
        assertTrue(cpuSeconds > 0.05, "it did run: " + cpuSeconds);
        String describe = CliRun.of(lab, "lab", "describe", "pod", "busy").out();
        assertTrue(describe.contains("cpu:") && describe.contains("100m") && describe.contains("enforced by:"), describe);
        System.out.println("busy loop under cpu: 100m used " + cpuSeconds + " s of CPU in " + wall + " s");
    }

    /** utime + stime of each of the processes still there, in clock ticks (100 a second). */
    private static java.util.Map<Long, Long> cpuTicks(List<Long> pids) throws Exception {
        java.util.Map<Long, Long> ticks = new java.util.HashMap<>();
        for (long pid : pids) {
            String stat;
            try {
                stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            } catch (java.nio.file.NoSuchFileException gone) {
                continue;
            }
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            ticks.put(pid, Long.parseLong(f[11]) + Long.parseLong(f[12]));
        }
        return ticks;
    }

    @Test
    @Order(2)
    void labDownRemovesTheLimitCgroups() {
        String name = lab.name();
        List<Path> v1 = List.of(Path.of("/sys/fs/cgroup/memory/sluice-lab-" + name), Path.of("/sys/fs/cgroup/cpu/sluice-lab-" + name));
        String mechanism = Lab.limitsMechanism();
        if (mechanism.startsWith("cgroup v1")) {
            assertTrue(v1.stream().allMatch(Files::isDirectory), v1.toString());
        }
        TestLabs.down(lab);
        for (Path p : v1) {
            assertFalse(Files.exists(p), p + " is left behind");
        }
    }
}
