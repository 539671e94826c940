package dev.sluice.datapath.sockmap;

import dev.sluice.datapath.sockmap.SockmapStructs.Counters;
import dev.sluice.datapath.sockmap.SockmapStructs.SockKey;
import dev.sluice.libbpf.BpfMap;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.TypedMap;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The socket bypass's maps (bpf/sock_bypass.bpf.c) on a node: the sockets in the SOCKHASH, each with the
 * socket cookie the kernel reports for it, and the counters. Used by the agent's bypass subsystem and by
 * {@code sluice bpf sockmap list}, on a node's pinned maps.
 */
public final class SockmapMaps implements AutoCloseable {
    /** A socket in the map: its key (its own 4-tuple) and its cookie. */
    public record Socket(SockKey key, long cookie) {
    }

    private final TypedMap<SockKey, Long> sockets;
    private final TypedMap<Integer, List<Counters>> counters;
    private final List<BpfMap> owned = new ArrayList<>();

    /** Over maps someone else owns (a loaded object's). */
    public SockmapMaps(BpfMap sockets, BpfMap counters) {
        this.sockets = sockets.typed(SockKey.CODEC, Codecs.u64());
        this.counters = counters.typedPerCpu(Codecs.u32(), Counters.CODEC);
    }

    /** The maps pinned in a node's map directory, or null when the bypass never ran there. */
    public static SockmapMaps openPinned(Path mapDir) {
        Path s = mapDir.resolve(SockmapStructs.MAP_SOCKETS);
        Path c = mapDir.resolve(SockmapStructs.MAP_COUNTERS);
        if (!Files.exists(s) || !Files.exists(c)) {
            return null;
        }
        BpfMap sm = BpfMap.openPinned(s);
        BpfMap cm = BpfMap.openPinned(c);
        SockmapMaps maps = new SockmapMaps(sm, cm);
        maps.owned.add(sm);
        maps.owned.add(cm);
        return maps;
    }

    /** The sockets in the map now, read from the kernel (a socket closed meanwhile is left out). */
    public List<Socket> list() {
        List<Socket> out = new ArrayList<>();
        sockets.forEach((k, cookie) -> out.add(new Socket(k, cookie)));
        return out;
    }

    /** How many sockets are in the map now (keys only: one syscall per socket, no lookups). */
    public int count() {
        return sockets.keys().size();
    }

    /** The cookie of the socket under {@code key}, if it is in the map. */
    public Optional<Long> cookie(SockKey key) {
        return sockets.lookup(key);
    }

    /** Takes a socket out of the map: its next messages, and its peer's, take the stack. */
    public boolean remove(SockKey key) {
        return sockets.delete(key);
    }

    public Counters counters() {
        return counters.lookup(0).map(Counters::sum).orElse(Counters.ZERO);
    }

    @Override
    public void close() {
        owned.forEach(BpfMap::close);
    }
}
