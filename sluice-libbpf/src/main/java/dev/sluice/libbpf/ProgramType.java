package dev.sluice.libbpf;

import java.util.Arrays;

/** BPF program types (enum bpf_prog_type in linux/bpf.h) that Sluice uses or reports. */
public enum ProgramType {
    UNSPEC(0), SOCKET_FILTER(1), KPROBE(2), SCHED_CLS(3), SCHED_ACT(4), TRACEPOINT(5), XDP(6), PERF_EVENT(7),
    CGROUP_SKB(8), CGROUP_SOCK(9), LWT_IN(10), LWT_OUT(11), LWT_XMIT(12), SOCK_OPS(13), SK_SKB(14),
    CGROUP_DEVICE(15), SK_MSG(16), RAW_TRACEPOINT(17), CGROUP_SOCK_ADDR(18);

    private final int value;

    ProgramType(int value) {
        this.value = value;
    }

    public int value() {
        return value;
    }

    public static ProgramType of(int value) {
        return Arrays.stream(values()).filter(t -> t.value == value).findFirst().orElse(UNSPEC);
    }
}
