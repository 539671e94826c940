package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.agent.api.AgentStatus;
import dev.sluice.agent.api.StatusFile;
import dev.sluice.lab.Lab;
import dev.sluice.linux.JavaCommand;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The node's L7 proxy as its own process, supervised by the agent: the seed's canary served by it, the proxy
 * killed by its PID during a stream of calls (the agent restarts it, calls resume, a pod denied by policy is never
 * served meanwhile), and nothing of it left once the lab is down.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ProxyProcessLabTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path VALUES = LabTest.ROOT.resolve("examples/seed/cilium-values.yaml");
    private static final Path CANARY = LabTest.ROOT.resolve("examples/seed/canary-routing.yaml");
    private static final Path DEMO = LabTest.ROOT.resolve("examples/demo");
    private static final Pattern PID = Pattern.compile("Ok \\(own process, PID (\\d+),");
    private Lab lab;
    private String node;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        lab = TestLabs.create("pp");
        lab.up(2, ManifestReader.read(List.of(LabTest.SEED, LabTest.CLIENT, DEMO.resolve("rogue.yaml"), DEMO.resolve("policy.yaml"))), VALUES);
        lab.apply(ManifestReader.read(List.of(CANARY)));
        node = lab.pod("deploy/client").node();
    }

    @AfterAll
    void down() {
        if (lab != null) {
            TestLabs.down(lab);
        }
    }

    private AgentStatus status() {
        return status(node);
    }

    private AgentStatus status(String n) {
        return StatusFile.read(lab.layout(n).statusFile()).orElseThrow();
    }

    private String proxyLine() {
        return proxyLine(node);
    }

    private String proxyLine(String n) {
        return status(n).lines().stream().filter(l -> l.key().equals("Proxy")).map(AgentStatus.Line::value).findFirst().orElse("(none)");
    }

    /** Waits until status shows the proxy attached and up; returns its PID. */
    private long proxyPid(long notThis) throws InterruptedException {
        return proxyPid(node, notThis);
    }

    private long proxyPid(String n, long notThis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 30_000;
        String line = "";
        while (System.currentTimeMillis() < deadline) {
            line = proxyLine(n);
            Matcher m = PID.matcher(line);
            if (m.find() && Long.parseLong(m.group(1)) != notThis) {
                return Long.parseLong(m.group(1));
            }
            Thread.sleep(200);
        }
        // Its agent's log says why (an agent that did not come back, a proxy that did not start).
        java.nio.file.Path log = lab.layout(n).proxyLog().resolveSibling("agent-" + n + ".log");
        String tail = "";
        try {
            List<String> lines = java.nio.file.Files.readAllLines(log);
            tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (java.io.IOException e) {
            tail = "(no " + log + ": " + e.getMessage() + ")";
        }
        throw new AssertionError("the proxy is not up in status within 30 s: " + line + "\n" + log + ", its end:\n" + tail);
    }

    private static String cmdline(long pid) throws Exception {
        return Files.readString(Path.of("/proc/" + pid + "/cmdline")).replace('\0', ' ');
    }

    private static long rssKib(long pid) throws Exception {
        return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith("VmRSS:"))
                .map(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElseThrow();
    }

    private List<JsonNode> run(String pod, String... args) throws Exception {
        Process p = lab.execAsync(pod, JavaCommand.sluice(args));
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        if (out.lines().noneMatch(l -> l.startsWith("{"))) {
            System.out.println("[ProxyProcessLabTest] " + pod + ": no calls in: " + out);
        }
        List<JsonNode> calls = new ArrayList<>();
        for (String line : out.lines().filter(l -> l.startsWith("{")).toList()) {
            calls.add(JSON.readTree(line));
        }
        return calls;
    }

    @Test
    @Order(1)
    void theCanaryIsServedByAProxyProcessOfItsOwn() throws Exception {
        long pid = proxyPid(0);
        long agent = status().pid();
        assertNotEquals(agent, pid, "the proxy runs in a process of its own");
        assertTrue(cmdline(pid).contains("dev.sluice.proxy.ProxyMain"), cmdline(pid));
        // It is the agent's child, in the node's network namespace.
        assertEquals(agent, ProcessHandle.of(pid).orElseThrow().parent().orElseThrow().pid());
        assertEquals(Files.readSymbolicLink(Path.of("/proc/" + agent + "/ns/net")), Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/net")));
        long idleRss = rssKib(pid);
        List<JsonNode> calls = run("deploy/client", "call", "--same-connection", "-n", "2000", "-o", "json", "product-service:50051");
        long ok = calls.stream().filter(c -> c.path("ok").asBoolean()).count();
        long v2 = calls.stream().filter(c -> "v2".equals(c.path("identity").path("labels").path("version").asText())).count();
        System.out.println("[ProxyProcessLabTest] proxy PID " + pid + " (agent " + agent + "), RSS idle " + idleRss / 1024 + " MiB, after 2,000 calls "
                + rssKib(pid) / 1024 + " MiB; v2 " + v2 + " of " + ok + "; " + proxyLine());
        assertEquals(2000, ok, calls.stream().filter(c -> !c.path("ok").asBoolean()).limit(3).toList().toString());
        assertTrue(Math.abs(v2 - 200) <= 60, "v2 got " + v2 + " of 2,000");
        assertTrue(proxyLine().contains("restarts 0"), proxyLine());
    }

    /** A caller running in a pod, its JSON lines collected as they come. */
    private final class Caller {
        final Process process;
        final List<String> lines = Collections.synchronizedList(new ArrayList<>());
        final Thread reader;

        Caller(String pod, String... args) {
            process = lab.execAsync(pod, JavaCommand.sluice(args));
            reader = Thread.ofPlatform().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream()))) {
                    r.lines().filter(l -> l.startsWith("{")).forEach(lines::add);
                } catch (java.io.IOException ignored) {
                    // the caller ended
                }
            });
        }

        void awaitLines(int n) throws InterruptedException {
            long deadline = System.currentTimeMillis() + 60_000;
            while (lines.size() < n && System.currentTimeMillis() < deadline) {
                Thread.sleep(50);
            }
            assertTrue(lines.size() >= n, "the caller is not calling: " + lines);
        }

        List<JsonNode> results() throws Exception {
            assertTrue(process.waitFor(180, TimeUnit.SECONDS));
            reader.join();
            List<JsonNode> calls = new ArrayList<>();
            for (String l : lines) {
                calls.add(JSON.readTree(l));
            }
            return calls;
        }
    }

    @Test
    @Order(2)
    void killedTheProxyIsRestartedCallsResumeAndTheRogueIsNeverServed() throws Exception {
        String rogueNode = lab.pod("deploy/some-rogue-pod").node();
        List<String> nodes = rogueNode.equals(node) ? List.of(node) : List.of(node, rogueNode);
        java.util.Map<String, Long> before = new java.util.LinkedHashMap<>();
        for (String n : nodes) {
            before.put(n, proxyPid(n, 0));
        }
        // A cold client's first connect can take 2 s on the loaded machine: a generous per-call limit, which does
        // not slow the failures while the proxy is down (no listener: refused at once).
        // 6,000 calls on one connection, 5 ms apart, and the rogue pod (denied by policy) calling every 100 ms for 30 s:
        // both span the kill, the restart and what follows.
        Caller client = new Caller("deploy/client", "call", "--same-connection", "-n", "6000", "--interval", "5ms",
                "--timeout", "10s", "-o", "json", "product-service:50051");
        Caller rogue = new Caller("deploy/some-rogue-pod", "call", "--same-connection", "-n", "300", "--interval", "100ms",
                "--timeout", "2s", "-o", "json", "product-service:50051");
        client.awaitLines(300);
        rogue.awaitLines(5);
        int atKill = client.lines.size();
        int rogueAtKill = rogue.lines.size();
        // SIGKILL by PID, as an OOM kill or a crash would end it: the proxy of the client's node, and the rogue's.
        for (long pid : before.values()) {
            assertTrue(ProcessHandle.of(pid).orElseThrow().destroyForcibly());
        }
        long killedAt = System.currentTimeMillis();
        java.util.Map<String, Long> after = new java.util.LinkedHashMap<>();
        for (String n : nodes) {
            after.put(n, proxyPid(n, before.get(n)));
        }
        long restartMs = System.currentTimeMillis() - killedAt;
        List<JsonNode> calls = client.results();
        List<JsonNode> rogueCalls = rogue.results();

        assertEquals(6000, calls.size());
        int firstFailure = -1;
        int lastFailure = -1;
        int failures = 0;
        for (int i = 0; i < calls.size(); i++) {
            if (!calls.get(i).path("ok").asBoolean()) {
                failures++;
                firstFailure = firstFailure < 0 ? i : firstFailure;
                lastFailure = i;
                // The call in flight when the proxy died is lost ("channel closed"); the others find no proxy.
                String error = calls.get(i).path("error").asText();
                assertTrue(error.contains("UNAVAILABLE") || i == firstFailure && error.contains("channel closed"), calls.get(i).toString());
            }
        }
        long rogueRefused = rogueCalls.stream().filter(c -> c.path("error").asText().contains("UNAVAILABLE")).count();
        long rogueDenied = rogueCalls.stream().filter(c -> c.path("error").asText().contains("PERMISSION_DENIED")).count();
        System.out.println("[ProxyProcessLabTest] killed proxies " + before + " (client on " + node + ", rogue on " + rogueNode
                + ") after call " + atKill + "; new " + after + " up in status " + restartMs + " ms after the kill; " + failures
                + " of 6,000 calls failed (calls " + (firstFailure + 1) + ".." + (lastFailure + 1) + "), every later one succeeded; rogue: "
                + rogueCalls.size() + " calls, " + rogueAtKill + " before the kill, " + rogueRefused + " refused while down, "
                + rogueDenied + " denied by policy, " + rogueCalls.stream().filter(c -> c.path("ok").asBoolean()).count() + " served; "
                + proxyLine(node));
        System.out.println("[ProxyProcessLabTest] " + lab.layout(node).proxyLog() + ", its end:\n"
                + String.join("\n", Files.readAllLines(lab.layout(node).proxyLog()).reversed().stream().limit(8).toList().reversed()));
        assertTrue(failures > 0 && firstFailure >= atKill - 50, "the kill was felt, and only after it: first failure at " + firstFailure);
        assertTrue(calls.size() - 1 - lastFailure >= 500, "calls resumed: the last failure was call " + (lastFailure + 1) + " of 6,000");
        for (String n : nodes) {
            assertNotEquals(before.get(n), after.get(n));
            assertFalse(ProcessHandle.of(before.get(n)).map(ProcessHandle::isAlive).orElse(false));
            assertTrue(proxyLine(n).contains("restarts 1, last exit: killed by signal 9 (SIGKILL)"), proxyLine(n));
        }
        assertEquals(300, rogueCalls.size());
        assertTrue(rogueCalls.stream().noneMatch(c -> c.path("ok").asBoolean()), "the rogue was served: " + rogueCalls);
        // Not served, each for a reason: refused, denied, or (a cold client's first connect) out of time.
        long rogueTimedOut = rogueCalls.stream().filter(c -> c.path("error").asText().contains("DEADLINE_EXCEEDED")).count();
        assertEquals(300, rogueRefused + rogueDenied + rogueTimedOut, "every rogue call refused, denied or timed out: " + rogueCalls);
        assertTrue(rogueRefused > 0, "some rogue calls fell while its node's proxy was down");
        assertTrue(rogueDenied > rogueAtKill && rogueCalls.stream().filter(c -> c.path("error").asText().contains("PERMISSION_DENIED"))
                .allMatch(c -> c.path("error").asText().contains("product-service-from-client")), "denied by policy before and after: " + rogueCalls);
    }

    @Test
    @Order(3)
    void theProxyExitsWithItsAgentAndLabDownLeavesNoProxy() throws Exception {
        long proxy = proxyPid(0);
        long agent = status().pid();
        // The agent killed outright (no shutdown hook runs): the proxy ends by itself when its session ends.
        assertTrue(ProcessHandle.of(agent).orElseThrow().destroyForcibly());
        long deadline = System.currentTimeMillis() + 15_000;
        while (ProcessHandle.of(proxy).map(ProcessHandle::isAlive).orElse(false) && System.currentTimeMillis() < deadline) {
            Thread.sleep(100);
        }
        assertFalse(ProcessHandle.of(proxy).map(ProcessHandle::isAlive).orElse(false), "the proxy outlived its agent");
        // The lab's supervisor restarts the agent, which starts a proxy again.
        long next = proxyPid(proxy);
        System.out.println("[ProxyProcessLabTest] agent " + agent + " killed: proxy " + proxy + " exited; the new agent's proxy is " + next);
        TestLabs.down(lab);
        lab = null;
        assertFalse(ProcessHandle.of(next).map(ProcessHandle::isAlive).orElse(false), "lab down left proxy " + next);
    }
}
