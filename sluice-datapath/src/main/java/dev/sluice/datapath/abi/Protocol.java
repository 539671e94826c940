package dev.sluice.datapath.abi;

import java.util.Optional;

/**
 * IP protocol numbers in the structs' {@code proto} fields (IPPROTO_* of linux/in.h, which the headers include),
 * named as {@code cilium bpf ct list} and {@code cilium service list} print them. 0 is not a protocol: in a policy
 * key it is the wildcard.
 */
public enum Protocol implements AbiConstant {
    ICMP(1, "ICMP"),
    TCP(6, "TCP"),
    UDP(17, "UDP"),
    SCTP(132, "SCTP");

    private static final Lookup<Protocol> LOOKUP = Lookup.of(values());

    private final int value;
    private final String displayName;

    Protocol(int value, String displayName) {
        this.value = value;
        this.displayName = displayName;
    }

    @Override
    public int value() {
        return value;
    }

    @Override
    public String displayName() {
        return displayName;
    }

    public static Optional<Protocol> of(int value) {
        return LOOKUP.find(value);
    }

    /** The constant, or null for a value the datapath does not define (for switches: {@code case null}). */
    public static Protocol orNull(int value) {
        return LOOKUP.orNull(value);
    }

    /** The protocol's name, or its number when it has none here. */
    public static String displayName(int value) {
        Protocol p = LOOKUP.orNull(value);
        return p != null ? p.displayName : Integer.toString(value);
    }
}
