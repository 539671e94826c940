package dev.sluice.e2e;

import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.lab.LabState.PodState;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A lab pod is isolated as a container runtime isolates one: its own PID namespace (its /proc shows its own
 * processes, its init is PID 1), its own UTS namespace (hostname and HOSTNAME are the pod's name), the
 * container's env, and the runtime's default capabilities only (no CAP_NET_ADMIN: `ip link add` is refused).
 * `lab exec` runs inside those namespaces, and `lab down` still stops exactly what the lab started.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PodIsolationLabTest {
    private static final String POD = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: iso
            spec:
              containers:
              - name: main
                image: sluice/toolbox
                command: ["sh", "-c", "echo \\"svc=$PRODUCT_SERVICE_SERVICE_HOST:$PRODUCT_SERVICE_SERVICE_PORT $PRODUCT_SERVICE_PORT\\"; echo \\"FOO=$FOO HOSTNAME=$HOSTNAME hostname=$(hostname) pid=$$\\"; exec sleep infinity"]
                env:
                - name: FOO
                  value: bar
            """;

    private Lab lab;
    private Path dir;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        dir = Files.createTempDirectory("pod-isolation");
        Path pod = dir.resolve("iso.yaml");
        Files.writeString(pod, POD);
        lab = TestLabs.create("i");
        lab.up(1, ManifestReader.read(List.of(pod, LabTest.SEED)), null);
    }

    @AfterAll
    void cleanUp() throws Exception {
        if (dir != null) {
            Files.deleteIfExists(dir.resolve("iso.yaml"));
            Files.deleteIfExists(dir);
        }
        if (lab != null && Files.exists(lab.store().dir())) {
            TestLabs.down(lab);
        }
    }

    private String exec(String... command) {
        Command.Result r = lab.execCapture("iso", List.of(command));
        assertTrue(r.ok(), r.toString());
        return r.stdout().strip();
    }

    @Test
    @Order(1)
    void theHostnameIsThePodsName() {
        assertEquals("iso", exec("hostname"));
        assertEquals("iso", exec("sh", "-c", "echo $HOSTNAME"));
        // The pod's own name is in its /etc/hosts, as the kubelet writes it: no DNS needed to look oneself up.
        String self = exec("getent", "hosts", "iso");
        assertTrue(self.startsWith(lab.pod("iso").ip() + " "), self);
        // The echo pods too (a JVM), and the machine keeps its own.
        PodState echo = lab.pod("deploy/product-service-v1");
        assertEquals(echo.name(), lab.execCapture("deploy/product-service-v1", List.of("hostname")).stdout().strip());
        assertFalse(Command.exec(List.of("hostname")).stdout().strip().equals("iso"));
    }

    @Test
    @Order(1)
    void theContainerGetsItsEnvAndStartsAsPidOne() throws Exception {
        Path log = lab.logs("iso").getFirst();
        String line = Files.readAllLines(log).stream().filter(l -> l.startsWith("FOO=")).findFirst().orElse(Files.readString(log));
        // The shell is the init's child: a small PID of the pod's namespace (the init's set-up used the first few).
        assertTrue(line.matches("FOO=bar HOSTNAME=iso hostname=iso pid=[2-9]"), line);
        String pid = line.substring(line.indexOf("pid=") + 4);
        // The kubelet's variables for the Services of the pod's namespace that existed when it started.
        String vip = lab.state().clusterIps().get("default/product-service");
        String svc = Files.readAllLines(log).stream().filter(l -> l.startsWith("svc=")).findFirst().orElse(Files.readString(log));
        assertEquals("svc=" + vip + ":50051 tcp://" + vip + ":50051", svc);
        assertEquals("sleep", exec("cat", "/proc/" + pid + "/comm"), "the shell exec'd sleep, still that PID in the pod");
    }

    @Test
    @Order(1)
    void procShowsThePodsProcessesOnly() {
        List<String> pids = exec("sh", "-c", "for p in /proc/[0-9]*; do echo \"${p#/proc/} $(cat $p/comm)\"; done").lines().toList();
        Map<Integer, String> byPid = new TreeMap<>();
        pids.forEach(l -> byPid.put(Integer.parseInt(l.substring(0, l.indexOf(' '))), l.substring(l.indexOf(' ') + 1)));
        // PID 1 is the pod's init (a shell), then the container's command, then this exec's shell.
        assertEquals("sh", byPid.get(1), byPid.toString());
        assertEquals(List.of("sh", "sleep", "sh"), List.copyOf(byPid.values()), "the pod sees only its own processes: " + byPid);
        long machine;
        try (var s = Files.list(Path.of("/proc"))) {
            machine = s.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).count();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        assertTrue(machine > 20, "the machine has " + machine + " processes");
        // What the lab recorded is the pod's PID 1 (on the machine), the process it must stop.
        PodState iso = lab.pod("iso");
        long recorded = iso.containers().getFirst().pid();
        String status = Command.exec(List.of("cat", "/proc/" + recorded + "/status")).stdout();
        String nspid = status.lines().filter(l -> l.startsWith("NSpid:")).findFirst().orElseThrow();
        assertTrue(nspid.matches("NSpid:\\s+" + recorded + "\\s+1"), nspid);
    }

    @Test
    @Order(1)
    void capabilitiesAreTheContainerRuntimesDefaultSet() {
        // Docker's and containerd's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
        // NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
        String caps = exec("sh", "-c", "grep -E '^Cap(Eff|Bnd|Inh)' /proc/self/status");
        assertTrue(caps.contains("CapEff:\t00000000a80425fb"), caps);
        assertTrue(caps.contains("CapBnd:\t00000000a80425fb"), caps);
        assertTrue(caps.contains("CapInh:\t0000000000000000"), caps);
        Command.Result add = lab.execCapture("iso", List.of("ip", "link", "add", "isotest0", "type", "veth", "peer", "name", "isotest1"));
        assertFalse(add.ok(), add.toString());
        assertTrue(add.stderr().contains("Operation not permitted"), add.toString());
        // The same command as the machine's root, in the pod's network namespace: the refusal was the capability's.
        PodState iso = lab.pod("iso");
        String netns = "--net=/run/netns/" + iso.netns();
        Command.Result root = Command.exec(List.of("nsenter", netns, "ip", "link", "add", "isotest0", "type", "veth", "peer", "name", "isotest1"));
        assertTrue(root.ok(), root.toString());
        Command.exec(List.of("nsenter", netns, "ip", "link", "del", "isotest0")).orThrow();
    }

    @Test
    @Order(2)
    void downStopsEveryProcessThePodsRan() throws Exception {
        // Last: this one takes the lab down itself.
        LabState state = lab.state();
        List<long[]> processes = new ArrayList<>();
        for (PodState p : state.pods()) {
            for (Long pid : Cgroups.procs(Path.of(p.cgroup()))) {
                startTicks(pid).ifPresent(t -> processes.add(new long[]{pid, t}));
            }
        }
        assertTrue(processes.size() > state.pods().size(), "unshare and the pods' inits and commands: " + processes.size());
        TestLabs.down(lab);
        for (long[] p : processes) {
            assertFalse(startTicks(p[0]).map(t -> t == p[1]).orElse(false), "process " + p[0] + " is still running");
        }
        assertFalse(Files.exists(Path.of(state.cgroupRoot())), "cgroups removed");
        for (PodState p : state.pods()) {
            assertFalse(Files.exists(Path.of("/run/netns", p.netns())), p.netns());
        }
    }

    private static java.util.Optional<Long> startTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return java.util.Optional.of(Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[19]));
        } catch (java.io.IOException | RuntimeException e) {
            return java.util.Optional.empty();
        }
    }
}
