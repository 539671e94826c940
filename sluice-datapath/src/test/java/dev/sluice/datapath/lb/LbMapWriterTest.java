package dev.sluice.datapath.lb;

import dev.sluice.datapath.Programs;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The writer changes only what differs, and what the maps hold afterwards, read back from the kernel, is
 * exactly what was asked: through additions in the middle of a backend list, removals and a frontend
 * going away (per-packet mode, so the Maglev tables are written too).
 */
class LbMapWriterTest {

    private static Backend backend(int host, int id) {
        return new Backend("10.244.1." + host, 8080, 6, id, "pod-" + host);
    }

    private static Frontend frontend(int n, List<Backend> backends) {
        return new Frontend("default/svc-" + n, "http", "10.96.0." + n, 80, 6, n, false, 0, backends);
    }

    /** What the kernel holds, as the writer reads it back after a restart (service names are not stored). */
    private static List<String> held(LbMaps maps) {
        List<String> out = new ArrayList<>();
        for (Frontend f : LbMapWriter.read(maps)) {
            out.add(f.id() + " " + f.address() + ":" + f.port() + " -> "
                    + f.backends().stream().map(b -> b.id() + "=" + b.key()).toList());
        }
        return out;
    }

    private static List<String> expected(List<Frontend> fs) {
        return fs.stream().map(f -> f.id() + " " + f.address() + ":" + f.port() + " -> "
                + f.backends().stream().map(b -> b.id() + "=" + b.key()).toList()).toList();
    }

    @Test
    void onlyTheDifferenceIsWrittenAndTheMapsHoldExactlyTheFrontends() {
        Privileged.require();
        try (BpfObject object = Programs.open(Programs.POD_VETH).load()) {
            LbMaps maps = LbMaps.of(object::map);
            LbMapWriter writer = new LbMapWriter(maps, 251, true);
            List<Frontend> first = List.of(frontend(10, List.of(backend(10, 1), backend(12, 2))),
                    frontend(11, List.of(backend(10, 1), backend(12, 2))));
            assertEquals(2, writer.sync(first));
            assertEquals(expected(first), held(maps));

            // A pod in the middle of both lists: both frontends change, the shared backend is written once.
            List<Frontend> second = List.of(frontend(10, List.of(backend(10, 1), backend(11, 3), backend(12, 2))),
                    frontend(11, List.of(backend(10, 1), backend(11, 3), backend(12, 2))));
            assertEquals(2, writer.sync(second));
            assertEquals(expected(second), held(maps));
            assertEquals(0, writer.sync(second), "nothing changed, nothing written");

            // A backend leaves one frontend, the other frontend goes away: no slot or backend is left behind.
            List<Frontend> third = List.of(frontend(10, List.of(backend(10, 1), backend(12, 2))));
            assertEquals(2, writer.sync(third));
            assertEquals(expected(third), held(maps));
            assertEquals(2, maps.backends().entries().size(), "backend 3 is referenced by no frontend any more");
            assertEquals(3, maps.services().entries().size(), "slot 0 and two slots");
        }
    }
}
