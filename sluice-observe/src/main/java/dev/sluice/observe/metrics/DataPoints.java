package dev.sluice.observe.metrics;

import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The data points of one labelled metric, keyed by a record of the flow fields they derive from. The library
 * keeps its own map, but reaching it means a varargs array, a list and a label check on every call; on the
 * flow path a hit here is one lookup with hash codes the key's fields have already cached.
 */
final class DataPoints<K, D> {
    private final ConcurrentHashMap<K, D> points = new ConcurrentHashMap<>();
    private final Function<K, D> create;

    DataPoints(Function<K, D> create) {
        this.create = create;
    }

    D get(K key) {
        D point = points.get(key);
        return point != null ? point : points.computeIfAbsent(key, create);
    }
}
