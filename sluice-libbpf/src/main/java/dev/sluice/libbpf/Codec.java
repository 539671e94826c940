package dev.sluice.libbpf;

import java.lang.foreign.MemorySegment;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * Converts between a Java value and the bytes of a C struct in a BPF map key or value.
 *
 * <p>Each map struct is defined once in a C header and mirrored by one Java record with one codec;
 * {@link BpfMap#typed} checks the codec's size against the map's, so a drifted layout fails at start-up
 * instead of corrupting the map.
 */
public interface Codec<T> {
    /** The struct's size in bytes, padding included, as {@code sizeof} gives it in C. */
    long size();

    /** Writes {@code value} into {@code to}, which is {@link #size()} bytes long and zeroed. */
    void encode(T value, MemorySegment to);

    /** Reads a value from {@code from}, which is {@link #size()} bytes long. */
    T decode(MemorySegment from);

    /** A codec for a struct of {@code layout} (its size; tests check the layout against the objects' BTF). */
    static <T> Codec<T> of(StructLayout layout, Function<MemorySegment, T> decoder, BiConsumer<T, MemorySegment> encoder) {
        return of(layout.size(), decoder, encoder);
    }

    static <T> Codec<T> of(long size, Function<MemorySegment, T> decoder, BiConsumer<T, MemorySegment> encoder) {
        return new Codec<>() {
            @Override
            public long size() {
                return size;
            }

            @Override
            public void encode(T value, MemorySegment to) {
                encoder.accept(value, to);
            }

            @Override
            public T decode(MemorySegment from) {
                return decoder.apply(from);
            }
        };
    }
}
