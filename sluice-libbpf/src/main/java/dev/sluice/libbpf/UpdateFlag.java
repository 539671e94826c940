package dev.sluice.libbpf;

/** The flags of BPF_MAP_UPDATE_ELEM. */
public enum UpdateFlag {
    /** Create or replace. */
    ANY(0),
    /** Create only: fails with EEXIST if the key is there. */
    NOEXIST(1),
    /** Replace only: fails with ENOENT if the key is missing. */
    EXIST(2);

    final long value;

    UpdateFlag(long value) {
        this.value = value;
    }
}
