package dev.sluice.agent.cni;

import dev.sluice.agent.api.AgentStatus;
import dev.sluice.agent.core.Agent;
import dev.sluice.agent.core.Subsystem;
import dev.sluice.cni.AgentClient;
import dev.sluice.cni.AgentMessages.Endpoint;
import dev.sluice.cni.AgentMessages.Op;
import dev.sluice.cni.AgentMessages.Reply;
import dev.sluice.cni.AgentMessages.Request;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent;
import dev.sluice.model.cluster.ClusterSource;
import dev.sluice.model.cluster.ClusterView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent's CNI side through its real socket and the real agent loop, on a source that hands out one view: the
 * plugin's endpoint reaches the subsystems before REGISTER is answered, leaves with RELEASE, and an agent started
 * again on the same state has it from its first change.
 */
class CniAgentTest {
    @TempDir
    Path dir;

    private static final ClusterView.Pod LAB_POD = new ClusterView.Pod("default", "lab-pod", "node-1", "10.244.1.10", "lxclab", "",
            Map.of("app", "lab"), List.of(), true, true);

    /** One view, then nothing until closed. */
    private static final class OneView implements ClusterSource {
        private final LinkedBlockingQueue<ClusterChange> changes = new LinkedBlockingQueue<>();

        OneView() {
            ClusterView view = new ClusterView(List.of(new ClusterView.Node("node-1", "10.254.0.1", "10.244.1.0/24", "169.254.1.1")),
                    List.of(), List.of(LAB_POD), List.of(), Map.of(), List.of());
            changes.add(new ClusterChange(7, List.of(new ClusterEvent.Upserted(ClusterEvent.Kind.POD, LAB_POD.key()), new ClusterEvent.Synced()), view));
        }

        @Override
        public Optional<ClusterChange> next(long timeoutMs) throws InterruptedException {
            return Optional.ofNullable(changes.poll(timeoutMs, TimeUnit.MILLISECONDS));
        }

        @Override
        public void close() {
        }
    }

    /** Records the node's pods of every change it is given. */
    private static final class Pods implements Subsystem {
        final List<List<ClusterView.Pod>> seen = new CopyOnWriteArrayList<>();
        final List<Long> versions = new CopyOnWriteArrayList<>();

        @Override
        public String name() {
            return "Pods";
        }

        @Override
        public boolean concerns(ClusterChange change) {
            return change.touches(ClusterEvent.Kind.POD);
        }

        @Override
        public Applied apply(ClusterChange change) {
            seen.add(change.view().podsOn("node-1"));
            versions.add(change.version());
            return new Applied(List.of(), false);
        }

        @Override
        public void tick(long nowMs) {
        }

        @Override
        public List<AgentStatus.Line> status() {
            return List.of();
        }

        @Override
        public Set<String> features() {
            return Set.of();
        }

        @Override
        public void close() {
        }

        List<ClusterView.Pod> last() {
            return seen.getLast();
        }
    }

    private record Running(CniAgent cni, Pods pods, Thread loop, List<AgentStatus.Line> lines) {
        void stop() throws InterruptedException {
            loop.interrupt();
            loop.join(5_000);
            cni.source().close();
            cni.close();
        }
    }

    private Running start() throws Exception {
        CniAgent cni = CniAgent.start(new OneView(), "node-1", dir.resolve("cni.sock"), dir.resolve("ipam.json"));
        Pods pods = new Pods();
        List<AgentStatus.Line> lines = new CopyOnWriteArrayList<>();
        Subsystem status = cni.subsystem();
        Agent agent = new Agent(cni.source(), List.of(status, pods), report -> {
            lines.clear();
            lines.addAll(report.lines());
            cni.applied(report.change());
        });
        Thread loop = Thread.ofPlatform().start(() -> {
            try {
                agent.run();
            } catch (InterruptedException e) {
                // stopped
            }
        });
        long deadline = System.currentTimeMillis() + 5_000;
        while (pods.seen.isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(10);
        }
        assertFalse(pods.seen.isEmpty(), "the first change reached the subsystems");
        return new Running(cni, pods, loop, lines);
    }

