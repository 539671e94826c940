package dev.sluice.libbpf;

import dev.sluice.libbpf.TestStructs.Hit;
import dev.sluice.libbpf.TestStructs.TestKey;
import dev.sluice.libbpf.TestStructs.TestValue;
import dev.sluice.testing.Names;
import dev.sluice.testing.Privileged;
import dev.sluice.testing.VethPair;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Maps and links pinned on bpffs outlive their object and are adopted again, as after an agent restart. */
class PinningTest {
    private Path dir;

    @BeforeEach
    void setUp() {
        Privileged.require();
        BpfFs.ensureMounted(BpfFs.DEFAULT_ROOT);
        dir = BpfFs.DEFAULT_ROOT.resolve(Names.unique("sluice-test"));
    }

    @AfterEach
    void removePins() {
        if (dir != null) {
            BpfFs.removeTree(dir);
        }
    }

    private static BpfObject open() {
        return BpfObject.openResource(PinningTest.class, "/bpf/binding_test.bpf.o");
    }

    @Test
    void aPinnedMapReopensWithItsTypeAndSizes() {
        try (BpfObject object = open().load()) {
            object.map("test_array").pin(dir.resolve("test_array"));
            try (BpfMap pinned = BpfMap.openPinned(dir.resolve("test_array"))) {
                assertEquals(MapType.ARRAY, pinned.type());
                assertEquals(4, pinned.keySize());
                assertEquals(16, pinned.valueSize());
                assertEquals("test_array", pinned.name());
                pinned.typed(Codecs.u32(), TestValue.CODEC).update(5, new TestValue(55, 555));
            }
            assertEquals(new TestValue(55, 555), object.map("test_array").typed(Codecs.u32(), TestValue.CODEC).lookup(5).orElseThrow());
        }
    }

    @Test
    void aSecondLoadAdoptsTheMapsTheFirstPinned() throws Exception {
        TestKey key = new TestKey((Inet4Address) InetAddress.getByName("10.9.8.7"), 443, 6, 1);
        try (BpfObject first = open().pinMapsUnder(dir).load()) {
            first.map("test_hash").typed(TestKey.CODEC, TestValue.CODEC).update(key, new TestValue(7, 700));
        }
        assertTrue(Files.exists(dir.resolve("test_hash")), "the map outlives its object through the pin");
        assertFalse(Files.exists(dir.resolve(".bss")), "internal maps are not pinned");
        try (BpfObject second = open().pinMapsUnder(dir).load()) {
            assertEquals(new TestValue(7, 700), second.map("test_hash").typed(TestKey.CODEC, TestValue.CODEC).lookup(key).orElseThrow());
        }
    }

    @Test
    void aPinnedLinkKeepsTheProgramAttachedAfterEverythingIsClosed() {
        try (VethPair pair = new VethPair()) {
            try (BpfObject object = open().pinMapsUnder(dir).load()) {
                BpfLink link = pair.b.call(() -> object.program("tc_ingress").attachTcx(pair.ifindexB(), TcDirection.INGRESS));
                link.pin(dir.resolve("tc_ingress_link"));
                link.close();
            }
            try (BpfMap hits = BpfMap.openPinned(dir.resolve("hits"))) {
                TypedMap<Integer, Long> counters = hits.typed(Codecs.u32(), Codecs.u64());
                long before = counters.lookup(Hit.TC_INGRESS.ordinal()).orElse(0L);
                Traffic.udp(pair.a, VethPair.ADDRESS_B, 9000, 10);
                long after = counters.lookup(Hit.TC_INGRESS.ordinal()).orElse(0L);
                assertTrue(after - before >= 10, "the pinned link still runs the program: " + (after - before));

                BpfLink adopted = BpfLink.openPinned(dir.resolve("tc_ingress_link"));
                assertTrue(((FdLink) adopted).programId() > 0);
                adopted.detach();
                assertFalse(Files.exists(dir.resolve("tc_ingress_link")), "detach removes the pin");
                long detached = counters.lookup(Hit.TC_INGRESS.ordinal()).orElse(0L);
                Traffic.udp(pair.a, VethPair.ADDRESS_B, 9000, 10);
                assertEquals(detached, counters.lookup(Hit.TC_INGRESS.ordinal()).orElse(0L), "detached for good");
            }
        }
    }

    @Test
    void openingAMissingPinNamesThePathAndErrno() {
        BpfException e = assertThrows(BpfException.class, () -> BpfMap.openPinned(dir.resolve("absent")));
        assertTrue(e.getMessage().contains(dir.resolve("absent").toString()) && e.getMessage().contains("ENOENT"), e.getMessage());
    }
}
