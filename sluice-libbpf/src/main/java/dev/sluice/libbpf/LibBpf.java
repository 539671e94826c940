package dev.sluice.libbpf;

import dev.sluice.linux.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Downcall handles into the system's libbpf.so.1, and libbpf's log routed into Java.
 *
 * <p>Calls that can fail are linked with errno capture: each such handle takes a call-state segment as
 * its first argument (see {@link Call}). libbpf 1.x returns {@code -errno} from int functions and NULL
 * with errno set from pointer functions; both are turned into {@link BpfException}s by the callers.
 */
final class LibBpf {
    private static final System.Logger LOG = System.getLogger("dev.sluice.libbpf");
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIB = load();

    // libbpf messages of the current thread, kept so that an exception can quote what libbpf said.
    private static final int KEPT_MESSAGES = 32;
    private static final ThreadLocal<Deque<String>> MESSAGES = ThreadLocal.withInitial(ArrayDeque::new);

    // --- object, programs, maps (libbpf.h)
    static final MethodHandle OBJECT_OPEN_MEM = errno("bpf_object__open_mem", ADDRESS, ADDRESS, JAVA_LONG, ADDRESS);
    static final MethodHandle OBJECT_LOAD = errno("bpf_object__load", JAVA_INT, ADDRESS);
    static final MethodHandle OBJECT_CLOSE = plain("bpf_object__close", null, ADDRESS);
    static final MethodHandle OBJECT_NEXT_PROGRAM = plain("bpf_object__next_program", ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle OBJECT_NEXT_MAP = plain("bpf_object__next_map", ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle PROGRAM_NAME = plain("bpf_program__name", ADDRESS, ADDRESS);
    static final MethodHandle PROGRAM_FD = plain("bpf_program__fd", JAVA_INT, ADDRESS);
    static final MethodHandle PROGRAM_TYPE = plain("bpf_program__type", JAVA_INT, ADDRESS);
    static final MethodHandle PROGRAM_EXPECTED_ATTACH_TYPE = plain("bpf_program__expected_attach_type", JAVA_INT, ADDRESS);
    static final MethodHandle PROGRAM_SECTION_NAME = plain("bpf_program__section_name", ADDRESS, ADDRESS);
    static final MethodHandle PROGRAM_SET_LOG_BUF = plain("bpf_program__set_log_buf", JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG);
    static final MethodHandle MAP_NAME = plain("bpf_map__name", ADDRESS, ADDRESS);
    static final MethodHandle MAP_FD = plain("bpf_map__fd", JAVA_INT, ADDRESS);
    static final MethodHandle MAP_TYPE = plain("bpf_map__type", JAVA_INT, ADDRESS);
    static final MethodHandle MAP_KEY_SIZE = plain("bpf_map__key_size", JAVA_INT, ADDRESS);
    static final MethodHandle MAP_VALUE_SIZE = plain("bpf_map__value_size", JAVA_INT, ADDRESS);
    static final MethodHandle MAP_MAX_ENTRIES = plain("bpf_map__max_entries", JAVA_INT, ADDRESS);
    static final MethodHandle MAP_MAP_FLAGS = plain("bpf_map__map_flags", JAVA_INT, ADDRESS);
    static final MethodHandle MAP_SET_MAX_ENTRIES = plain("bpf_map__set_max_entries", JAVA_INT, ADDRESS, JAVA_INT);
    static final MethodHandle MAP_SET_PIN_PATH = plain("bpf_map__set_pin_path", JAVA_INT, ADDRESS, ADDRESS);
    static final MethodHandle MAP_IS_INTERNAL = plain("bpf_map__is_internal", JAVA_INT, ADDRESS);
    static final MethodHandle OBJECT_BTF = plain("bpf_object__btf", ADDRESS, ADDRESS);
    static final MethodHandle BTF_FIND_BY_NAME_KIND = plain("btf__find_by_name_kind", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT);
    static final MethodHandle BTF_RESOLVE_SIZE = plain("btf__resolve_size", JAVA_LONG, ADDRESS, JAVA_INT);
    static final MethodHandle BTF_TYPE_BY_ID = plain("btf__type_by_id", ADDRESS, ADDRESS, JAVA_INT);
    static final MethodHandle BTF_NAME_BY_OFFSET = plain("btf__name_by_offset", ADDRESS, ADDRESS, JAVA_INT);
    static final MethodHandle NUM_POSSIBLE_CPUS = plain("libbpf_num_possible_cpus", JAVA_INT);
    static final MethodHandle MAJOR_VERSION = plain("libbpf_major_version", JAVA_INT);
    static final MethodHandle MINOR_VERSION = plain("libbpf_minor_version", JAVA_INT);
    static final MethodHandle SET_PRINT = plain("libbpf_set_print", ADDRESS, ADDRESS);

    // --- low-level syscall wrappers (bpf.h)
    static final MethodHandle MAP_CREATE = errno("bpf_map_create", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS);
    static final MethodHandle MAP_LOOKUP_ELEM = errno("bpf_map_lookup_elem", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
    static final MethodHandle MAP_UPDATE_ELEM = errno("bpf_map_update_elem", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG);
    static final MethodHandle MAP_DELETE_ELEM = errno("bpf_map_delete_elem", JAVA_INT, JAVA_INT, ADDRESS);
    static final MethodHandle MAP_GET_NEXT_KEY = errno("bpf_map_get_next_key", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
    static final MethodHandle MAP_UPDATE_BATCH = errno("bpf_map_update_batch", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle MAP_DELETE_BATCH = errno("bpf_map_delete_batch", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle OBJ_PIN = errno("bpf_obj_pin", JAVA_INT, JAVA_INT, ADDRESS);
    static final MethodHandle OBJ_GET = errno("bpf_obj_get", JAVA_INT, ADDRESS);
    static final MethodHandle OBJ_GET_INFO_BY_FD = errno("bpf_obj_get_info_by_fd", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
    static final MethodHandle PROG_LOAD = errno("bpf_prog_load", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS);
    static final MethodHandle LINK_CREATE = errno("bpf_link_create", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS);
    static final MethodHandle LINK_DETACH = errno("bpf_link_detach", JAVA_INT, JAVA_INT);
    static final MethodHandle PROG_ATTACH = errno("bpf_prog_attach", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
    static final MethodHandle PROG_DETACH2 = errno("bpf_prog_detach2", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
    static final MethodHandle PROG_TEST_RUN_OPTS = errno("bpf_prog_test_run_opts", JAVA_INT, JAVA_INT, ADDRESS);

    // --- legacy TC (clsact + cls_bpf through netlink), for kernels without tcx
    static final MethodHandle TC_HOOK_CREATE = errno("bpf_tc_hook_create", JAVA_INT, ADDRESS);
    static final MethodHandle TC_HOOK_DESTROY = errno("bpf_tc_hook_destroy", JAVA_INT, ADDRESS);
    static final MethodHandle TC_ATTACH = errno("bpf_tc_attach", JAVA_INT, ADDRESS, ADDRESS);
    static final MethodHandle TC_DETACH = errno("bpf_tc_detach", JAVA_INT, ADDRESS, ADDRESS);

    // --- ring buffer
    static final MethodHandle RING_BUFFER_NEW = errno("ring_buffer__new", ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle RING_BUFFER_POLL = errno("ring_buffer__poll", JAVA_INT, ADDRESS, JAVA_INT);
    static final MethodHandle RING_BUFFER_CONSUME = errno("ring_buffer__consume", JAVA_INT, ADDRESS);
    static final MethodHandle RING_BUFFER_FREE = plain("ring_buffer__free", null, ADDRESS);

    private static final MethodHandle VSNPRINTF = LINKER.downcallHandle(LINKER.defaultLookup().find("vsnprintf").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));

    static {
        installPrintHook();
    }

    private LibBpf() {
    }

    /** Forces the library to load, so that a missing libbpf is reported where the caller expects it. */
    static void ensureLoaded() {
    }

    /** libbpf's version, e.g. "1.1". */
    static String version() {
        try {
            return (int) MAJOR_VERSION.invokeExact() + "." + (int) MINOR_VERSION.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static SymbolLookup load() {
        try {
            return SymbolLookup.libraryLookup("libbpf.so.1", Arena.global());
        } catch (IllegalArgumentException e) {
            throw new BpfException("libbpf.so.1 is not installed: install Debian/Ubuntu package libbpf1 (1.1 or newer)", 0);
        }
    }

    private static MethodHandle plain(String name, java.lang.foreign.MemoryLayout result, java.lang.foreign.MemoryLayout... args) {
        FunctionDescriptor fd = result == null ? FunctionDescriptor.ofVoid(args) : FunctionDescriptor.of(result, args);
        return LINKER.downcallHandle(symbol(name), fd);
    }

    private static MethodHandle errno(String name, java.lang.foreign.MemoryLayout result, java.lang.foreign.MemoryLayout... args) {
        return LINKER.downcallHandle(symbol(name), FunctionDescriptor.of(result, args), Libc.errnoOption());
    }

    private static MemorySegment symbol(String name) {
        return LIB.find(name).orElseThrow(() -> new BpfException(
                "libbpf.so.1 has no symbol " + name + ": Sluice needs libbpf 1.1 or newer", 0));
    }

    /** The libbpf messages logged on this thread since the last call, oldest first; clears them. */
    static List<String> takeMessages() {
        Deque<String> messages = MESSAGES.get();
        List<String> out = new ArrayList<>(messages);
        messages.clear();
        return out;
    }

    static void clearMessages() {
        MESSAGES.get().clear();
    }

    private static void installPrintHook() {
        try {
            MethodHandle target = MethodHandles.lookup().findStatic(LibBpf.class, "print",
                    MethodType.methodType(int.class, int.class, MemorySegment.class, MemorySegment.class));
            MemorySegment stub = LINKER.upcallStub(target,
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), Arena.global());
            MemorySegment previous = (MemorySegment) SET_PRINT.invokeExact(stub);
            assert previous != null;
        } catch (Throwable t) {
            throw new ExceptionInInitializerError(t);
        }
    }

    // Called by libbpf for every log line: int (*)(enum libbpf_print_level, const char *fmt, va_list).
    // va_list arrives as a pointer on the ABIs Sluice runs on, so vsnprintf can format it.
    // An exception escaping an upcall would kill the JVM, hence the catch-all.
    private static int print(int level, MemorySegment format, MemorySegment args) {
        try {
            if (level > 1) {
                return 0; // LIBBPF_DEBUG: far too chatty for anything but libbpf development
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(4096);
                int n = (int) VSNPRINTF.invokeExact(buf, 4096L, format, args);
                if (n < 0) {
                    return 0;
                }
                String line = buf.getString(0).stripTrailing();
                Deque<String> messages = MESSAGES.get();
                if (messages.size() == KEPT_MESSAGES) {
                    messages.removeFirst();
                }
                messages.addLast(line);
                LOG.log(level == 0 ? System.Logger.Level.DEBUG : System.Logger.Level.TRACE, line);
            }
        } catch (Throwable ignored) {
            // never let a logging failure cross back into native code
        }
        return 0;
    }
}
