package dev.sluice.libbpf;

import dev.sluice.linux.Errno;
import dev.sluice.linux.Libc;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/** A BPF link: a file descriptor that holds an attachment (tcx, cgroup, XDP, sockmap). */
public final class FdLink implements BpfLink {
    private final int fd;
    private final String description;
    private Path pinnedAt;
    private boolean closed;

    private FdLink(int fd, String description, Path pinnedAt) {
        this.fd = fd;
        this.description = description;
        this.pinnedAt = pinnedAt;
    }

    static FdLink create(BpfProgram program, int target, AttachType type, int flags, String description) {
        try (Call call = new Call()) {
            // struct bpf_link_create_opts of libbpf 1.1 is 64 bytes; only sz and flags are set.
            MemorySegment opts = call.arena.allocate(64);
            opts.set(Codecs.U64, 0, 64L);
            opts.set(Codecs.U32, 8, flags);
            int fd = (int) LibBpf.LINK_CREATE.invokeExact(call.state, program.fd(), target, type.value(), opts);
            if (fd < 0) {
                throw BpfException.of("attach " + program.name() + " as " + description + " (link)", call.errno());
            }
            return new FdLink(fd, program.name() + ": " + description, null);
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    static FdLink openPinned(Path path) {
        int fd = BpfFs.openPinned(path);
        return new FdLink(fd, "link pinned at " + path, path);
    }

    public int fd() {
        return fd;
    }

    /** The kernel's id of the program this link runs (from bpf_link_info). */
    public int programId() {
        try (Call call = new Call()) {
            MemorySegment info = call.arena.allocate(64); // struct bpf_link_info { type; id; prog_id; ... }
            MemorySegment len = call.arena.allocate(4);
            len.set(Codecs.U32, 0, 64);
            int rc = (int) LibBpf.OBJ_GET_INFO_BY_FD.invokeExact(call.state, fd, info, len);
            if (rc != 0) {
                throw BpfException.of("read info of " + description, call.errno());
            }
            return info.get(Codecs.U32, 8);
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public void pin(Path path) {
        BpfFs.pin(fd, path, "link " + description);
        pinnedAt = path;
    }

    @Override
    public void detach() {
        if (closed) {
            return;
        }
        try (Call call = new Call()) {
            int rc = (int) LibBpf.LINK_DETACH.invokeExact(call.state, fd);
            // A link whose device or cgroup is already gone is detached already.
            if (rc != 0 && call.errno() != Errno.ENOLINK) {
                throw BpfException.of("detach " + description, call.errno());
            }
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
        if (pinnedAt != null) {
            BpfFs.unpin(pinnedAt);
            pinnedAt = null;
        }
        close();
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Libc.close(fd);
        }
    }

    @Override
    public String toString() {
        return description;
    }
}
