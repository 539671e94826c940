package dev.sluice.libbpf;

import dev.sluice.linux.Errno;
import dev.sluice.linux.NetNsRef;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * A loaded program of a {@link BpfObject}, and the ways to attach it. Interface indexes are those of the
 * calling thread's network namespace (run the attach inside {@code NetNs.call} for a pod's device).
 */
public final class BpfProgram {
    /** sizeof(struct bpf_test_run_opts) in libbpf 1.1's bpf.h on 64-bit ABIs. */
    private static final long TEST_RUN_OPTS_SIZE = 80;

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

    /**
     * Runs the program {@code repeat} times on a copy of {@code packet} in the kernel, without any device
     * or traffic (BPF_PROG_TEST_RUN through libbpf's {@code bpf_prog_test_run_opts}). For tc and XDP
     * programs {@code packet} is a whole frame from its Ethernet header on (at least 14 bytes); a tc
     * program sees it as an skb of the calling thread's network namespace's loopback device
     * ({@code skb->ifindex} 1), with {@code skb->protocol} taken from the frame's EtherType. Side effects
     * on maps (counters, ring-buffer records) happen once per run. The output packet is not returned.
     *
     * @throws BpfException with the errno when the kernel refuses the run (e.g. EINVAL for a frame too
     *                      short, ENOTSUPP for a program type without test runs, EPERM without CAP_BPF)
     */
    public TestRunResult testRun(byte[] packet, int repeat) {
        Objects.requireNonNull(packet, "packet");
        if (repeat < 1) {
            throw new IllegalArgumentException("repeat must be at least 1, got " + repeat);
        }
        try (Call call = new Call()) {
            MemorySegment data = call.arena.allocate(Math.max(1, packet.length));
            MemorySegment.copy(packet, 0, data, ValueLayout.JAVA_BYTE, 0, packet.length);
            // struct bpf_test_run_opts of libbpf 1.1 (bpf.h), 80 bytes on 64-bit: size_t sz @0,
            // data_in @8, data_out @16, data_size_in @24, data_size_out @28, ctx_in @32, ctx_out @40,
            // ctx_size_in @48, ctx_size_out @52, retval @56, repeat @60, duration @64, flags @68, cpu @72,
            // batch_size @76. Zeroed by allocate: no output buffers, no context, no flags.
            MemorySegment opts = call.arena.allocate(TEST_RUN_OPTS_SIZE, 8);
            opts.set(Codecs.U64, 0, TEST_RUN_OPTS_SIZE);
            opts.set(ValueLayout.ADDRESS_UNALIGNED, 8, data);
            opts.set(Codecs.U32, 24, packet.length);
            opts.set(Codecs.U32, 60, repeat);
            int rc = (int) LibBpf.PROG_TEST_RUN_OPTS.invokeExact(call.state, fd(), opts);
            if (rc < 0) {
                throw BpfException.of("test run of program '" + name + "'", call.errno() != 0 ? call.errno() : -rc);
            }
            return new TestRunResult(opts.get(Codecs.U32, 56), Integer.toUnsignedLong(opts.get(Codecs.U32, 64)), repeat);
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    /**
     * One run of the program on a copy of {@code packet}, as {@link #testRun} with {@code repeat} 1, that also
     * returns the packet as the program left it (a NAT's rewrite, a header it wrote). Room is given for the
     * packet to grow by {@code 512} bytes; a program that grows it further fails the run (ENOSPC).
     */
    public TestRunResult.WithPacket testRunOnce(byte[] packet) {
        Objects.requireNonNull(packet, "packet");
        try (Call call = new Call()) {
            MemorySegment data = call.arena.allocate(Math.max(1, packet.length));
            MemorySegment.copy(packet, 0, data, ValueLayout.JAVA_BYTE, 0, packet.length);
            int room = packet.length + 512;
            MemorySegment out = call.arena.allocate(room);
            MemorySegment opts = call.arena.allocate(TEST_RUN_OPTS_SIZE, 8);
            opts.set(Codecs.U64, 0, TEST_RUN_OPTS_SIZE);
            opts.set(ValueLayout.ADDRESS_UNALIGNED, 8, data);
            opts.set(ValueLayout.ADDRESS_UNALIGNED, 16, out);
            opts.set(Codecs.U32, 24, packet.length);
            opts.set(Codecs.U32, 28, room);
            opts.set(Codecs.U32, 60, 1);
            int rc = (int) LibBpf.PROG_TEST_RUN_OPTS.invokeExact(call.state, fd(), opts);
            if (rc < 0) {
                throw BpfException.of("test run of program '" + name + "'", call.errno() != 0 ? call.errno() : -rc);
            }
            int size = Math.min(room, opts.get(Codecs.U32, 28));
            byte[] result = out.asSlice(0, size).toArray(ValueLayout.JAVA_BYTE);
            return new TestRunResult.WithPacket(opts.get(Codecs.U32, 56), result);
        } catch (Throwable t) {
            throw Call.unexpected(t);
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
