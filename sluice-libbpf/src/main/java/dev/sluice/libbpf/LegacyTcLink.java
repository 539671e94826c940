package dev.sluice.libbpf;

import dev.sluice.linux.Errno;
import dev.sluice.linux.NetNsRef;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A cls_bpf filter in direct-action mode on a device's clsact qdisc: how TC programs attach before tcx
 * (kernels older than 6.6). It is not a file descriptor but netlink state of the device's network
 * namespace, so the namespace is remembered and detaching happens there.
 */
public final class LegacyTcLink implements BpfLink {
    private final String description;
    private final int ifindex;
    private final TcDirection direction;
    private final int handle;
    private final int priority;
    private final NetNsRef netns;
    private boolean detached;

    private LegacyTcLink(String description, int ifindex, TcDirection direction, int handle, int priority, NetNsRef netns) {
        this.description = description;
        this.ifindex = ifindex;
        this.direction = direction;
        this.handle = handle;
        this.priority = priority;
        this.netns = netns;
    }

    static LegacyTcLink attach(BpfProgram program, int ifindex, TcDirection direction) {
        String what = "tc (clsact) " + direction.name().toLowerCase() + " on ifindex " + ifindex;
        try (Call call = new Call()) {
            MemorySegment hook = hook(call, ifindex, direction);
            int rc = (int) LibBpf.TC_HOOK_CREATE.invokeExact(call.state, hook);
            if (rc != 0 && -rc != Errno.EEXIST) {
                throw BpfException.of("create clsact qdisc for " + what, -rc);
            }
            MemorySegment opts = call.arena.allocate(32); // struct bpf_tc_opts
            opts.set(Codecs.U64, 0, 32L);
            opts.set(Codecs.U32, 8, program.fd());
            rc = (int) LibBpf.TC_ATTACH.invokeExact(call.state, hook, opts);
            if (rc != 0) {
                throw BpfException.of("attach " + program.name() + " as " + what, -rc);
            }
            // libbpf wrote back the handle and priority the kernel chose; they identify the filter.
            return new LegacyTcLink(program.name() + ": " + what, ifindex, direction,
                    opts.get(Codecs.U32, 20), opts.get(Codecs.U32, 24), program.currentNetNs());
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    private static MemorySegment hook(Call call, int ifindex, TcDirection direction) {
        MemorySegment hook = call.arena.allocate(24); // struct bpf_tc_hook { sz; ifindex; attach_point; parent; }
        hook.set(Codecs.U64, 0, 24L);
        hook.set(Codecs.U32, 8, ifindex);
        hook.set(Codecs.U32, 12, direction.legacyAttachPoint);
        return hook;
    }

    @Override
    public String description() {
        return description;
    }

    /** Legacy TC filters already outlive the process (they are qdisc state), so there is nothing to pin. */
    @Override
    public void pin(Path path) {
        throw new UnsupportedOperationException(description + ": legacy TC filters persist without pinning; use tcx to pin a link");
    }

    @Override
    public void detach() {
        if (detached) {
            return;
        }
        detached = true;
        try {
            netns.call(() -> {
                try (Call call = new Call()) {
                    MemorySegment opts = call.arena.allocate(32);
                    opts.set(Codecs.U64, 0, 32L);
                    opts.set(Codecs.U32, 20, handle);
                    opts.set(Codecs.U32, 24, priority);
                    int rc = (int) LibBpf.TC_DETACH.invokeExact(call.state, hook(call, ifindex, direction), opts);
                    // ENOENT/ENODEV: the device or its qdisc went away first, taking the filter with it.
                    if (rc != 0 && -rc != Errno.ENOENT && -rc != Errno.ENODEV && -rc != Errno.EINVAL) {
                        throw BpfException.of("detach " + description, -rc);
                    }
                    return null;
                } catch (Throwable t) {
                    throw Call.unexpected(t);
                }
            });
        } finally {
            netns.close();
        }
    }

    /** Detaches: unlike a link, the filter would otherwise stay after the process ends. */
    @Override
    public void close() {
        detach();
    }

    @Override
    public String toString() {
        return description;
    }
}
