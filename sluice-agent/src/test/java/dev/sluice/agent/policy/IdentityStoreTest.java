package dev.sluice.agent.policy;

import dev.sluice.policy.EndpointLabels;
import dev.sluice.policy.IdentityAllocator;
import dev.sluice.policy.Labels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @Test
    void anUnusedIdentityIsReleasedAfterTheGracePeriodAndNotBefore(@TempDir Path dir) {
        Path file = dir.resolve("identities.json");
        long[] now = {1_000_000};
        IdentityStore store = new IdentityStore(file, Duration.ofMinutes(15), () -> now[0]);
        int web = store.allocate(List.of(pod("web"), pod("api"))).allocate(pod("web")).id();

        // web's pods are gone: its number is kept, marked unused since now.
        store.allocate(List.of(pod("api")));
        assertEquals(now[0], unusedSince(store, web));
        now[0] += Duration.ofMinutes(14).toMillis();
        store.allocate(List.of(pod("api")));
        assertEquals(2, store.read().size(), "released before the grace period ended");

        // Back within the grace period: the same number, in use again.
        assertEquals(web, store.allocate(List.of(pod("api"), pod("web"))).allocate(pod("web")).id());
        assertEquals(0, unusedSince(store, web));

        // Gone for longer than the grace period: released, and its number is free for new labels.
        store.allocate(List.of(pod("api")));
        now[0] += Duration.ofMinutes(15).toMillis();
        IdentityAllocator after = store.allocate(List.of(pod("api")));
        assertTrue(store.read().stream().noneMatch(a -> a.labels().equals(pod("web"))), store.read().toString());
        assertEquals(web, store.allocate(List.of(pod("api"), pod("db"))).allocate(pod("db")).id());
        assertEquals(1, after.assignments().size());
    }

    private static long unusedSince(IdentityStore store, int id) {
        return store.read().stream().filter(a -> a.id() == id).findFirst().orElseThrow().unusedSinceEpochMs();
    }
}
