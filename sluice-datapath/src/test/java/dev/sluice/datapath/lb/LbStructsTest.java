package dev.sluice.datapath.lb;

import dev.sluice.datapath.Programs;
import dev.sluice.datapath.lb.LbStructs.Lb4Backend;
import dev.sluice.datapath.lb.LbStructs.Lb4Key;
import dev.sluice.libbpf.BpfFs;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.MapType;
import dev.sluice.testing.Names;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static dev.sluice.datapath.abi.Protocol.TCP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The maps of lb.h's two objects against their Java codecs (BTF layouts: StructLayoutsTest), and the objects sharing one set of maps. */
class LbStructsTest {
    private static final List<String> LB_OBJECTS = List.of(Programs.SOCK_LB, Programs.POD_VETH);

    @Test
    void everyMapOfBothObjectsAcceptsItsJavaCodecs() {
        Privileged.require();
        for (String name : LB_OBJECTS) {
            try (BpfObject object = Programs.open(name).load()) {
                new LbTestMaps(object); // typed() refuses a codec whose size differs from the map's
                assertEquals(MapType.HASH_OF_MAPS, object.map("lb4_maglev").type());
            }
        }
    }

    /** The agent loads both objects with one pin directory: they must end up with the same maps. */
    @Test
    void bothObjectsShareTheMapsPinnedUnderOneDirectory() throws IOException {
        Privileged.require();
        Path dir = BpfFs.DEFAULT_ROOT.resolve(Names.unique("sluice-lbt"));
        try (BpfObject socket = Programs.open(Programs.SOCK_LB).pinMapsUnder(dir).load();
             BpfObject veth = Programs.open(Programs.POD_VETH).pinMapsUnder(dir).load()) {
            // pod_veth also has endpoint_maps.h's two (source verification), shared with pod_policy, and its own
            // frag4_lb (fragments follow their first fragment's translation; the socket LB sees no packets).
            assertEquals(socket.mapNames().stream().filter(m -> !m.contains(".")).sorted().toList(),
                    veth.mapNames().stream().filter(m -> !m.contains("."))
                            .filter(m -> !List.of("endpoints", "policy_drops", "frag4_lb").contains(m)).sorted().toList(), "the same maps");
            assertTrue(veth.mapNames().containsAll(List.of("endpoints", "policy_drops")), "pod_veth: " + veth.mapNames());
            LbTestMaps a = new LbTestMaps(socket);
            LbTestMaps b = new LbTestMaps(veth);
            a.backend(7, "192.0.2.7", 8080, TCP.value());
            assertEquals(new Lb4Backend(LbTestMaps.ip("192.0.2.7"), 8080, TCP.value()), b.backends.lookup(7).orElseThrow());
            a.service("10.96.0.7", 80, TCP.value(), 7, 0, 0, List.of(7));
            assertEquals(1, b.services.lookup(new Lb4Key(LbTestMaps.ip("10.96.0.7"), 80, 0, TCP.value())).orElseThrow().count());
            int[] table = b.maglev(7, 13, List.of(7), List.of("192.0.2.7:8080"));
            assertEquals(13, table.length);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment key = arena.allocate(2);
                assertTrue(a.maglev.nextKey(MemorySegment.NULL, key), "the Maglev table written through one object is in the other's map");
                assertEquals(7, Short.toUnsignedInt(key.get(Codecs.U16, 0)));
            }
        } finally {
            removePins(dir);
        }
    }

    private static void removePins(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
