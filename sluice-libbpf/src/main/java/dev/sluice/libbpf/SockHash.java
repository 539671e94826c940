package dev.sluice.libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * A SOCKHASH (or SOCKMAP) map: user space adds sockets by file descriptor and reads back socket
 * cookies; BPF programs redirect messages between the sockets it holds.
 */
public final class SockHash<K> {
    private final BpfMap map;
    private final Codec<K> keys;

    SockHash(BpfMap map, Codec<K> keys) {
        this.map = map;
        this.keys = keys;
    }

    public static <K> SockHash<K> of(BpfMap map, Codec<K> keys) {
        if (map.type() != MapType.SOCKHASH && map.type() != MapType.SOCKMAP) {
            throw new IllegalArgumentException("map '" + map.name() + "' is " + map.type() + ", not a SOCKHASH");
        }
        if (keys.size() != map.keySize()) {
            throw new IllegalArgumentException("map '" + map.name() + "': key is " + map.keySize()
                    + " bytes but the codec has " + keys.size());
        }
        return new SockHash<>(map, keys);
    }

    public BpfMap raw() {
        return map;
    }

    /** Adds the socket behind {@code socketFd} (a TCP socket, established or listening) under {@code key}. */
    public void put(K key, int socketFd, UpdateFlag flag) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment k = arena.allocate(keys.size());
            keys.encode(key, k);
            MemorySegment v = arena.allocate(map.valueSize());
            if (map.valueSize() == 8) {
                v.set(Codecs.U64, 0, socketFd);
            } else {
                v.set(Codecs.U32, 0, socketFd);
            }
            map.update(k, v, flag);
        }
    }

    /** The socket cookie stored under {@code key} (needs an 8-byte value). */
    public Optional<Long> cookie(K key) {
        if (map.valueSize() != 8) {
            throw new IllegalStateException("map '" + map.name() + "' has " + map.valueSize()
                    + "-byte values; the kernel returns socket cookies only for 8-byte values");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment k = arena.allocate(keys.size());
            keys.encode(key, k);
            MemorySegment v = arena.allocate(8);
            return map.lookup(k, v) ? Optional.of(v.get(Codecs.U64, 0)) : Optional.empty();
        }
    }

    public boolean remove(K key) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment k = arena.allocate(keys.size());
            keys.encode(key, k);
            return map.delete(k);
        }
    }
}
