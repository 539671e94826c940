package dev.sluice.testing;

import dev.sluice.linux.Libc;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The gate for tests that need root (bpf(2), namespaces, cgroups). Without privileges such a test is
 * skipped with the reason; under CI=true it fails instead, so that CI never passes by skipping.
 */
public final class Privileged {
    private Privileged() {
    }

    public static void require() {
        String reason = missing();
        if (reason == null) {
            return;
        }
        if ("true".equals(System.getenv("CI"))) {
            Assertions.fail("CI=true but this privileged test cannot run: " + reason);
        }
        Assumptions.abort("skipped: " + reason + " (run the tests as root, e.g. with sudo, to run it)");
    }

    /** Why privileged tests cannot run here, or null if they can. */
    public static String missing() {
        if (!isRoot()) {
            return "not running as root";
        }
        return bpfSyscallProblem();
    }

    /**
     * Makes (and closes) a one-entry array map with the raw bpf(2) call, so that this gate needs nothing
     * of Sluice's libbpf binding (whose own tests use it). Returns why it failed, or null.
     */
    private static String bpfSyscallProblem() {
        long sysBpf = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> 321;
            case "aarch64" -> 280;
            default -> -1;
        };
        if (sysBpf < 0) {
            return "no bpf(2) syscall number known for " + System.getProperty("os.arch");
        }
        Linker linker = Linker.nativeLinker();
        MethodHandle syscall = linker.downcallHandle(linker.defaultLookup().find("syscall").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                        ValueLayout.JAVA_INT), Linker.Option.firstVariadicArg(1), Libc.errnoOption());
        try (Arena arena = Arena.ofConfined()) {
            // union bpf_attr for BPF_MAP_CREATE (0): map_type, key_size, value_size, max_entries (u32 each).
            MemorySegment attr = arena.allocate(128);
            attr.set(ValueLayout.JAVA_INT, 0, 2); // BPF_MAP_TYPE_ARRAY
            attr.set(ValueLayout.JAVA_INT, 4, 4);
            attr.set(ValueLayout.JAVA_INT, 8, 4);
            attr.set(ValueLayout.JAVA_INT, 12, 1);
            MemorySegment state = Libc.callState(arena);
            long fd = (long) syscall.invokeExact(state, sysBpf, 0, attr, (int) attr.byteSize());
            if (fd < 0) {
                return "bpf(2) is not usable: " + Libc.strerror(Libc.errno(state));
            }
            Libc.close((int) fd);
            return null;
        } catch (Throwable t) {
            return "bpf(2) could not be called: " + t;
        }
    }

    private static boolean isRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:"))
                    .anyMatch(l -> l.split("\\s+")[2].equals("0"));
        } catch (IOException e) {
            return false;
        }
    }
}
