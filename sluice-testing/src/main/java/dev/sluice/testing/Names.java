package dev.sluice.testing;

import java.util.concurrent.atomic.AtomicInteger;

/** Names for things tests create (namespaces, links, cgroups, pins), unique per run and per use. */
public final class Names {
    private static final String RUN = Long.toString(ProcessHandle.current().pid(), 36)
            + Long.toString(System.nanoTime() & 0xfffff, 36);
    private static final AtomicInteger SEQ = new AtomicInteger();

    private Names() {
    }

    /** E.g. "st-k3x9a1-4": short enough for an interface name (15 characters). */
    public static String unique(String prefix) {
        String name = prefix + "-" + RUN + "-" + SEQ.incrementAndGet();
        return name.length() <= 15 ? name : name.substring(name.length() - 15);
    }
}
