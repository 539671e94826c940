package dev.sluice.libbpf;

import dev.sluice.libbpf.BtfStruct.Member;
import dev.sluice.libbpf.TestStructs.PacketEvent;
import dev.sluice.libbpf.TestStructs.TestKey;
import dev.sluice.libbpf.TestStructs.TestValue;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Structs read from an object's BTF (no loading, no privileges), and Java layouts compared with them. */
class BtfTest {
    private static BpfObject open() {
        return BpfObject.openResource(BtfTest.class, "/bpf/binding_test.bpf.o");
    }

    @Test
    void aStructHasItsSizeAndItsMembersWithTheirOffsetsAndSizes() {
        try (BpfObject object = open()) {
            BtfStruct key = object.struct("test_key").orElseThrow();
            assertEquals(12, key.size());
            assertEquals(List.of(new Member("addr", 0, 0, 4), new Member("port", 32, 0, 2), new Member("proto", 48, 0, 1),
                    new Member("pad", 56, 0, 1), new Member("id", 64, 0, 4)), key.members());
            assertEquals(8, key.member("id").orElseThrow().offset());

            BtfStruct event = object.struct("packet_event").orElseThrow();
            assertEquals(32, event.size());
            Member pad = event.member("pad").orElseThrow();
            assertEquals(30, pad.offset());
            assertEquals(2, pad.size(), "an array member's size is the whole array's");
            assertTrue(object.struct("no_such_struct").isEmpty());
        }
    }

    @Test
    void theTestMirrorsMatchTheirStructs() {
        try (BpfObject object = open()) {
            for (StructLayout layout : List.of(TestKey.LAYOUT, TestValue.LAYOUT, PacketEvent.LAYOUT)) {
                BtfStruct btf = object.struct(layout.name()).orElseThrow();
                assertEquals(List.of(), layout.differences(btf), layout.name());
            }
            assertEquals(TestKey.LAYOUT.size(), TestKey.CODEC.size());
        }
    }

    @Test
    void aLayoutThatDriftedIsReportedFieldByField() {
        StructLayout drifted = StructLayout.of("test_key", 16)
                .field("addr", 0, 4).field("port", 4, 4).field("proto", 8, 1).field("id", 10, 4).field("extra", 14, 1);
        try (BpfObject object = open()) {
            List<String> differences = drifted.differences(object.struct("test_key").orElseThrow());
            assertEquals(List.of(
                    "struct test_key: Java size 16, BTF size 12",
                    "struct test_key, field port: Java size 4, BTF size 2",
                    "struct test_key, field proto: Java offset 8, BTF offset 6",
                    "struct test_key, field pad: BTF offset 7 (size 1), not in the Java layout",
                    "struct test_key, field id: Java offset 10, BTF offset 8",
                    "struct test_key, field extra: Java offset 14, not in BTF"), differences);
        }
    }

    @Test
    void aLayoutRefusesOverlappingFields() {
        assertThrows(IllegalArgumentException.class, () -> StructLayout.of("s", 8).field("a", 0, 4).field("b", 2, 4));
        assertThrows(IllegalArgumentException.class, () -> StructLayout.of("s", 8).field("a", 6, 4));
    }
}