    @Test
    void anEndpointIsAppliedBeforeRegisterIsAnsweredAndSurvivesARestart() throws Exception {
        Running agent = start();
        AgentClient plugin = new AgentClient(dir.resolve("cni.sock"));
        Endpoint want = new Endpoint("c1", "eth0", "shop", "web-1", "/run/netns/x", null, "lxcc1", "02:11:22:33:44:55", Map.of("app", "web"));
        Endpoint got = plugin.require(new Request(Op.ALLOCATE, want));
        assertEquals("10.244.1.2", got.ip());
        assertNull(plugin.require(new Request(Op.GET, want)), "not registered yet");

        plugin.require(new Request(Op.REGISTER, got));
        // REGISTER returned: the subsystem has already been given the pod, with the source's pod beside it.
        ClusterView.Pod web = agent.pods().last().stream().filter(p -> p.key().equals("shop/web-1")).findFirst().orElseThrow();
        assertEquals("10.244.1.2", web.ip());
        assertEquals("lxcc1", web.hostInterface());
        assertEquals("02:11:22:33:44:55", web.mac());
        assertEquals(Map.of("app", "web"), web.labels());
        assertTrue(agent.pods().last().contains(LAB_POD));
        assertEquals(7, agent.pods().versions.getLast(), "the source's version, which lab apply waits for, is kept");
        assertEquals("10.244.1.2", plugin.require(new Request(Op.GET, want)).ip());
        Thread.sleep(50);
        assertTrue(agent.lines().contains(new AgentStatus.Line("IPAM", "IPv4: 2/253 allocated from 10.244.1.0/24 (CNI plugin: 1)")), agent.lines().toString());

        // The lab's pod holds .10: the plugin's addresses go around it.
        for (int i = 3; i <= 9; i++) { // .3 to .9
            plugin.require(new Request(Op.ALLOCATE, new Endpoint("f" + i, "eth0", "default", "f" + i, "/x", null, "lxcf" + i, "", Map.of())));
        }
        assertEquals("10.244.1.11", plugin.require(new Request(Op.ALLOCATE,
                new Endpoint("g", "eth0", "default", "g", "/x", null, "lxcg", "", Map.of()))).ip());
        agent.stop();

        // Another agent on the same state: the endpoint is in its first change, and no address is handed out twice.
        Running again = start();
        assertTrue(again.pods().seen.getFirst().stream().anyMatch(p -> p.key().equals("shop/web-1") && p.ip().equals("10.244.1.2")));
        AgentClient plugin2 = new AgentClient(dir.resolve("cni.sock"));
        assertEquals("10.244.1.12", plugin2.require(new Request(Op.ALLOCATE,
                new Endpoint("h", "eth0", "default", "h", "/x", null, "lxch", "", Map.of()))).ip());

        Reply released = plugin2.call(new Request(Op.RELEASE, want));
        assertTrue(released.ok());
        assertTrue(again.pods().last().stream().noneMatch(p -> p.key().equals("shop/web-1")), "gone from the view before RELEASE returned");
        Reply twice = plugin2.call(new Request(Op.RELEASE, want));
        assertTrue(twice.ok(), "releasing nothing is not an error");
        assertNull(twice.endpoint());
        assertEquals("10.244.1.2", plugin2.require(new Request(Op.ALLOCATE,
                new Endpoint("i", "eth0", "default", "i", "/x", null, "lxci", "", Map.of()))).ip(), "released, the address is free again");
        again.stop();
    }

    @Test
    void aSourcePodOfTheSameNameTakesTheEndpointsNetwork() {
        CniSource source = new CniSource(new OneView(), "node-1", Ipam.load(dir.resolve("x.json")));
        try {
            ClusterView base = new ClusterView(List.of(), List.of(), List.of(new ClusterView.Pod("default", "lab-pod", "node-1", "", "", "/cg",
                    Map.of("app", "lab"), List.of(), true, false)), List.of(), Map.of(), List.of());
            ClusterView merged = source.merge(base, List.of(new Endpoint("c", "eth0", "default", "lab-pod", "/n", "10.244.1.5", "lxcq",
                    "02:00:00:00:00:09", Map.of("ignored", "x"))));
            assertEquals(1, merged.pods().size());
            ClusterView.Pod p = merged.pods().getFirst();
            assertEquals("10.244.1.5", p.ip());
            assertEquals("lxcq", p.hostInterface());
            assertEquals(Map.of("app", "lab"), p.labels(), "the source's labels win");
            assertEquals("/cg", p.cgroup());
            assertFalse(p.ready(), "readiness is the source's");
        } finally {
            source.close();
        }
    }
}
