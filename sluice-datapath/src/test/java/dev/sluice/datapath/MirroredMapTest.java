package dev.sluice.datapath;

import dev.sluice.libbpf.BpfMap;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.MapType;
import dev.sluice.libbpf.TypedMap;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A mirrored map writes only what differs, and stays true to the kernel when a write fails. */
class MirroredMapTest {

    @Test
    void writesTheDifferenceAndKeepsItsCopyTrue() {
        Privileged.require();
        try (BpfMap raw = BpfMap.create(MapType.HASH, "mirror_test", 4, 4, 4, 0)) {
            TypedMap<Integer, Integer> map = raw.typed(Codecs.u32(), Codecs.u32());
            map.update(1, 10);
            map.update(2, 20);
            MirroredMap<Integer, Integer> mirrored = MirroredMap.adopt(map);
            assertEquals(Map.of(1, 10, 2, 20), mirrored.entries(), "adopted what was there");

            assertEquals(new MirroredMap.Delta(2, 1), mirrored.replaceWith(Map.of(2, 21, 3, 30)));
            assertEquals(Map.of(2, 21, 3, 30), map.entries());
            assertEquals(new MirroredMap.Delta(0, 0), mirrored.replaceWith(Map.of(2, 21, 3, 30)), "nothing changed, nothing written");

            // Someone else's entry is invisible to the copy until a failure makes it re-read the map.
            map.update(4, 40);
            assertThrows(RuntimeException.class, () -> mirrored.replaceWith(Map.of(2, 21, 3, 30, 5, 50, 6, 60)), "the map holds 4");
            assertEquals(map.entries(), mirrored.entries(), "after a failed write the copy is what the kernel holds");
        }
    }
}
