package dev.sluice.libbpf;

import dev.sluice.linux.Errno;
import dev.sluice.linux.NetNsRef;

import java.lang.foreign.MemorySegment;

/**
 * A loaded program of a {@link BpfObject}, and the ways to attach it. Interface indexes are those of the
 * calling thread's network namespace (run the attach inside {@code NetNs.call} for a pod's device).
 */
public final class BpfProgram {
    private final BpfObject object;
    private final String name;
    private final MemorySegment handle;

    BpfProgram(BpfObject object, String name, MemorySegment handle) {
        this.object = object;
        this.name = name;
        this.handle = handle;
    }

    public String name() {
        return name;
    }

    public int fd() {
        try {
            return (int) LibBpf.PROGRAM_FD.invokeExact(handle);
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    public ProgramType type() {
        try {
            return ProgramType.of((int) LibBpf.PROGRAM_TYPE.invokeExact(handle));
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    /** The attach type the section name implies, e.g. cgroup/connect4 gives CGROUP_INET4_CONNECT. */
    public AttachType expectedAttachType() {
        try {
            return AttachType.of((int) LibBpf.PROGRAM_EXPECTED_ATTACH_TYPE.invokeExact(handle));
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    public String sectionName() {
        try {
            return BpfObject.cString((MemorySegment) LibBpf.PROGRAM_SECTION_NAME.invokeExact(handle));
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    /** Attaches to a device's ingress or egress with tcx where the kernel has it (6.6+), else with clsact. */
    public BpfLink attachTc(int ifindex, TcDirection direction) {
        return BpfSystem.tcxSupported() ? attachTcx(ifindex, direction) : attachTcLegacy(ifindex, direction);
    }

    /** A tcx link (BPF_TCX_INGRESS / BPF_TCX_EGRESS through bpf_link_create), appended to the device's chain. */
    public BpfLink attachTcx(int ifindex, TcDirection direction) {
        return attachTcx(ifindex, direction, TcxPosition.LAST);
    }

    /**
     * A tcx link at the head or the tail of the device's chain. Programs that return TC_ACT_UNSPEC hand
     * the packet to the next one, so the order is the order in which they see it.
     */
    public BpfLink attachTcx(int ifindex, TcDirection direction, TcxPosition position) {
        requireType(ProgramType.SCHED_CLS, "tcx");
        return FdLink.create(this, ifindex, direction.tcx, position.flags,
                "tcx " + direction.name().toLowerCase() + " (" + position.name().toLowerCase() + ") on ifindex " + ifindex);
    }

    /** A cls_bpf filter on the device's clsact qdisc (created when missing), for kernels before 6.6. */
    public BpfLink attachTcLegacy(int ifindex, TcDirection direction) {
        requireType(ProgramType.SCHED_CLS, "tc");
        return LegacyTcLink.attach(this, ifindex, direction);
    }

    /** Attaches a cgroup program (connect4, sendmsg4, sock_ops, ...) to the cgroup open as {@code cgroupFd}. */
    public BpfLink attachCgroup(int cgroupFd) {
        AttachType type = expectedAttachType();
        if (!type.cgroup()) {
            throw new IllegalArgumentException("program '" + name + "' (section " + sectionName() + ") is not a cgroup program");
        }
        return FdLink.create(this, cgroupFd, type, 0, type.name().toLowerCase() + " on cgroup fd " + cgroupFd);
    }

    public BpfLink attachXdp(int ifindex, XdpMode mode) {
        requireType(ProgramType.XDP, "xdp");
        return FdLink.create(this, ifindex, AttachType.XDP, mode.flags, "xdp (" + mode.name().toLowerCase() + ") on ifindex " + ifindex);
    }

    /**
     * Attaches an sk_msg program to a SOCKHASH/SOCKMAP: as a link on kernels that have sockmap links
     * (6.10+), else with BPF_PROG_ATTACH (then detached on close).
     */
    public BpfLink attachSkMsg(BpfMap sockMap) {
        requireType(ProgramType.SK_MSG, "sk_msg");
        String what = "sk_msg verdict on map '" + sockMap.name() + "'";
        try {
            return FdLink.create(this, sockMap.fd(), AttachType.SK_MSG_VERDICT, 0, what);
        } catch (BpfException e) {
            if (e.errno() != Errno.EINVAL && e.errno() != Errno.EOPNOTSUPP) {
                throw e;
            }
            return ProgAttachLink.attach(this, sockMap, AttachType.SK_MSG_VERDICT, what);
        }
    }

    private void requireType(ProgramType expected, String hook) {
        ProgramType actual = type();
        if (actual != expected) {
            throw new IllegalArgumentException("program '" + name + "' is " + actual + "; a " + hook + " hook needs " + expected);
        }
    }

    NetNsRef currentNetNs() {
        return NetNsRef.ofCurrentThread();
    }

    @Override
    public String toString() {
        return "program '" + name + "' (" + sectionName() + ") of " + object.name();
    }
}
