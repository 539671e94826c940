package dev.sluice.libbpf;

import dev.sluice.linux.Errno;
import dev.sluice.linux.Libc;

import java.lang.foreign.MemorySegment;

/** Facts about this kernel and libbpf, probed rather than assumed (for {@code sluice doctor} and fallbacks). */
public final class BpfSystem {
    private static volatile int possibleCpus;
    private static volatile Boolean tcx;

    private BpfSystem() {
    }

    /** libbpf's version, e.g. "1.1"; throws if libbpf.so.1 is missing. */
    public static String libbpfVersion() {
        LibBpf.ensureLoaded();
        return LibBpf.version();
    }

    /** The number of possible CPUs, which sizes per-CPU map values. */
    public static int possibleCpus() {
        int n = possibleCpus;
        if (n == 0) {
            try {
                n = (int) LibBpf.NUM_POSSIBLE_CPUS.invokeExact();
            } catch (Throwable t) {
                throw Call.unexpected(t);
            }
            if (n <= 0) {
                throw BpfException.of("read the number of possible CPUs", -n);
            }
            possibleCpus = n;
        }
        return n;
    }

    /**
     * Checks that this process may use bpf(2) by creating (and closing) a one-entry array map. Throws a
     * {@link BpfException} saying what is missing otherwise.
     */
    public static void checkBpfSyscall() {
        BpfMap probe = BpfMap.create(MapType.ARRAY, "sluice_probe", 4, 4, 1, 0);
        probe.close();
    }

    /**
     * Whether the kernel has tcx (6.6+): a tcx link to interface index 0 fails with ENODEV where tcx
     * exists and with EINVAL where the attach type is unknown, so nothing is ever attached.
     */
    public static boolean tcxSupported() {
        Boolean known = tcx;
        if (known != null) {
            return known;
        }
        int prog = loadPassThroughClassifier();
        try (Call call = new Call()) {
            int fd = (int) LibBpf.LINK_CREATE.invokeExact(call.state, prog, 0, AttachType.TCX_INGRESS.value(), MemorySegment.NULL);
            if (fd >= 0) {
                Libc.close(fd);
                tcx = true;
            } else {
                tcx = call.errno() == Errno.ENODEV;
            }
            LibBpf.clearMessages();
            return tcx;
        } catch (Throwable t) {
            throw Call.unexpected(t);
        } finally {
            Libc.close(prog);
        }
    }

    // r0 = TC_ACT_UNSPEC (-1); exit. Two instructions, so that probing needs no compiled object.
    private static int loadPassThroughClassifier() {
        try (Call call = new Call()) {
            MemorySegment insns = call.arena.allocate(16);
            insns.set(Codecs.U8, 0, (byte) 0xb7);          // BPF_ALU64 | BPF_MOV | BPF_K, dst r0
            insns.set(Codecs.U32, 4, -1);                  // imm
            insns.set(Codecs.U8, 8, (byte) 0x95);          // BPF_JMP | BPF_EXIT
            int fd = (int) LibBpf.PROG_LOAD.invokeExact(call.state, ProgramType.SCHED_CLS.value(),
                    call.string("sluice_probe"), call.string("GPL"), insns, 2L, MemorySegment.NULL);
            if (fd < 0) {
                throw BpfException.of("load a probe program", call.errno());
            }
            return fd;
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }
}
