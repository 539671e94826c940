package dev.sluice.libbpf;

import java.util.Arrays;

/** BPF attach types (enum bpf_attach_type in linux/bpf.h) that Sluice uses. */
public enum AttachType {
    CGROUP_INET_INGRESS(0), CGROUP_INET_EGRESS(1), CGROUP_INET_SOCK_CREATE(2), CGROUP_SOCK_OPS(3),
    SK_MSG_VERDICT(7), CGROUP_INET4_BIND(8), CGROUP_INET4_CONNECT(10), CGROUP_INET6_CONNECT(11),
    CGROUP_UDP4_SENDMSG(14), CGROUP_UDP6_SENDMSG(15), CGROUP_UDP4_RECVMSG(19), CGROUP_UDP6_RECVMSG(20),
    CGROUP_INET4_GETPEERNAME(29), CGROUP_INET6_GETPEERNAME(30), CGROUP_INET_SOCK_RELEASE(34), XDP(37),
    TCX_INGRESS(46), TCX_EGRESS(47), UNKNOWN(-1);

    private final int value;

    AttachType(int value) {
        this.value = value;
    }

    public int value() {
        return value;
    }

    public static AttachType of(int value) {
        return Arrays.stream(values()).filter(t -> t.value == value).findFirst().orElse(UNKNOWN);
    }

    /** Hooks that attach to a cgroup (the program's expected attach type says which). */
    public boolean cgroup() {
        return switch (this) {
            case CGROUP_INET_INGRESS, CGROUP_INET_EGRESS, CGROUP_INET_SOCK_CREATE, CGROUP_SOCK_OPS, CGROUP_INET4_BIND,
                 CGROUP_INET4_CONNECT, CGROUP_INET6_CONNECT, CGROUP_UDP4_SENDMSG, CGROUP_UDP6_SENDMSG,
                 CGROUP_UDP4_RECVMSG, CGROUP_UDP6_RECVMSG, CGROUP_INET4_GETPEERNAME, CGROUP_INET6_GETPEERNAME,
                 CGROUP_INET_SOCK_RELEASE -> true;
            default -> false;
        };
    }
}
