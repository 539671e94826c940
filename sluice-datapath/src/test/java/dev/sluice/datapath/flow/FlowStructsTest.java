package dev.sluice.datapath.flow;

import dev.sluice.datapath.abi.DropReason;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.abi.Aggregation;
import dev.sluice.datapath.abi.FlowEventType;
import dev.sluice.datapath.abi.FlowReply;
import dev.sluice.datapath.abi.FlowVerdict;
import dev.sluice.datapath.flow.FlowStructs.FlowConfig;
import dev.sluice.datapath.flow.FlowStructs.FlowEvent;
import dev.sluice.libbpf.BpfObject;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.HexFormat;
import java.util.List;

import static dev.sluice.datapath.abi.Direction.INGRESS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The flow maps of every object that reports flows, and the byte layout of flow.h's mirrors (their BTF: StructLayoutsTest). */
class FlowStructsTest {
    private static final List<String> REPORTING = List.of(Programs.POD_POLICY, Programs.POD_VETH, Programs.SOCK_LB);

    @Test
    void everyReportingObjectHasTheFlowMaps() {
        for (String name : REPORTING) {
            try (BpfObject object = Programs.open(name)) {
                assertTrue(object.mapNames().containsAll(List.of(FlowStructs.MAP_EVENTS, FlowStructs.MAP_LOST, FlowStructs.MAP_CONFIG)),
                        name + " has the flow maps: " + object.mapNames());
            }
        }
    }

    /** Offsets as flow.h lays them out on a little-endian machine; addresses and ports in network order. */
    @Test
    void theCodecPutsEachFieldWhereTheStructHasIt() throws Exception {
        FlowEvent event = new FlowEvent(0x0102030405060708L, 0x1112L, ip("198.51.100.11"), ip("198.51.100.13"), 54321, 8080,
                ip("10.96.0.10"), 50051, 6, FlowEventType.DROP.value(), FlowVerdict.DROPPED.value(), INGRESS.value(), 0x02,
                FlowReply.UNKNOWN.value(), DropReason.POLICY.value(), 7, 1011, 1013, 99, 60, 3, 180);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(FlowEvent.SIZE);
            FlowEvent.CODEC.encode(event, s);
            assertEquals(event, FlowEvent.CODEC.decode(s));
            assertEquals("0807060504030201" + "1211000000000000" + "c633640b" + "c633640d" + "d431" + "1f90" + "0a60000a" + "c383"
                            + "06" + "02" + "02" + "00" + "02" + "02" + "85000000" + "07000000" + "f3030000" + "f5030000" + "63000000"
                            + "3c000000" + "0300000000000000" + "b400000000000000" + "00".repeat(40),
                    HexFormat.of().formatHex(s.toArray(ValueLayout.JAVA_BYTE)));
            FlowEvent v6 = new FlowEvent(1, 0, 0, 0, 1000, 1001, 0, 0, 17, FlowEventType.DROP.value(), FlowVerdict.DROPPED.value(),
                    INGRESS.value(), 0, FlowReply.NO.value(), DropReason.UNKNOWN_L3.value(), 7, 2, 1011, 0, 70, 0, 0,
                    0xfe80_0000_0000_0000L, 1, 0xff02_0000_0000_0000L, 1, FlowEvent.IP_V6);
            FlowEvent.CODEC.encode(v6, s);
            assertEquals(v6, FlowEvent.CODEC.decode(s));
            assertEquals("fe80000000000000" + "0000000000000001" + "ff02000000000000" + "0000000000000001" + "06" + "00000000000000",
                    HexFormat.of().formatHex(s.asSlice(80, 40).toArray(ValueLayout.JAVA_BYTE)), "addresses as on the wire");
            assertEquals("fe800000000000000000000000000001", HexFormat.of().formatHex(v6.saddr6()));
            MemorySegment c = arena.allocate(8);
            FlowConfig.CODEC.encode(new FlowConfig(Aggregation.MEDIUM), c);
            assertEquals("0300000000000000", HexFormat.of().formatHex(c.toArray(ValueLayout.JAVA_BYTE)));
        }
        assertEquals("198.51.100.11", FlowStructs.ipv4(ip("198.51.100.11")));
    }

    private static int ip(String dotted) throws Exception {
        return FlowStructs.ipv4((Inet4Address) InetAddress.getByName(dotted));
    }
}
