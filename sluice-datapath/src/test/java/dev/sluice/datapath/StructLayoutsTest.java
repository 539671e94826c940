package dev.sluice.datapath;

import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.datapath.lb.LbStructs;
import dev.sluice.datapath.policy.PolicyStructs;
import dev.sluice.datapath.sockmap.SockmapStructs;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.BtfStruct;
import dev.sluice.libbpf.Codec;
import dev.sluice.libbpf.StructLayout;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every struct mirrored in Java (a record with a {@code CODEC} in {@link LbStructs}, {@link PolicyStructs} or
 * {@link FlowStructs}) against the BTF of every bundled object that has it: its size, and each field's offset and
 * size (as Cilium's alignchecker does). Then each codec against its own layout: it reads and writes every field
 * where the layout puts it, and leaves the reserved ones alone. No privileges needed: objects are opened, not
 * loaded.
 */
class StructLayoutsTest {
    /** Where each header's structs must be found, so that a renamed struct cannot skip the check. */
    private static final Map<Class<?>, List<String>> REQUIRED = Map.of(
            LbStructs.class, List.of(Programs.SOCK_LB, Programs.POD_VETH),
            PolicyStructs.class, List.of(Programs.POD_POLICY),
            FlowStructs.class, List.of(Programs.POD_POLICY, Programs.POD_VETH, Programs.SOCK_LB, Programs.SOCK_BYPASS),
            SockmapStructs.class, List.of(Programs.SOCK_BYPASS));

    private record Mirror(Class<?> header, Class<?> record, StructLayout layout, Codec<?> codec) {
    }

    /** Every nested record with a CODEC; each must have its LAYOUT. */
    private static List<Mirror> mirrors() {
        List<Mirror> out = new ArrayList<>();
        for (Class<?> header : List.of(LbStructs.class, PolicyStructs.class, FlowStructs.class, SockmapStructs.class)) {
            for (Class<?> nested : header.getDeclaredClasses()) {
                Codec<?> codec = (Codec<?>) constant(nested, "CODEC");
                if (codec == null) {
                    continue;
                }
                StructLayout layout = (StructLayout) constant(nested, "LAYOUT");
                assertNotNull(layout, nested.getName() + " has a CODEC but no LAYOUT");
                assertEquals(layout.size(), codec.size(), nested.getSimpleName() + ": the codec's size is its layout's");
                out.add(new Mirror(header, nested, layout, codec));
            }
        }
        return out;
    }

    private static Object constant(Class<?> type, String name) {
        try {
            Field f = type.getDeclaredField(name);
            assertTrue(Modifier.isStatic(f.getModifiers()), type.getName() + "." + name + " is static");
            return f.get(null);
        } catch (NoSuchFieldException e) {
            return null;
        } catch (IllegalAccessException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void everyMirroredStructHasTheSizeAndTheFieldOffsetsOfItsBtfInEveryObjectThatHasIt() {
        List<Mirror> mirrors = mirrors();
        assertEquals(28, mirrors.size(), "mirrored structs: " + mirrors.stream().map(m -> m.layout().name()).toList());
        List<String> differences = new ArrayList<>();
        Map<String, Set<String>> foundIn = new LinkedHashMap<>();
        for (String name : Programs.BUNDLED) {
            try (BpfObject object = Programs.open(name)) {
                for (Mirror m : mirrors) {
                    Optional<BtfStruct> btf = object.struct(m.layout().name());
                    if (btf.isEmpty()) {
                        continue;
                    }
                    foundIn.computeIfAbsent(m.layout().name(), k -> new TreeSet<>()).add(name);
                    m.layout().differences(btf.get()).forEach(d -> differences.add(name + ": " + d));
                }
            }
        }
        assertTrue(differences.isEmpty(), "Java layouts that differ from the objects' BTF:\n  " + String.join("\n  ", differences));
        for (Mirror m : mirrors) {
            Set<String> objects = foundIn.getOrDefault(m.layout().name(), Set.of());
            assertTrue(objects.containsAll(REQUIRED.get(m.header())),
                    "struct " + m.layout().name() + " is in the BTF of " + REQUIRED.get(m.header()) + ", found in " + objects);
        }
    }

    /**
     * Each codec against its layout: a field whose first byte is set survives decode and encode in place and
     * nowhere else; a reserved field is not read (it comes back zero). A codec reading or writing a field at
     * another offset than its layout says fails here, with the field named.
     */
    @Test
    void everyCodecReadsAndWritesEachFieldWhereItsLayoutPutsIt() {
        for (Mirror m : mirrors()) {
            for (StructLayout.Field field : m.layout().fields()) {
                byte[] out = roundTrip(m.codec(), m.layout(), field);
                String where = "struct " + m.layout().name() + ", field " + field.name() + " (offset " + field.offset() + "): ";
                for (int i = 0; i < out.length; i++) {
                    boolean inside = i >= field.offset() && i < field.end();
                    if (out[i] != 0 && (!inside || field.reserved())) {
                        fail(where + "the codec wrote byte " + i + " back: " + HexFormat.of().formatHex(out));
                    }
                }
                if (!field.reserved()) {
                    boolean kept = false;
                    for (long i = field.offset(); i < field.end(); i++) {
                        kept |= out[(int) i] != 0;
                    }
                    assertTrue(kept, where + "the codec lost it: " + HexFormat.of().formatHex(out));
                }
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> byte[] roundTrip(Codec<T> codec, StructLayout layout, StructLayout.Field field) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate(layout.size());
            in.set(ValueLayout.JAVA_BYTE, field.offset(), (byte) 1);
            T value = codec.decode(in);
            MemorySegment out = arena.allocate(layout.size());
            codec.encode(value, out);
            return out.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** The check above fails, naming struct, field and both offsets, for a layout whose offset is wrong. */
    @Test
    void aWrongOffsetIsReportedWithBothOffsets() {
        StructLayout wrong = StructLayout.of("policy_key", 12).field("remote_identity", 0, 4).field("endpoint_id", 4, 2)
                .field("proto", 6, 1).field("direction", 7, 1).field("dport", 8, 2).reserved("pad", 10, 2);
        try (BpfObject object = Programs.open(Programs.POD_POLICY)) {
            List<String> differences = wrong.differences(object.struct("policy_key").orElseThrow());
            assertFalse(differences.isEmpty());
            assertTrue(differences.contains("struct policy_key, field proto: Java offset 6, BTF offset 7"), differences.toString());
        }
    }
}
