package dev.sluice.bench.lb;

import java.util.concurrent.atomic.AtomicInteger;

/** Names for what the benchmark creates (namespaces, veths, cgroups, pins), unique per run and use. */
public final class Names {
    /** The pid and a clock sample in base 36, e.g. "k3x9a1". */
    public static final String RUN = Long.toString(ProcessHandle.current().pid(), 36)
            + Long.toString(System.nanoTime() & 0xffff, 36);
    private static final AtomicInteger SEQ = new AtomicInteger();

    private Names() {
    }

    /** E.g. "lbk3x9a1-4": at most 15 characters, so it also fits an interface name. */
    public static String unique(String prefix) {
        String name = prefix + RUN + "-" + SEQ.incrementAndGet();
        return name.length() <= 15 ? name : name.substring(name.length() - 15);
    }
}
