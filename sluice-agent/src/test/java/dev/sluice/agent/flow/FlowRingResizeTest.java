package dev.sluice.agent.flow;

import dev.sluice.datapath.Programs;
import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.libbpf.BpfFs;
import dev.sluice.libbpf.BpfMap;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.testing.Names;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A changed bpf.eventsRingBytes takes effect on the next agent start, though the ring is pinned. */
class FlowRingResizeTest {
    @Test
    void aPinnedRingOfAnotherSizeIsReplacedAndOneOfTheSameSizeKept() {
        Privileged.require();
        Path maps = BpfFs.ensureMounted(BpfFs.DEFAULT_ROOT).resolve(Names.unique("sluice-frr"));
        try {
            try (BpfObject first = Programs.openForNode(Programs.POD_POLICY, maps, 8192).load()) {
                assertEquals(8192, first.map(FlowStructs.MAP_EVENTS).maxEntries());
            }
            assertFalse(FlowPipeline.resizePinnedRing(maps, 8192), "the same size: the pinned ring stays");
            assertTrue(Files.exists(maps.resolve(FlowStructs.MAP_EVENTS)));
            assertTrue(FlowPipeline.resizePinnedRing(maps, 16384), "another size: the pin goes");
            assertFalse(Files.exists(maps.resolve(FlowStructs.MAP_EVENTS)));
            // The other maps are adopted as they were, the ring is made anew at its new size.
            try (BpfObject second = Programs.openForNode(Programs.POD_POLICY, maps, 16384).load()) {
                assertEquals(16384, second.map(FlowStructs.MAP_EVENTS).maxEntries());
            }
            try (BpfMap pinned = BpfMap.openPinned(maps.resolve(FlowStructs.MAP_EVENTS))) {
                assertEquals(16384, pinned.maxEntries());
            }
            assertFalse(FlowPipeline.resizePinnedRing(maps.resolve("absent"), 4096), "nothing pinned: nothing to do");
        } finally {
            BpfFs.removeTree(maps);
        }
    }
}
