package dev.sluice.libbpf;

/** Where a tcx program goes in its device's chain (BPF_F_BEFORE / BPF_F_AFTER without a relative program). */
public enum TcxPosition {
    /** The head: it sees packets before every program already attached. */
    FIRST(1 << 3),
    /** The tail: it sees packets after them. */
    LAST(1 << 4);

    final int flags;

    TcxPosition(int flags) {
        this.flags = flags;
    }
}
