package dev.sluice.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** The few libc functions Sluice calls directly. Every call that can fail reports errno. */
public final class Libc {
    public static final int O_RDONLY = 0;
    public static final int O_CLOEXEC = 0x80000;
    public static final int O_DIRECTORY = 0x10000;
    public static final int CLONE_NEWNET = 0x40000000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(
            java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final MethodHandle OPEN = errnoCall("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle CLOSE = errnoCall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle RMDIR = errnoCall("rmdir", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SETNS = errnoCall("setns", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle MOUNT = errnoCall("mount",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle MMAP = errnoCall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = errnoCall("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle STRERROR = LINKER.downcallHandle(
            LIBC.find("strerror").orElseThrow(), FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle IF_NAMETOINDEX = LINKER.downcallHandle(
            LIBC.find("if_nametoindex").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle GETTID = LINKER.downcallHandle(
            LIBC.find("gettid").orElseThrow(), FunctionDescriptor.of(JAVA_INT));

    private Libc() {
    }

    private static MethodHandle errnoCall(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(), descriptor, CAPTURE_ERRNO);
    }

    /** A buffer for one call's captured errno; pass it first to a handle made with {@link #errnoOption()}. */
    public static MemorySegment callState(Arena arena) {
        return arena.allocate(CALL_STATE);
    }

    public static int errno(MemorySegment callState) {
        return (int) ERRNO.get(callState, 0L);
    }

    /** The linker option that records errno after a call, for other FFM bindings (libbpf). */
    public static Linker.Option errnoOption() {
        return CAPTURE_ERRNO;
    }

    public static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return text.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return null;
        }
    }

    public static int gettid() {
        try {
            return (int) GETTID.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * The index of a network interface in the calling thread's network namespace, or 0 if there is none.
     * (/sys/class/net shows the namespace that mounted sysfs, not the caller's.)
     */
    public static int ifNameToIndex(String name) {
        try (Arena arena = Arena.ofConfined()) {
            return (int) IF_NAMETOINDEX.invokeExact(arena.allocateFrom(name));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** open(2) with O_CLOEXEC; returns the file descriptor. */
    public static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = callState(arena);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path), flags | O_CLOEXEC);
            if (fd < 0) {
                throw failure("open " + path, errno(state));
            }
            return fd;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            int rc = (int) CLOSE.invokeExact(callState(arena), fd);
            if (rc < 0) {
                // close(2) failing leaves nothing to retry; the descriptor is gone either way.
                return;
            }
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static final int PROT_READ = 0x1;
    private static final int PROT_WRITE = 0x2;
    private static final int MAP_SHARED = 0x01;

    /**
     * mmap(2) of {@code length} bytes of {@code fd} from offset 0, shared and writable: what the file (e.g. a
     * BPF array map made with BPF_F_MMAPABLE) holds, as memory. Unmap it with {@link #munmap}.
     */
    public static MemorySegment mmapShared(int fd, long length) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = callState(arena);
            MemorySegment address = (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, length, PROT_READ | PROT_WRITE,
                    MAP_SHARED, fd, 0L);
            if (address.address() == -1L) {
                throw failure("mmap", errno(state));
            }
            return address.reinterpret(length);
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** munmap(2) of a segment {@link #mmapShared} returned; the segment must not be used afterwards. */
    public static void munmap(MemorySegment mapped) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = callState(arena);
            int rc = (int) MUNMAP.invokeExact(state, mapped, mapped.byteSize());
            if (rc < 0) {
                throw failure("munmap", errno(state));
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** rmdir(2); returns 0, or the errno it failed with (EBUSY for a cgroup that still counts a task). */
    public static int rmdir(String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = callState(arena);
            int rc = (int) RMDIR.invokeExact(state, arena.allocateFrom(path));
            return rc < 0 ? errno(state) : 0;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** setns(2): moves the calling OS thread into the namespace behind {@code fd}. */
    public static void setns(int fd, int nstype) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = callState(arena);
            int rc = (int) SETNS.invokeExact(state, fd, nstype);
            if (rc < 0) {
                throw failure("setns", errno(state));
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** mount(2) with no data argument. */
    public static void mount(String source, String target, String fsType, long flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = callState(arena);
            int rc = (int) MOUNT.invokeExact(state, arena.allocateFrom(source), arena.allocateFrom(target),
                    arena.allocateFrom(fsType), flags, MemorySegment.NULL);
            if (rc < 0) {
                throw failure("mount " + fsType + " on " + target, errno(state));
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static LinuxException failure(String what, int errno) {
        return new LinuxException(what + ": " + Errno.describe(errno), errno);
    }
}
