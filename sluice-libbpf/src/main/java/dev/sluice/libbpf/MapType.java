package dev.sluice.libbpf;

import java.util.Arrays;

/** BPF map types (enum bpf_map_type in linux/bpf.h), with the batch and per-CPU traits the binding needs. */
public enum MapType {
    UNSPEC(0), HASH(1), ARRAY(2), PROG_ARRAY(3), PERF_EVENT_ARRAY(4), PERCPU_HASH(5), PERCPU_ARRAY(6),
    STACK_TRACE(7), CGROUP_ARRAY(8), LRU_HASH(9), LRU_PERCPU_HASH(10), LPM_TRIE(11), ARRAY_OF_MAPS(12),
    HASH_OF_MAPS(13), DEVMAP(14), SOCKMAP(15), CPUMAP(16), XSKMAP(17), SOCKHASH(18), CGROUP_STORAGE(19),
    REUSEPORT_SOCKARRAY(20), PERCPU_CGROUP_STORAGE(21), QUEUE(22), STACK(23), SK_STORAGE(24),
    DEVMAP_HASH(25), STRUCT_OPS(26), RINGBUF(27), INODE_STORAGE(28), TASK_STORAGE(29);

    private final int value;

    MapType(int value) {
        this.value = value;
    }

    public int value() {
        return value;
    }

    public static MapType of(int value) {
        return Arrays.stream(values()).filter(t -> t.value == value).findFirst().orElse(UNSPEC);
    }

    /** Values are stored once per possible CPU, each slot rounded up to 8 bytes. */
    public boolean perCpu() {
        return this == PERCPU_HASH || this == PERCPU_ARRAY || this == LRU_PERCPU_HASH || this == PERCPU_CGROUP_STORAGE;
    }

    /**
     * The kernel implements BPF_MAP_UPDATE_BATCH for this type. For maps of maps this matters most: each
     * single update waits for an RCU grace period (milliseconds), a batch waits once.
     */
    public boolean batchUpdate() {
        return switch (this) {
            case HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH, ARRAY, PERCPU_ARRAY, HASH_OF_MAPS, ARRAY_OF_MAPS, LPM_TRIE -> true;
            default -> false;
        };
    }

    /** The kernel implements BPF_MAP_DELETE_BATCH for this type (arrays cannot delete). */
    public boolean batchDelete() {
        return switch (this) {
            case HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH, HASH_OF_MAPS -> true;
            default -> false;
        };
    }
}
