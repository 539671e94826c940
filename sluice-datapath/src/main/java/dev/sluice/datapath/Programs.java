package dev.sluice.datapath;

import dev.sluice.libbpf.BpfObject;

import java.util.List;

/** The BPF objects compiled from bpf/ and packaged in this jar, opened from memory. */
public final class Programs {
    /** bpf/probe.bpf.c: one do-nothing program per hook type Sluice attaches, for `sluice doctor`. */
    public static final String PROBE = "probe";

    /** Every object this jar carries. */
    public static final List<String> BUNDLED = List.of(PROBE);

    private Programs() {
    }

    /** Opens a bundled object (not yet loaded), e.g. {@code Programs.open(Programs.PROBE)}. */
    public static BpfObject open(String name) {
        return BpfObject.openResource(Programs.class, "/bpf/" + name + ".bpf.o");
    }
}
