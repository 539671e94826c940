package dev.sluice.libbpf;

import dev.sluice.linux.Errno;

import java.util.List;

/**
 * A failed BPF operation. The message names the operation and object, the errno, and what the user can
 * do about it; {@link #libbpfLog()} holds what libbpf itself logged for the failing call.
 */
public class BpfException extends RuntimeException {
    private final int errno;
    private final List<String> libbpfLog;

    public BpfException(String message, int errno) {
        this(message, errno, List.of());
    }

    BpfException(String message, int errno, List<String> libbpfLog) {
        super(message);
        this.errno = errno;
        this.libbpfLog = List.copyOf(libbpfLog);
    }

    /** Builds the exception for a failed call: {@code what} names the operation, e.g. "update map 'backends'". */
    static BpfException of(String what, int errno) {
        StringBuilder message = new StringBuilder(what).append(" failed: ").append(Errno.describe(errno));
        String hint = hint(what, errno);
        if (hint != null) {
            message.append(". ").append(hint);
        }
        List<String> log = LibBpf.takeMessages();
        if (!log.isEmpty()) {
            // libbpf starts its own lines with "libbpf: ".
            for (String line : log.subList(Math.max(0, log.size() - 6), log.size())) {
                message.append('\n').append(line.startsWith("libbpf: ") ? line : "libbpf: " + line);
            }
        }
        return new BpfException(message.toString(), errno, log);
    }

    public int errno() {
        return errno;
    }

    public List<String> libbpfLog() {
        return libbpfLog;
    }

    private static String hint(String what, int errno) {
        return switch (errno) {
            case Errno.EPERM, Errno.EACCES -> what.startsWith("pin") || what.startsWith("open pinned")
                    ? "Pinning needs root and a bpffs mount (sluice mounts /sys/fs/bpf when it can)"
                    : "This needs CAP_BPF and CAP_NET_ADMIN (CAP_SYS_ADMIN on older kernels): run it as root";
            case Errno.ENOENT -> what.startsWith("pin") || what.startsWith("open pinned")
                    ? "No such path: is bpffs mounted there and the object pinned?"
                    : what.contains("lookup") || what.contains("delete") ? "No such key" : null;
            case Errno.E2BIG, Errno.ENOSPC -> what.contains("update") ? "The map is full: raise its max_entries" : null;
            case Errno.EEXIST -> what.contains("update") ? "The key exists and BPF_NOEXIST was asked for"
                    : what.startsWith("pin") ? "Something is already pinned at that path" : null;
            case Errno.ENODEV -> "No such network interface in this network namespace";
            case Errno.EBUSY -> what.contains("attach") ? "Another program holds this hook exclusively" : null;
            case Errno.EINVAL -> what.contains("attach") || what.contains("link")
                    ? "The kernel refused this attach type for this program or target (too old a kernel?)" : null;
            case Errno.ENOTSUPP, Errno.EOPNOTSUPP -> "The kernel does not support this operation";
            default -> null;
        };
    }
}
