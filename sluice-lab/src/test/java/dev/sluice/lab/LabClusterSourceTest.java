package dev.sluice.lab;

import dev.sluice.lab.LabState.ContainerState;
import dev.sluice.lab.LabState.NodeState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.model.Desired;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The lab's cluster source follows the change log: each change arrives as the objects it touched, and the view
 * it builds is the one a full read of the state gives; a gap in the log (restarted, a line lost) falls back to
 * reading the state once.
 */
class LabClusterSourceTest {
    @TempDir
    Path dir;

    private Desired manifests(String yaml) throws Exception {
        Path f = Files.createTempFile(dir, "m", ".yaml");
        Files.writeString(f, yaml);
        return ManifestReader.read(List.of(f));
    }

    private static String service(int i) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: svc-%d, namespace: default}
                spec:
                  selector: {app: web}
                  ports: [{port: %d, targetPort: 8080}]
                ---
                """.formatted(i, 1000 + i);
    }

    private static PodState pod(String name, String ip, boolean ready) {
        return new PodState("default", name, "node-1", ip, "ns-" + name, "veth-" + name, "", Map.of("app", "web"), null, "",
                List.<ContainerState>of(), 0, ready, "");
    }

    private static LabState state(Desired desired, List<PodState> pods, Map<String, String> ips) {
        return new LabState("t", "/sys/fs/cgroup/x", "fabric", List.of(new NodeState("node-1", 1, "n1", "10.0.0.1", "10.1.1.0/24", "", 0)),
                desired, ips, pods, List.of(), "", 0, List.of());
    }

    private static ClusterChange next(LabClusterSource source) throws InterruptedException {
        return source.next(2_000).orElseThrow(() -> new AssertionError("no change delivered"));
    }

    @Test
    void followsTheChangeLogAndBuildsTheViewAFullReadGives() throws Exception {
        LabStore store = new LabStore(dir.resolve("lab"));
        StringBuilder yaml = new StringBuilder();
        for (int i = 0; i < 50; i++) {
            yaml.append(service(i));
        }
        Desired desired = manifests(yaml.toString());
        List<PodState> pods = new ArrayList<>(List.of(pod("a", "10.1.1.2", true), pod("b", "10.1.1.3", true)));
        Map<String, String> ips = new java.util.TreeMap<>();
        for (int i = 0; i < 50; i++) {
            ips.put("default/svc-" + i, "10.96.0." + (i + 1));
        }
        store.write(state(desired, pods, ips));
        try (LabClusterSource source = new LabClusterSource(store)) {
            ClusterChange first = next(source);
            assertTrue(first.events().contains(new ClusterEvent.Synced()));
            assertEquals(1, source.fullReads());

            // A pod added: one event, the view a full read would give.
            pods.add(pod("c", "10.1.1.4", false));
            store.write(state(desired, pods, ips));
            ClusterChange added = next(source);
            assertEquals(List.of(new ClusterEvent.Upserted(Kind.POD, "default/c")), added.events());
            assertEquals(LabView.of(store.read().orElseThrow()), added.view());
            assertEquals(store.version(), added.version());

            // A pod ready, a Service deleted with its ClusterIP, in two writes before the source looks.
            pods.set(2, pod("c", "10.1.1.4", true));
            store.write(state(desired, pods, ips));
            Desired fewer = desired.delete(manifests(service(7)));
            ips.remove("default/svc-7");
            store.write(state(fewer, pods, ips));
            List<ClusterEvent> events = new ArrayList<>();
            ClusterChange change;
            do {
                change = next(source);
                events.addAll(change.events());
            } while (change.version() != store.version());
            assertEquals(List.of(new ClusterEvent.Upserted(Kind.POD, "default/c"), new ClusterEvent.Deleted(Kind.SERVICE, "default/svc-7")), events);
            assertEquals(LabView.of(store.read().orElseThrow()), change.view());
            assertEquals(1, source.fullReads(), "every change came from the log");

            // A state written without its log line (the log lost): the source reads the state once and goes on.
            Files.delete(dir.resolve("lab/changes.jsonl"));
            LabState unlogged = state(fewer, pods.subList(0, 2), ips);
            store.write(unlogged);
            Files.writeString(dir.resolve("lab/changes.jsonl"), "");
            ClusterChange resynced = next(source);
            assertEquals(LabView.of(unlogged), resynced.view());
            assertEquals(List.of(new ClusterEvent.Deleted(Kind.POD, "default/c")), resynced.events());
            assertEquals(2, source.fullReads());
            pods.set(0, pod("a", "10.1.1.2", false));
            store.write(state(fewer, pods.subList(0, 2), ips));
            ClusterChange after = next(source);
            assertEquals(List.of(new ClusterEvent.Upserted(Kind.POD, "default/a")), after.events());
            assertEquals(2, source.fullReads(), "after the resync the log is followed again");
        }
    }

    @Test
    void aWriteInTheSameClockTickIsStillANewVersionThatAgentsSee() throws Exception {
        LabStore store = new LabStore(dir.resolve("lab"));
        Desired desired = manifests(service(1));
        List<PodState> pods = new ArrayList<>(List.of(pod("a", "10.1.1.2", true)));
        store.write(state(desired, pods, Map.of("default/svc-1", "10.96.0.1")));
        try (LabClusterSource source = new LabClusterSource(store)) {
            next(source);
            // The state in force stamped later than any next write can be (a coarse clock tick, a clock step).
            long ahead = store.version() + 3_600_000_000_000L;
            Files.setLastModifiedTime(dir.resolve("lab/state.json"), java.nio.file.attribute.FileTime.from(ahead, java.util.concurrent.TimeUnit.NANOSECONDS));
            next(source); // the source notices the touched state (a full read of an unchanged view)
            pods.add(pod("b", "10.1.1.3", true));
            store.write(state(desired, pods, Map.of("default/svc-1", "10.96.0.1")));
            assertEquals(ahead + 1, store.version(), "the version went up by one, not back to the clock");
            ClusterChange added = next(source);
            assertEquals(ahead + 1, added.version());
            assertEquals(List.of(new ClusterEvent.Upserted(Kind.POD, "default/b")), added.events());
        }
    }
}
