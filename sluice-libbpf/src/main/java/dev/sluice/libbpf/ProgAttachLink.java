package dev.sluice.libbpf;

import java.nio.file.Path;

/** An attachment made with BPF_PROG_ATTACH (sk_msg on kernels without sockmap links); it ends on close. */
public final class ProgAttachLink implements BpfLink {
    private final int programFd;
    private final BpfMap target;
    private final AttachType type;
    private final String description;
    private boolean detached;

    private ProgAttachLink(int programFd, BpfMap target, AttachType type, String description) {
        this.programFd = programFd;
        this.target = target;
        this.type = type;
        this.description = description;
    }

    static ProgAttachLink attach(BpfProgram program, BpfMap target, AttachType type, String description) {
        try (Call call = new Call()) {
            int rc = (int) LibBpf.PROG_ATTACH.invokeExact(call.state, program.fd(), target.fd(), type.value(), 0);
            if (rc != 0) {
                throw BpfException.of("attach " + program.name() + " as " + description, call.errno());
            }
            return new ProgAttachLink(program.fd(), target, type, program.name() + ": " + description + " (prog_attach)");
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
        throw new UnsupportedOperationException(description + ": attachments made with BPF_PROG_ATTACH cannot be pinned; pin the map instead");
    }

    @Override
    public void detach() {
        if (detached) {
            return;
        }
        detached = true;
        try (Call call = new Call()) {
            int rc = (int) LibBpf.PROG_DETACH2.invokeExact(call.state, programFd, target.fd(), type.value());
            if (rc != 0) {
                throw BpfException.of("detach " + description, call.errno());
            }
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    @Override
    public void close() {
        detach();
    }

    @Override
    public String toString() {
        return description;
    }
}
