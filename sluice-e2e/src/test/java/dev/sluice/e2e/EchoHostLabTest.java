package dev.sluice.e2e;

import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.Command;
import dev.sluice.linux.JavaCommand;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Echo pods served by the node's echo host: each pod's listening socket is in the pod's own network namespace and
 * cgroup (as `ss --cgroup` in the pod's namespace reports it), each answers with its own identity from its own
 * address, one process serves them all, a removed pod's socket is closed, and a pod with SLUICE_ECHO_PROCESS=own
 * keeps a JVM of its own in its cgroup.
 */
class EchoHostLabTest {
    @TempDir
    Path dir;

    @Test
    void eachPodListensInItsOwnNamespaceAndCgroupAndAnswersAsItself() throws Exception {
        Privileged.require();
        Lab lab = TestLabs.create("e");
        try {
            Path pods = dir.resolve("pods.yaml");
            Files.writeString(pods, deployment("web", 3, "") + "---\n" + deployment("own", 1, "        env: [{name: SLUICE_ECHO_PROCESS, value: own}]\n"));
            lab.up(1, ManifestReader.read(List.of(pods)), null);
            LabState state = lab.state();
            List<PodState> web = state.pods().stream().filter(p -> "web".equals(p.owner())).toList();
            assertEquals(3, web.size());
            Path v2 = Cgroups.requireV2Root();
            for (PodState p : web) {
                String ss = Command.run("nsenter", "--net=/run/netns/" + p.netns(), "ss", "-Hltn", "--cgroup");
                String podCgroup = "/" + v2.relativize(Path.of(p.cgroup()));
                assertTrue(ss.lines().anyMatch(l -> l.contains(":8080") && l.contains("cgroup:" + podCgroup)),
                        p.key() + ": its listener is in its own namespace and cgroup " + podCgroup + ":\n" + ss);
                // Asked from another pod, at its own address: it answers as itself.
                PodState other = web.stream().filter(o -> o != p).findFirst().orElseThrow();
                Command.Result r = lab.execCapture(other.namespace() + "/" + other.name(),
                        JavaCommand.sluice("call", "--http", "-n", "1", p.ip() + ":8080"));
                assertEquals(0, r.exitCode(), r.stdout() + r.stderr());
                assertTrue(r.stdout().contains(p.name()), r.stdout());
                assertTrue(Cgroups.procs(Path.of(p.cgroup())).size() <= 3, "the pod's cgroup holds its pause container only: "
                        + Cgroups.procs(Path.of(p.cgroup())));
            }
            Path hostCgroup = Path.of(state.cgroupRoot()).resolve("echo").resolve("node-1");
            assertEquals(1, Cgroups.procs(hostCgroup).size(), "one echo host serves the node's echo pods");
            long host = Cgroups.procs(hostCgroup).getFirst();

            PodState own = state.pods().stream().filter(p -> "own".equals(p.owner())).findFirst().orElseThrow();
            String ownCmd = Files.readString(Path.of("/proc/" + own.containers().getFirst().pid() + "/cmdline"));
            assertTrue(Cgroups.procs(Path.of(own.cgroup())).stream().anyMatch(pid -> cmdline(pid).startsWith("/")
                            && cmdline(pid).contains("bin/java") && cmdline(pid).contains("dev.sluice.workload.EchoMain")),
                    "SLUICE_ECHO_PROCESS=own: a JVM of its own in the pod's cgroup (container " + ownCmd + ")");

            // Scaled down: the removed pods' sockets are closed by the host, which keeps running for the others.
            Files.writeString(pods, deployment("web", 1, "") + "---\n" + deployment("own", 1, "        env: [{name: SLUICE_ECHO_PROCESS, value: own}]\n"));
            lab.apply(ManifestReader.read(List.of(pods)));
            long deadline = System.currentTimeMillis() + 5_000;
            while (listenersOf(host) > 1 && System.currentTimeMillis() < deadline) {
                Thread.sleep(50);
            }
            assertEquals(1, listenersOf(host), "the host listens for the one pod left");
            assertEquals(1, lab.state().pods().stream().filter(p -> "web".equals(p.owner())).count());

            // A host that dies is shown by `sluice status`; the next change that makes an echo pod starts it again, and
            // it serves every echo pod of the node, the one it had before included.
            ProcessHandle.of(host).ifPresent(ProcessHandle::destroyForcibly); // the lab's own process, by its PID
            deadline = System.currentTimeMillis() + 5_000;
            while (ProcessHandle.of(host).map(ProcessHandle::isAlive).orElse(false) && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
            CliRun status = CliRun.of(lab, "status");
            assertTrue(status.out().contains("Echo host node-1:") && status.out().contains("not running"), status.out());
            Files.writeString(pods, deployment("web", 2, "") + "---\n" + deployment("own", 1, "        env: [{name: SLUICE_ECHO_PROCESS, value: own}]\n"));
            lab.apply(ManifestReader.read(List.of(pods)));
            assertTrue(CliRun.of(lab, "status").out().lines().anyMatch(l -> l.startsWith("Echo host node-1:") && l.endsWith("Ok")));
            PodState client = lab.state().pods().stream().filter(p -> "own".equals(p.owner())).findFirst().orElseThrow();
            for (PodState p : lab.state().pods().stream().filter(p -> "web".equals(p.owner())).toList()) {
                Command.Result r = lab.execCapture(client.namespace() + "/" + client.name(),
                        JavaCommand.sluice("call", "--http", "-n", "1", p.ip() + ":8080"));
                assertEquals(0, r.exitCode(), p.key() + " answers again: " + r.stdout() + r.stderr());
                assertTrue(r.stdout().contains(p.name()), r.stdout());
            }
        } finally {
            TestLabs.down(lab);
        }
    }

    /**
     * The kubelet with the echo host: a failing liveness probe restarts an echo pod's pause container, and the pod,
     * whose sockets the host holds, answers at its address all along and after; an echo container with limits (or a
     * securityContext) gets a JVM of its own in the pod's cgroup, where the kernel enforces them.
     */
    @Test
    void aLivenessRestartKeepsTheEchoPodServedAndLimitsGetAJvmOfItsOwn() throws Exception {
        Privileged.require();
        Lab lab = TestLabs.create("e");
        try {
            Path pods = dir.resolve("pods.yaml");
            Files.writeString(pods, """
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: lively}
                    spec:
                      containers:
                      - name: echo
                        image: sluice/echo
                        ports: [{containerPort: 8080}]
                        livenessProbe:
                          tcpSocket: {port: 9999}
                          initialDelaySeconds: 3
                          periodSeconds: 1
                          failureThreshold: 1
                    ---
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: limited}
                    spec:
                      containers:
                      - name: echo
                        image: sluice/echo
                        ports: [{containerPort: 8080}]
                        resources: {limits: {memory: 256Mi}}
                    ---
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: client}
                    spec:
                      containers:
                      - name: main
                        image: sluice/toolbox
                        command: ["sleep", "infinity"]
                    """);
            lab.up(1, ManifestReader.read(List.of(pods)), null);
            LabState state = lab.state();
            Path hostCgroup = Path.of(state.cgroupRoot()).resolve("echo").resolve("node-1");
            assertEquals(1, Cgroups.procs(hostCgroup).size(), "one echo host serves the node's echo pods");
            long host = Cgroups.procs(hostCgroup).getFirst();
            PodState lively = lab.pod("lively");
            long firstPid = lively.containers().getFirst().pid();
            assertAnswers(lab, lively);

            // Port 9999 is not served: the kubelet kills the pause container and starts it again.
            long deadline = System.currentTimeMillis() + 30_000;
            while (lab.pod("lively").restarts() < 1 && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
            PodState restarted = lab.pod("lively");
            assertTrue(restarted.restarts() >= 1, "the liveness probe restarted it: " + restarted);
            assertTrue(ProcessHandle.of(firstPid).map(ProcessHandle::isAlive).map(a -> !a).orElse(true), "the old pause process is gone");
            assertAnswers(lab, restarted);
            assertEquals(List.of(host), Cgroups.procs(hostCgroup), "the same echo host serves it");
            String ss = Command.run("nsenter", "--net=/run/netns/" + restarted.netns(), "ss", "-Hltn", "--cgroup");
            String podCgroup = "/" + Cgroups.requireV2Root().relativize(Path.of(restarted.cgroup()));
            assertTrue(ss.lines().anyMatch(l -> l.contains(":8080") && l.contains("cgroup:" + podCgroup)), ss);

            PodState limited = lab.pod("limited");
            assertTrue(Cgroups.procs(Path.of(limited.cgroup())).stream().anyMatch(pid -> cmdline(pid).contains("bin/java")
                            && cmdline(pid).contains("dev.sluice.workload.EchoMain")),
                    "an echo container with limits runs its own JVM in the pod's cgroup: " + Cgroups.procs(Path.of(limited.cgroup())));
            assertAnswers(lab, limited);
        } finally {
            TestLabs.down(lab);
        }
    }

    /** Asked from the client pod at its own address, the pod answers as itself. */
    private static void assertAnswers(Lab lab, PodState p) throws Exception {
        Command.Result r = lab.execCapture("default/client", JavaCommand.sluice("call", "--http", "-n", "1", p.ip() + ":8080"));
        assertEquals(0, r.exitCode(), p.key() + ": " + r.stdout() + r.stderr());
        assertTrue(r.stdout().contains(p.name()), r.stdout());
    }

    /** The TCP listening sockets a process holds: its socket inodes found in LISTEN state of any namespace it entered. */
    private static long listenersOf(long pid) throws Exception {
        // The host's sockets live in the pods' namespaces: count its socket fds that are listeners via ss of each.
        long n = 0;
        for (String line : Command.run("ip", "netns", "list").lines().toList()) {
            String ns = line.split(" ")[0];
            Command.Result r = Command.exec(List.of("nsenter", "--net=/run/netns/" + ns, "ss", "-Hltnp"));
            n += r.stdout().lines().filter(l -> l.contains("pid=" + pid + ",")).count();
        }
        return n;
    }

    private static String cmdline(long pid) {
        try {
            return Files.readString(Path.of("/proc/" + pid + "/cmdline")).replace('\0', ' ');
        } catch (java.io.IOException e) {
            return "";
        }
    }

    private static String deployment(String name, int replicas, String env) {
        return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name + "}\nspec:\n  replicas: " + replicas
                + "\n  selector: {matchLabels: {app: " + name + "}}\n  template:\n    metadata: {labels: {app: " + name + "}}\n    spec:\n"
                + "      containers:\n      - name: echo\n        image: sluice/echo\n        ports: [{containerPort: 8080}]\n" + env;
    }
}
