package dev.sluice.libbpf;

/** Where an XDP program runs: in the driver (veth, most NICs) or in the generic SKB path. */
public enum XdpMode {
    /** Let the kernel choose: the driver when it supports XDP, else generic. */
    AUTO(0),
    GENERIC(1 << 1),
    DRIVER(1 << 2);

    final int flags;

    XdpMode(int flags) {
        this.flags = flags;
    }
}
