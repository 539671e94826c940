package dev.sluice.agent.policy;

import dev.sluice.policy.EndpointLabels;
import dev.sluice.policy.IdentityAllocator;
import dev.sluice.policy.Labels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

class IdentityStoreTest {
    private static Labels pod(String app) {
        return EndpointLabels.of("default", Map.of("app", app), Map.of());
    }

    @Test
    void twoAgentsAgreeAndARestartKeepsEveryNumber(@TempDir Path dir) {
        Path file = dir.resolve("identities.json");
        IdentityAllocator node1 = new IdentityStore(file).allocate(List.of(pod("web"), pod("api")));
        // Another node sees a new label set first, then the shared ones.
        IdentityAllocator node2 = new IdentityStore(file).allocate(List.of(pod("db"), pod("web"), pod("api")));
        assertEquals(node1.allocate(pod("web")).id(), node2.allocate(pod("web")).id());
        assertEquals(node1.allocate(pod("api")).id(), node2.allocate(pod("api")).id());
        assertNotEquals(node2.allocate(pod("db")).id(), node2.allocate(pod("web")).id());

        IdentityAllocator restarted = new IdentityStore(file).allocate(List.of(pod("db")));
        assertEquals(node2.allocate(pod("db")).id(), restarted.allocate(pod("db")).id());
        assertEquals(3, new IdentityStore(file).read().size());
    }
}
