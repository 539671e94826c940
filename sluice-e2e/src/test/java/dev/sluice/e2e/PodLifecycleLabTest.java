package dev.sluice.e2e;

import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState.ContainerState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.linux.Command;
import dev.sluice.model.ManifestException;
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
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Lab pods live as Kubernetes pods do: a readiness probe (run by the node's kubelet from the node to the pod) gates
 * the pod's membership of its Services (LB maps, real connections, DNS headless answers) both ways, also under a
 * policy that denies every peer; a failing liveness probe restarts the container; a crashing container backs off
 * (CrashLoopBackOff, 10 s doubling); restartPolicy decides what is restarted; `lab pods`, `lab describe pod` and
 * `sluice status` show it. The probes' web servers serve a directory of the test's own, so the test decides what
 * they answer.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PodLifecycleLabTest {
    private static final String MANIFESTS = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: gate
            spec:
              replicas: 1
              selector:
                matchLabels:
                  app: gate
              template:
                metadata:
                  labels:
                    app: gate
                spec:
                  containers:
                  - name: web
                    image: sluice/toolbox
                    command: ["/usr/bin/python3", "-m", "http.server", "8080", "--bind", "0.0.0.0", "--directory", "DIR/gate"]
                    ports:
                    - name: http
                      containerPort: 8080
                    readinessProbe:
                      httpGet:
                        path: /ready
                        port: http
                      periodSeconds: 1
                      failureThreshold: 1
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: gate
            spec:
              selector:
                app: gate
              ports:
              - port: 80
                targetPort: http
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: gate-hl
            spec:
              clusterIP: None
              selector:
                app: gate
              ports:
              - port: 8080
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: lively
            spec:
              containers:
              - name: web
                image: sluice/toolbox
                command: ["/usr/bin/python3", "-m", "http.server", "8081", "--bind", "0.0.0.0", "--directory", "DIR/lively"]
                livenessProbe:
                  httpGet:
                    path: /alive
                    port: 8081
                  initialDelaySeconds: 1
                  periodSeconds: 1
                  failureThreshold: 2
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: crasher
            spec:
              containers:
              - name: main
                image: sluice/toolbox
                command: ["sh", "-c", "echo crashing; exit 3"]
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: once
            spec:
              restartPolicy: OnFailure
              containers:
              - name: main
                image: sluice/toolbox
                command: ["sh", "-c", "echo done"]
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: client
            spec:
              containers:
              - name: main
                image: sluice/toolbox
                command: ["sleep", "infinity"]
            """;

    private Lab lab;
    private Path dir;
    private Lab.Changes up;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        dir = Files.createTempDirectory("pod-lifecycle");
        Files.createDirectories(dir.resolve("gate"));
        Files.createDirectories(dir.resolve("lively"));
        Files.writeString(dir.resolve("lively/alive"), "ok\n");
        Path file = dir.resolve("pods.yaml");
        Files.writeString(file, MANIFESTS.replace("DIR", dir.toString()));
        lab = TestLabs.create("l");
        up = lab.up(1, ManifestReader.read(List.of(file)), null);
    }

    @AfterAll
    void down() throws Exception {
        if (lab != null && Files.exists(lab.store().dir())) {
            TestLabs.down(lab);
        }
        if (dir != null) {
            try (var walk = Files.walk(dir)) {
                for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    private static void await(String what, long timeoutMs, BooleanSupplier condition) {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("not within " + timeoutMs + " ms: " + what);
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    private String gatePodIp() {
        return lab.pod("deploy/gate").ip();
    }

    /** An HTTP GET from the client pod to the gate Service, by name: the status, or the error. */
    private String fromClient(String url) {
        Command.Result r = lab.execCapture("client", List.of("/usr/bin/python3", "-c",
                "import urllib.request,sys\ntry:\n print(urllib.request.urlopen('" + url + "',timeout=2).status)\nexcept Exception as e:\n print(type(e).__name__, e)"));
        return r.stdout().strip();
    }

    private String cli(String... args) {
        CliRun r = CliRun.of(lab, args);
        return r.out() + r.err();
    }

    /** The gate Service's backends in the node's LB maps, as `sluice service list` prints them. */
    private String gateBackends() {
        String vip = lab.state().clusterIps().get("default/gate");
        return cli("service", "list").lines().filter(l -> l.contains(vip + ":80")).findFirst().orElse("");
    }

    private List<String> headless() {
        Command.Result r = lab.execCapture("client", List.of("dig", "+short", "+time=1", "+tries=2", "gate-hl.default.svc.cluster.local"));
        return r.stdout().lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
    }

    @Test
    @Order(1)
    void aPodWhoseReadinessProbeFailsIsCreatedButNoBackend() {
        PodState gate = lab.pod("deploy/gate");
        assertTrue(up.notReady().containsKey(gate.key()), up.toString());
        assertTrue(up.notReady().get(gate.key()).contains("HTTP probe failed with statuscode: 404"), up.toString());
        assertFalse(lab.pod("deploy/gate").ready());
        assertFalse(gateBackends().contains(gatePodIp()), gateBackends());
        String refused = fromClient("http://gate/ready");
        assertTrue(refused.contains("refused"), refused);
        assertEquals(List.of(), headless());
        String pods = cli("lab", "pods");
        assertTrue(pods.lines().anyMatch(l -> l.contains(gate.name()) && l.contains(" 0/1 ") && l.contains("Running")), pods);
    }

    @Test
    @Order(2)
    void passingMakesItABackendAndFailingTakesItOutAgain() throws Exception {
        Files.writeString(dir.resolve("gate/ready"), "ok\n");
        long start = System.currentTimeMillis();
        await("gate ready", 10_000, () -> lab.pod("deploy/gate").ready());
        long readyAfter = System.currentTimeMillis() - start;
        await("gate a backend in the LB map", 5_000, () -> gateBackends().contains(gatePodIp()));
        assertEquals("200", fromClient("http://gate/ready"));
        await("gate in DNS", 5_000, () -> headless().equals(List.of(gatePodIp())));
        System.out.println("gate ready " + readyAfter + " ms after its probe could pass (period 1 s)");

        Files.delete(dir.resolve("gate/ready"));
        start = System.currentTimeMillis();
        await("gate unready", 10_000, () -> !lab.pod("deploy/gate").ready());
        long unreadyAfter = System.currentTimeMillis() - start;
        await("gate out of the LB map", 5_000, () -> !gateBackends().contains(gatePodIp()));
        String refused = fromClient("http://gate/ready");
        assertTrue(refused.contains("refused"), refused);
        await("gate out of DNS", 5_000, () -> headless().isEmpty());
        System.out.println("gate unready " + unreadyAfter + " ms after its probe began to fail");
        String describe = cli("lab", "describe", "pod", "deploy/gate");
        assertTrue(describe.contains("Readiness:        http-get http://:8080/ready delay=0s timeout=1s period=1s #success=1 #failure=1"), describe);
        assertTrue(describe.contains("Unhealthy") && describe.contains("Readiness probe failed: HTTP probe failed with statuscode: 404"), describe);
        assertTrue(describe.contains("NotReady") && describe.contains("Ready") && describe.contains("Ready              False"), describe);
    }

    @Test
    @Order(3)
    void probesComeFromTheNodeWhichPolicyLetsThrough(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        // Only pods labelled app=nobody may reach the gate: the client is dropped, the kubelet's probes are not.
        Path policy = tmp.resolve("deny.yaml");
        Files.writeString(policy, """
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata:
                  name: gate-from-nobody
                spec:
                  endpointSelector:
                    matchLabels:
                      app: gate
                  ingress:
                  - fromEndpoints:
                    - matchLabels:
                        app: nobody
                """);
        lab.apply(ManifestReader.read(List.of(policy)));
        Files.writeString(dir.resolve("gate/ready"), "ok\n");
        await("gate ready under a deny-all policy", 10_000, () -> lab.pod("deploy/gate").ready());
        await("gate a backend", 5_000, () -> gateBackends().contains(gatePodIp()));
        String dropped = fromClient("http://gate/ready");
        assertNotEquals("200", dropped);
        assertTrue(dropped.contains("timed out"), dropped);
        lab.delete(ManifestReader.read(List.of(policy)));
        assertEquals("200", fromClient("http://gate/ready"));
    }

    @Test
    @Order(4)
    void aFailingLivenessProbeRestartsTheContainer() throws Exception {
        PodState before = lab.pod("lively");
        long pid = before.containers().getFirst().pid();
        Files.delete(dir.resolve("lively/alive"));
        await("lively restarted", 20_000, () -> lab.pod("lively").containers().getFirst().restartCount() >= 1);
        Files.writeString(dir.resolve("lively/alive"), "ok\n");
        ContainerState after = lab.pod("lively").containers().getFirst();
        assertNotEquals(pid, after.pid());
        assertEquals("Error", after.lastExit().reason());
        assertEquals(143, after.lastExit().code(), "the init passed SIGTERM on to the server: " + after.lastExit());
        await("lively ready again", 10_000, () -> lab.pod("lively").ready() && Lab.running(lab.pod("lively")));
        String describe = cli("lab", "describe", "pod", "lively");
        assertTrue(describe.contains("Killing") && describe.contains("failed liveness probe, will be restarted"), describe);
        assertTrue(describe.contains("Liveness probe failed: HTTP probe failed with statuscode: 404"), describe);
        assertTrue(describe.contains("Last State:       Terminated"), describe);
        // Same pod, same address: a restart is the container's, not the pod's.
        assertEquals(before.ip(), lab.pod("lively").ip());
    }

    @Test
    @Order(5)
    void aCrashingContainerBacksOff() {
        assertTrue(up.notReady().get("default/crasher").contains("exited with code 3; the kubelet restarts it"), up.toString());
        await("crasher restarted twice", 40_000, () -> lab.pod("crasher").containers().getFirst().restartCount() >= 2);
        ContainerState c = lab.pod("crasher").containers().getFirst();
        assertEquals(3, c.lastExit().code());
        assertEquals("Error", c.lastExit().reason());
        // At once the first time, then 10 s, then 20 s.
        await("crasher waits in back-off", 10_000, () -> "CrashLoopBackOff".equals(lab.pod("crasher").containers().getFirst().waiting()));
        ContainerState waiting = lab.pod("crasher").containers().getFirst();
        assertTrue(waiting.backOffMs() >= 10_000, waiting.toString());
        String pods = cli("lab", "pods");
        assertTrue(pods.lines().anyMatch(l -> l.contains("crasher") && l.contains("CrashLoopBackOff") && l.contains(" 0/1 ")), pods);
        String describe = cli("lab", "describe", "pod", "crasher");
        assertTrue(describe.contains("BackOff") && describe.contains("Back-off 10s restarting failed container=main pod=crasher"), describe);
        assertTrue(describe.contains("Exit Code:        3"), describe);
        String status = cli("status");
        assertTrue(status.contains("default/crasher 0/1 CrashLoopBackOff"), status);
        assertTrue(status.contains("Kubelet node-1:") && status.contains("Ok (pid "), status);
    }

    @Test
    @Order(5)
    void restartPolicyOnFailureLeavesACompletedContainer() {
        assertTrue(up.notReady().get("default/once").contains("completed"), up.toString());
        await("once recorded as completed", 10_000, () -> lab.pod("once").containers().getFirst().terminated() != null);
        ContainerState c = lab.pod("once").containers().getFirst();
        assertEquals(0, c.terminated().code());
        assertEquals("Completed", c.terminated().reason());
        assertEquals(0, c.restartCount());
        assertNull(c.waiting());
        String pods = cli("lab", "pods");
        assertTrue(pods.lines().anyMatch(l -> l.contains("once") && l.contains("Completed")), pods);
    }

    @Test
    @Order(6)
    void aBadProbeIsRefusedNamingFileAndFieldAndNothingChanges(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path bad = tmp.resolve("bad.yaml");
        Files.writeString(bad, MANIFESTS.replace("DIR", dir.toString()).replace("port: http\n", "port: metrics\n"));
        var before = lab.state().pods();
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.read(List.of(bad)));
        assertTrue(e.getMessage().contains(bad.toString()) && e.getMessage().contains("readinessProbe.httpGet.port")
                && e.getMessage().contains("\"metrics\""), e.getMessage());
        String applied = cli("lab", "apply", "-f", bad.toString());
        assertTrue(applied.contains("readinessProbe.httpGet.port"), applied);
        Files.writeString(bad, MANIFESTS.replace("DIR", dir.toString()).replaceFirst("periodSeconds: 1", "periodSeconds: -1"));
        applied = cli("lab", "apply", "-f", bad.toString());
        assertTrue(applied.contains("readinessProbe.periodSeconds") && applied.contains("got -1"), applied);
        assertEquals(before.stream().map(PodState::name).toList(), lab.state().pods().stream().map(PodState::name).toList());
    }

    @Test
    @Order(7)
    void grpcTcpAndExecProbesAndApplysProgress(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("probed.yaml");
        Files.writeString(file, """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: probed
                  labels:
                    app: probed
                spec:
                  containers:
                  - name: echo
                    image: your-repo/echo:v1
                    ports:
                    - name: grpc
                      containerPort: 50051
                    readinessProbe:
                      grpc:
                        port: 50051
                      periodSeconds: 1
                      timeoutSeconds: 3
                      failureThreshold: 30
                    livenessProbe:
                      tcpSocket:
                        port: grpc
                      initialDelaySeconds: 15
                      periodSeconds: 1
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: grpcbad
                spec:
                  containers:
                  - name: echo
                    image: your-repo/echo:v1
                    ports:
                    - containerPort: 50052
                    readinessProbe:
                      grpc:
                        port: 50052
                        service: nope
                      periodSeconds: 1
                      failureThreshold: 1
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: execready
                spec:
                  containers:
                  - name: main
                    image: sluice/toolbox
                    command: ["sleep", "infinity"]
                    readinessProbe:
                      exec:
                        command: ["test", "-e", "DIR/exec-ready"]
                      periodSeconds: 1
                      failureThreshold: 1
                """.replace("DIR", dir.toString()));
        List<String> steps = new java.util.concurrent.CopyOnWriteArrayList<>();
        Lab.Changes changes = lab.onProgress(steps::add).apply(ManifestReader.read(List.of(file)));
        lab.onProgress(null);
        assertEquals(3, changes.created().size(), changes.toString());
        assertFalse(changes.notReady().containsKey("default/probed"), changes.toString());
        assertTrue(lab.pod("probed").ready());
        assertTrue(changes.notReady().get("default/grpcbad").contains("Readiness probe failed"), changes.toString());
        // The first probes may find the JVM still starting; then the server says what it thinks of the service.
        await("grpcbad's server answers NOT_FOUND", 20_000, () -> lab.lastProbeFailures(lab.pod("grpcbad")).getOrDefault("echo", "")
                .contains("rpc error: code = NOT_FOUND desc = unknown service nope"));
        assertTrue(changes.notReady().get("default/execready").contains("command [test, -e, " + dir + "/exec-ready] exited with 1"),
                changes.toString());
        assertTrue(steps.contains("starting pod default/probed on node-1"), steps.toString());
        assertTrue(steps.contains("waiting for pod default/execready to be ready (its readiness probe)"), steps.toString());
        assertTrue(steps.contains("waiting for every agent to apply the change"), steps.toString());

        Files.writeString(dir.resolve("exec-ready"), "");
        await("execready ready", 10_000, () -> lab.pod("execready").ready());
        assertFalse(lab.pod("grpcbad").ready());
        // The tcpSocket liveness probe passes all along: no restart.
        Thread.sleep(2_000);
        assertEquals(0, lab.pod("probed").restarts());
        String describe = cli("lab", "describe", "pod", "probed");
        assertTrue(describe.contains("Liveness:         tcp-socket :50051 delay=15s timeout=1s period=1s #success=1 #failure=3"), describe);
        assertTrue(describe.contains("Readiness:        grpc <pod>:50051 delay=0s"), describe);
    }
}
