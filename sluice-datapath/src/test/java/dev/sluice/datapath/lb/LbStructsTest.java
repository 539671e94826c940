package dev.sluice.datapath.lb;

import dev.sluice.datapath.Programs;
import dev.sluice.datapath.lb.LbStructs.Ct4Key;
import dev.sluice.datapath.lb.LbStructs.Ct4LbEntry;
import dev.sluice.datapath.lb.LbStructs.Lb4Affinity;
import dev.sluice.datapath.lb.LbStructs.Lb4AffinityKey;
import dev.sluice.datapath.lb.LbStructs.Lb4Backend;
import dev.sluice.datapath.lb.LbStructs.Lb4Key;
import dev.sluice.datapath.lb.LbStructs.Lb4ReverseNat;
import dev.sluice.datapath.lb.LbStructs.Lb4Service;
import dev.sluice.datapath.lb.LbStructs.Lb4SockKey;
import dev.sluice.datapath.lb.LbStructs.Lb4SockRevNat;
import dev.sluice.datapath.lb.LbStructs.LbConfig;
import dev.sluice.libbpf.BpfFs;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.Codec;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.stream.Stream;

import static dev.sluice.datapath.lb.LbStructs.TCP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Java mirrors of lb.h against the compiled objects, and the two objects sharing one set of maps. */
class LbStructsTest {
    private static final Map<String, Codec<?>> MIRRORS = new LinkedHashMap<>();

    static {
        MIRRORS.put("lb4_key", Lb4Key.CODEC);
        MIRRORS.put("lb4_service", Lb4Service.CODEC);
        MIRRORS.put("lb4_backend", Lb4Backend.CODEC);
        MIRRORS.put("lb4_reverse_nat", Lb4ReverseNat.CODEC);
        MIRRORS.put("lb4_affinity_key", Lb4AffinityKey.CODEC);
        MIRRORS.put("lb4_affinity", Lb4Affinity.CODEC);
        MIRRORS.put("lb4_sock_key", Lb4SockKey.CODEC);
        MIRRORS.put("lb4_sock_revnat", Lb4SockRevNat.CODEC);
        MIRRORS.put("lb_config", LbConfig.CODEC);
        MIRRORS.put("ct4_key", Ct4Key.CODEC);
        MIRRORS.put("ct4_lb_entry", Ct4LbEntry.CODEC);
    }

    private static final List<String> LB_OBJECTS = List.of(Programs.SOCK_LB, Programs.POD_VETH);

    @Test
    void everyMirrorHasTheSizeOfItsStructInBothObjects() {
        for (String name : LB_OBJECTS) {
            try (BpfObject object = Programs.open(name)) {
                MIRRORS.forEach((struct, codec) -> {
                    OptionalLong size = object.structSize(struct);
                    assertTrue(size.isPresent(), name + " has no BTF for struct " + struct);
                    assertEquals(size.getAsLong(), codec.size(), name + ": struct " + struct + " vs its Java codec");
                });
            }
        }
    }

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
            // pod_veth also has endpoint_maps.h's two (source verification), shared with pod_policy.
            assertEquals(socket.mapNames().stream().filter(m -> !m.contains(".")).sorted().toList(),
                    veth.mapNames().stream().filter(m -> !m.contains("."))
                            .filter(m -> !List.of("endpoints", "policy_drops").contains(m)).sorted().toList(), "the same maps");
            assertTrue(veth.mapNames().containsAll(List.of("endpoints", "policy_drops")), "pod_veth: " + veth.mapNames());
            LbTestMaps a = new LbTestMaps(socket);
            LbTestMaps b = new LbTestMaps(veth);
            a.backend(7, "192.0.2.7", 8080, TCP);
            assertEquals(new Lb4Backend(LbTestMaps.ip("192.0.2.7"), 8080, TCP), b.backends.lookup(7).orElseThrow());
            a.service("10.96.0.7", 80, TCP, 7, 0, 0, List.of(7));
            assertEquals(1, b.services.lookup(new Lb4Key(LbTestMaps.ip("10.96.0.7"), 80, 0, TCP)).orElseThrow().count());
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
