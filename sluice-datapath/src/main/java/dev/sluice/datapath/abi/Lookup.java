package dev.sluice.datapath.abi;

import java.util.Optional;

/** Constant-time decoding of a wire value into its constant; unknown values give nothing, never an exception. */
final class Lookup<E extends Enum<E> & AbiConstant> {
    private final Object[] byValue;

    private Lookup(Object[] byValue) {
        this.byValue = byValue;
    }

    static <E extends Enum<E> & AbiConstant> Lookup<E> of(E[] constants) {
        int max = 0;
        for (E e : constants) {
            if (e.value() < 0 || e.value() > 0xffff) {
                throw new IllegalArgumentException(e + ": value " + e.value() + " outside 0..65535");
            }
            max = Math.max(max, e.value());
        }
        Object[] table = new Object[max + 1];
        for (E e : constants) {
            if (table[e.value()] != null) {
                throw new IllegalArgumentException(e + " and " + table[e.value()] + " share value " + e.value());
            }
            table[e.value()] = e;
        }
        return new Lookup<>(table);
    }

    @SuppressWarnings("unchecked")
    E orNull(int value) {
        return value >= 0 && value < byValue.length ? (E) byValue[value] : null;
    }

    Optional<E> find(int value) {
        return Optional.ofNullable(orNull(value));
    }
}
