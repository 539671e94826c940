package dev.sluice.datapath.policy;

import dev.sluice.datapath.abi.DropReason;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Entry;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple;
import dev.sluice.datapath.policy.PolicyStructs.DropKey;
import dev.sluice.datapath.policy.PolicyStructs.DropValue;
import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.datapath.policy.PolicyStructs.IpcacheKey;
import dev.sluice.datapath.policy.PolicyStructs.IpcacheValue;
import dev.sluice.datapath.policy.PolicyStructs.PolicyEntry;
import dev.sluice.datapath.policy.PolicyStructs.PolicyKey;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.Codec;
import dev.sluice.libbpf.MapType;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HexFormat;

import static dev.sluice.datapath.abi.Direction.EGRESS;
import static dev.sluice.datapath.abi.Direction.INGRESS;
import static dev.sluice.datapath.abi.Protocol.TCP;
import static dev.sluice.datapath.policy.PolicyTestMaps.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The byte layout of policy.h's Java mirrors (against BTF: StructLayoutsTest), and the maps of the compiled object. */
class PolicyStructsTest {
    private static <T> String bytes(Codec<T> codec, T value) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(codec.size());
            codec.encode(value, s);
            assertEquals(value, codec.decode(s), "decode(encode(v)) == v");
            return HexFormat.of().formatHex(s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        }
    }

    /** Offsets as policy.h lays them out on a little-endian machine; addresses and ports in network order. */
    @Test
    void codecsWriteTheFieldsWhereTheStructsHaveThem() {
        assertEquals("18000000c0000200", bytes(IpcacheKey.CODEC, new IpcacheKey(24, ip("192.0.2.0"))));
        assertEquals("0100000102000000", bytes(IpcacheValue.CODEC, new IpcacheValue(0x01000001, 2)));
        assertEquals("e9030000" + "0b00" + "01" + "00" + "f4010000" + "f5010000" + "c633640b" + "01000000"
                        + "0a58c0a8000b" + "0000",
                bytes(EndpointInfo.CODEC, new EndpointInfo(1001, 11, true, false, 500, 501, ip("198.51.100.11"), 1,
                        EndpointInfo.parseMac("0a:58:C0:a8:00:0b"))));
        assertEquals("0a:58:c0:a8:00:0b", EndpointInfo.formatMac(0x0a58c0a8000bL));
        assertEquals(0, EndpointInfo.parseMac(""), "unknown");
        assertThrows(IllegalArgumentException.class, () -> EndpointInfo.parseMac("0a:58:c0:a8:00"));
        assertThrows(IllegalArgumentException.class, () -> EndpointInfo.parseMac("0a:58:c0:a8:00:zz"));
        assertEquals("f4030000" + "0d00" + "01" + "06" + "1f90" + "0000",
                bytes(PolicyKey.CODEC, new PolicyKey(1012, 13, EGRESS.value(), TCP.value(), 8080)));
        assertEquals("01000000" + "2a000000", bytes(PolicyEntry.CODEC, PolicyEntry.denial(42)));
        assertEquals("c633640b" + "c633640d" + "d431" + "1f90" + "06" + "01" + "0000",
                bytes(Ct4Tuple.CODEC, new Ct4Tuple(ip("198.51.100.11"), ip("198.51.100.13"), 54321, 8080, TCP.value(), EGRESS.value())));
        assertEquals("0100000000000000" + "0200000000000000" + "0300000000000000" + "0400000000000000" + "0500000000000000"
                        + "e9030000" + "1300" + "01" + "00" + "f5010000" + "0d00" + "0000" + "07000000" + "00000000",
                bytes(Ct4Entry.CODEC, new Ct4Entry(1, 2, 3, 4, 5, 1001, 0x13, EGRESS.value(), 501, 13, 7)));
        assertEquals("05000000" + "2a000000", bytes(PolicyStructs.PolicyRevision.CODEC, new PolicyStructs.PolicyRevision(5, 42)));
        assertEquals("10000000" + "00040000" + "0700000000000000",
                bytes(PolicyStructs.Ct4Quota.CODEC, new PolicyStructs.Ct4Quota(16, 1024, 7)));
        assertEquals("0d00" + "00" + "00" + "85000000" + "f4010000" + "02000000",
                bytes(DropKey.CODEC, new DropKey(13, INGRESS.value(), DropReason.POLICY.value(), 500, 2)));
        assertEquals("0700000000000000" + "0002000000000000", bytes(DropValue.CODEC, new DropValue(7, 512)));
    }

    @Test
    void aReversedTupleIsTheOtherSidesKey() {
        Ct4Tuple t = new Ct4Tuple(ip("198.51.100.11"), ip("198.51.100.13"), 54321, 8080, TCP.value(), EGRESS.value());
        assertEquals(new Ct4Tuple(ip("198.51.100.13"), ip("198.51.100.11"), 8080, 54321, TCP.value(), INGRESS.value()), t.reversed());
        assertEquals(t, t.reversed().reversed());
    }

    @Test
    void theMapsHaveTheirTypesAndAcceptTheirCodecs() {
        Privileged.require();
        try (BpfObject object = Programs.open(Programs.POD_POLICY).load()) {
            new PolicyTestMaps(object); // typed() refuses a codec whose size differs from the map's
            assertEquals(MapType.LPM_TRIE, object.map(PolicyStructs.MAP_IPCACHE).type());
            assertEquals(MapType.HASH, object.map(PolicyStructs.MAP_ENDPOINTS).type());
            assertEquals(MapType.HASH, object.map(PolicyStructs.MAP_POLICY).type());
            assertEquals(MapType.LRU_HASH, object.map(PolicyStructs.MAP_CT).type());
            assertEquals(MapType.LRU_PERCPU_HASH, object.map(PolicyStructs.MAP_DROPS).type());
            assertEquals(4, object.map(PolicyStructs.MAP_ENDPOINTS).keySize(), "endpoints are keyed by a u32 ifindex");
        }
    }
}
