package dev.sluice.e2e;

import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.linux.Command;
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
 * Pods beyond what the nodes take stay Pending, counted, with the scheduler's reason: `lab apply` of a Deployment of
 * a million replicas makes only the pods that fit (nothing is started that cannot be finished), says how many are
 * Pending and why, and `lab pods` and `sluice status` show them; scaling down clears them.
 */
class CapacityLabTest {
    @TempDir
    Path dir;

    @Test
    void replicasBeyondTheNodesLimitStayPendingWithTheReason() throws Exception {
        Privileged.require();
        Lab lab = TestLabs.create("c");
        try {
            Path web = dir.resolve("web.yaml");
            Files.writeString(web, deployment(2));
            // Two nodes of at most 3 pods each; the cluster DNS pod takes one of them.
            lab.up(2, 3, ManifestReader.read(List.of(web)), null);
            assertEquals(2, webPods(lab.state()));
            assertEquals(0, lab.state().pendingCount());

            Files.writeString(web, deployment(1_000_000));
            Lab.Changes changes = lab.apply(ManifestReader.read(List.of(web)));
            LabState state = lab.state();
            assertEquals(3, changes.created().size(), "only the pods that fit are made: " + changes.created());
            assertEquals(5, webPods(state), "5 of the 6 slots are web's, 1 is the DNS pod's");
            assertEquals(999_995, state.pendingCount());
            LabState.PendingPods pending = changes.pending().getFirst();
            assertEquals("web", pending.owner());
            assertTrue(pending.reason().contains("0/2 nodes are available: node-1: too many pods (3 of at most 3 a node"), pending.reason());
            assertTrue(state.pods().stream().allMatch(Lab::running), "every pod made is running");
            long netns = Command.run("ip", "netns", "list").lines().filter(l -> l.startsWith("sl-" + lab.name() + "-")).count();
            assertEquals(1 + 2 + 6, netns, "fabric, 2 nodes, 6 pods: no namespace for a pod that does not fit");

            CliRun pods = CliRun.of(lab, "lab", "pods");
            assertTrue(pods.out().lines().anyMatch(l -> l.contains("web-* (999995 pods)") && l.contains("Pending") && l.contains("too many pods")),
                    pods.out());
            CliRun status = CliRun.of(lab, "status");
            assertTrue(status.out().contains("Pending pods:") && status.out().contains("999995 pod(s) of Deployment default/web Pending"),
                    status.out());

            Files.writeString(web, deployment(2));
            lab.apply(ManifestReader.read(List.of(web)));
            assertEquals(2, webPods(lab.state()));
            assertEquals(0, lab.state().pendingCount(), "scaled down: nothing Pending");
        } finally {
            TestLabs.down(lab);
        }
    }

    private static long webPods(LabState state) {
        return state.pods().stream().filter(p -> "web".equals(p.owner())).count();
    }

    private static String deployment(int replicas) {
        return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: " + replicas
                + "\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n"
                + "      containers:\n      - name: echo\n        image: sluice/echo\n        ports: [{containerPort: 8080}]\n";
    }
}
