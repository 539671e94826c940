package dev.sluice.libbpf;

import dev.sluice.libbpf.TestStructs.TestKey;
import dev.sluice.libbpf.TestStructs.TestValue;
import dev.sluice.testing.Privileged;
import dev.sluice.testing.TestSockets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every map type the binding types, round-tripped through codecs against the real kernel. */
class MapTest {
    private static BpfObject object;

    @BeforeAll
    static void load() {
        Privileged.require();
        object = BpfObject.openResource(MapTest.class, "/bpf/binding_test.bpf.o").load();
    }

    @AfterAll
    static void close() {
        if (object != null) {
            object.close();
        }
    }

    @BeforeEach
    void clearHash() {
        TypedMap<TestKey, TestValue> hash = hash();
        hash.deleteBatch(hash.keys());
    }

    private static TypedMap<TestKey, TestValue> hash() {
        return object.map("test_hash").typed(TestKey.CODEC, TestValue.CODEC);
    }

    private static TestKey key(int i) {
        byte[] a = {10, (byte) (i >> 16), (byte) (i >> 8), (byte) i};
        try {
            return new TestKey((Inet4Address) InetAddress.getByAddress(a), 1000 + (i % 60000), 6, i);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void hashRoundTripsRecordsAndHonoursUpdateFlags() {
        TypedMap<TestKey, TestValue> hash = hash();
        TestKey k = key(7);
        assertTrue(hash.lookup(k).isEmpty());
        hash.update(k, new TestValue(1, 100), UpdateFlag.NOEXIST);
        assertEquals(new TestValue(1, 100), hash.lookup(k).orElseThrow());

        BpfException exists = assertThrows(BpfException.class, () -> hash.update(k, new TestValue(2, 2), UpdateFlag.NOEXIST));
        assertEquals(dev.sluice.linux.Errno.EEXIST, exists.errno());
        assertTrue(exists.getMessage().contains("test_hash") && exists.getMessage().contains("EEXIST"), exists.getMessage());

        hash.update(k, new TestValue(3, 300), UpdateFlag.EXIST);
        assertEquals(new TestValue(3, 300), hash.lookup(k).orElseThrow());
        BpfException missing = assertThrows(BpfException.class, () -> hash.update(key(8), new TestValue(1, 1), UpdateFlag.EXIST));
        assertEquals(dev.sluice.linux.Errno.ENOENT, missing.errno());

        assertTrue(hash.delete(k));
        assertFalse(hash.delete(k));
        assertTrue(hash.lookup(k).isEmpty());
    }

    @Test
    void tenThousandEntriesByBatchUpdateIterationAndBatchDelete() {
        TypedMap<TestKey, TestValue> hash = hash();
        Map<TestKey, TestValue> entries = new LinkedHashMap<>();
        for (int i = 0; i < 10_000; i++) {
            entries.put(key(i), new TestValue(i, i * 10L));
        }
        assertEquals(10_000, hash.updateBatch(entries, UpdateFlag.ANY));
        // NOEXIST has no batch form in the kernel: entry by entry, and the first existing key stops it.
        BpfException e = assertThrows(BpfException.class, () -> hash.updateBatch(Map.of(key(1), new TestValue(0, 0)), UpdateFlag.NOEXIST));
        assertEquals(dev.sluice.linux.Errno.EEXIST, e.errno());

        Map<TestKey, TestValue> read = hash.entries();
        assertEquals(entries, read);
        assertEquals(10_000, new HashSet<>(hash.keys()).size());

        List<TestKey> half = new ArrayList<>(entries.keySet()).subList(0, 5_000);
        assertEquals(5_000, hash.deleteBatch(half));
        assertEquals(5_000, hash.keys().size());
        assertTrue(hash.lookup(key(0)).isEmpty());
        assertEquals(new TestValue(9_999, 99_990), hash.lookup(key(9_999)).orElseThrow());
    }

    @Test
    void lruHashEvictsInsteadOfFilling() {
        TypedMap<TestKey, TestValue> lru = object.map("test_lru").typed(TestKey.CODEC, TestValue.CODEC);
        for (int i = 0; i < 3_000; i++) {
            lru.update(key(i), new TestValue(i, 0));
        }
        int size = lru.keys().size();
        assertTrue(size <= object.map("test_lru").maxEntries(), "LRU holds " + size);
        assertEquals(new TestValue(2_999, 0), lru.lookup(key(2_999)).orElseThrow());
        lru.deleteBatch(lru.keys());
    }

    @Test
    void perCpuHashHoldsOneValuePerPossibleCpu() {
        TypedMap<Integer, List<TestValue>> map = object.map("test_percpu_hash").typedPerCpu(Codecs.u32(), TestValue.CODEC);
        int cpus = BpfSystem.possibleCpus();
        List<TestValue> values = new ArrayList<>();
        for (int cpu = 0; cpu < cpus; cpu++) {
            values.add(new TestValue(cpu + 1, (cpu + 1) * 1000L));
        }
        map.update(42, values);
        assertEquals(values, map.lookup(42).orElseThrow());
        assertEquals(Map.of(42, values), map.entries());
        assertThrows(IllegalArgumentException.class, () -> map.update(43, values.subList(0, 0)));
        assertTrue(map.delete(42));
    }

    @Test
    void perCpuArrayBatchUpdateAndRead() {
        TypedMap<Integer, List<Long>> map = object.map("test_percpu_array").typedPerCpu(Codecs.u32(), Codecs.u64());
        int cpus = BpfSystem.possibleCpus();
        Map<Integer, List<Long>> entries = new LinkedHashMap<>();
        for (int i = 0; i < 64; i++) {
            entries.put(i, Collections.nCopies(cpus, (long) i * 3));
        }
        assertEquals(64, map.updateBatch(entries, UpdateFlag.ANY));
        assertEquals(Collections.nCopies(cpus, 30L), map.lookup(10).orElseThrow());
        assertEquals(64, map.keys().size());
    }

    @Test
    void arrayOfTenThousandByBatchAndIteration() {
        TypedMap<Integer, TestValue> array = object.map("test_array").typed(Codecs.u32(), TestValue.CODEC);
        Map<Integer, TestValue> entries = new LinkedHashMap<>();
        for (int i = 0; i < 10_000; i++) {
            entries.put(i, new TestValue(i, -i));
        }
        assertEquals(10_000, array.updateBatch(entries, UpdateFlag.ANY));
        Map<Integer, TestValue> read = array.entries();
        assertEquals(object.map("test_array").maxEntries(), read.size(), "an array always holds every index");
        for (int i = 0; i < 10_000; i++) {
            assertEquals(new TestValue(i, -i), read.get(i));
        }
        assertEquals(new TestValue(0, 0), read.get(12_000));
        // Arrays cannot delete; the batch falls back to single deletes, which the kernel refuses.
        assertThrows(BpfException.class, () -> array.deleteBatch(List.of(1)));
    }

    @Test
    void lpmTrieMatchesTheLongestPrefix() throws Exception {
        TypedMap<Lpm<Inet4Address>, Integer> lpm = object.map("test_lpm").typed(Codecs.lpm(Codecs.ipv4()), Codecs.u32());
        Inet4Address ten = (Inet4Address) InetAddress.getByName("10.0.0.0");
        Inet4Address tenOne = (Inet4Address) InetAddress.getByName("10.1.0.0");
        lpm.updateBatch(Map.of(new Lpm<>(8, ten), 1, new Lpm<>(16, tenOne), 2), UpdateFlag.ANY);

        Inet4Address inTenOne = (Inet4Address) InetAddress.getByName("10.1.2.3");
        Inet4Address inTen = (Inet4Address) InetAddress.getByName("10.200.2.3");
        Inet4Address outside = (Inet4Address) InetAddress.getByName("11.0.0.1");
        assertEquals(2, lpm.lookup(new Lpm<>(32, inTenOne)).orElseThrow());
        assertEquals(1, lpm.lookup(new Lpm<>(32, inTen)).orElseThrow());
        assertTrue(lpm.lookup(new Lpm<>(32, outside)).isEmpty());
        assertEquals(Map.of(new Lpm<>(8, ten), 1, new Lpm<>(16, tenOne), 2), lpm.entries());
        assertEquals(2, lpm.deleteBatch(lpm.keys()));
        assertTrue(lpm.keys().isEmpty());
    }

    @Test
    void sockHashHoldsARealSocketAndReturnsItsCookie() throws Throwable {
        SockHash<Integer> sockets = SockHash.of(object.map("test_sockhash"), Codecs.u32());
        int[] listener = TestSockets.listenLoopback();
        try {
            sockets.put(1, listener[0], UpdateFlag.NOEXIST);
            long cookie = sockets.cookie(1).orElseThrow();
            assertTrue(cookie != 0, "a socket cookie is never 0");
            assertTrue(sockets.remove(1));
            assertTrue(sockets.cookie(1).isEmpty());
        } finally {
            TestSockets.close(listener[0]);
        }
    }

    @Test
    void aCodecOfTheWrongSizeIsRefusedWithBothSizes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> object.map("test_hash").typed(Codecs.u64(), TestValue.CODEC));
        assertTrue(e.getMessage().contains("12 bytes") && e.getMessage().contains("8"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> object.map("test_percpu_hash").typed(Codecs.u32(), TestValue.CODEC));
    }

    @Test
    void unknownNamesListWhatTheObjectHas() {
        NoSuchElementException e = assertThrows(NoSuchElementException.class, () -> object.map("nope"));
        assertTrue(e.getMessage().contains("test_hash"), e.getMessage());
        assertThrows(NoSuchElementException.class, () -> object.program("nope"));
    }

    @Test
    void standaloneMapsAreCreatedAndClosed() {
        try (BpfMap map = BpfMap.create(MapType.HASH, "standalone", 4, 8, 16, 0)) {
            TypedMap<Integer, Long> typed = map.typed(Codecs.u32(), Codecs.u64());
            typed.update(1, 99L);
            assertEquals(99L, typed.lookup(1).orElseThrow());
        }
    }

    /** An mmapable array written through memory reads back through the syscall, element by element. */
    @Test
    void aMappedArrayIsWrittenThroughMemory() {
        try (BpfMap map = BpfMap.create(MapType.ARRAY, "mapped", 4, 4, 1021, BpfMap.F_MMAPABLE);
             BpfMap plain = BpfMap.create(MapType.ARRAY, "unmapped", 4, 4, 8, 0)) {
            assertEquals(8, map.arrayStride(), "4-byte values sit 8 bytes apart");
            map.writeMapped(m -> {
                assertEquals(8L * 1021, m.byteSize());
                for (int i = 0; i < 1021; i++) {
                    m.set(Codecs.U32, (long) i * map.arrayStride(), i * 7 + 1);
                }
            });
            TypedMap<Integer, Integer> typed = map.typed(Codecs.u32(), Codecs.u32());
            for (int i = 0; i < 1021; i++) {
                assertEquals(i * 7 + 1, typed.lookup(i).orElseThrow(), "element " + i);
            }
            BpfException e = assertThrows(BpfException.class, () -> plain.writeMapped(m -> { }));
            assertTrue(e.getMessage().contains("F_MMAPABLE"), e.getMessage());
        }
    }
}
