package dev.sluice.libbpf;

import java.nio.file.Path;

/**
 * A program attached to a hook. {@link #close()} releases this process's hold: the attachment ends
 * unless the link is pinned. {@link #detach()} ends it in any case and removes the pin.
 */
public sealed interface BpfLink extends AutoCloseable permits FdLink, LegacyTcLink, ProgAttachLink {
    /** What is attached where, e.g. "tcx ingress on ifindex 4". */
    String description();

    /** Pins the link on bpffs so that the attachment outlives this process. */
    void pin(Path path);

    /** Ends the attachment now, even if pinned, and removes the pin. */
    void detach();

    @Override
    void close();

    /** Re-opens a link pinned at {@code path} (e.g. by a previous agent). */
    static BpfLink openPinned(Path path) {
        return FdLink.openPinned(path);
    }
}
