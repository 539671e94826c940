package dev.sluice.libbpf;

import dev.sluice.linux.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One native call's scratch memory and captured errno. Confined to the calling thread and freed on
 * close, so a call allocates nothing that outlives it.
 */
final class Call implements AutoCloseable {
    final Arena arena = Arena.ofConfined();
    final MemorySegment state = Libc.callState(arena);

    int errno() {
        return Libc.errno(state);
    }

    MemorySegment string(String s) {
        return arena.allocateFrom(s);
    }

    @Override
    public void close() {
        arena.close();
    }

    /** Rethrows anything a downcall threw; method handles declare Throwable although these never throw. */
    static RuntimeException unexpected(Throwable t) {
        if (t instanceof RuntimeException re) {
            return re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
