package dev.sluice.datapath.abi;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * ct4_entry.flags (policy.h's CT_F_*), named as {@code cilium bpf ct list} prints them.
 */
public enum CtFlag implements AbiConstant {
    RX_CLOSING(0x1, "RxClosing"),
    TX_CLOSING(0x2, "TxClosing"),
    SEEN_NON_SYN(0x10, "SeenNonSyn"),
    /** Sluice's: established while its endpoint was at its ct4_quota limit, so kept in ct4_policy_new. */
    OVER_QUOTA(0x20, "OverQuota"),
    /** Sluice's: re-checked after a policy change and denied; its forward packets are dropped until a policy allows it. */
    POLICY_DENIED(0x40, "PolicyDenied");

    private static final Lookup<CtFlag> LOOKUP = Lookup.of(values());

    private final int value;
    private final String displayName;

    CtFlag(int value, String displayName) {
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

    /** The flag with this bit; empty for a value the datapath does not define. */
    public static Optional<CtFlag> of(int value) {
        return LOOKUP.find(value);
    }

    /** Whether this flag is set in {@code flags}. */
    public boolean isSetIn(int flags) {
        return (flags & value) != 0;
    }

    /** The flags set in {@code flags}, in the order of their bits (bits this enum does not know are left out). */
    public static List<CtFlag> decode(int flags) {
        List<CtFlag> out = new ArrayList<>();
        for (CtFlag f : values()) {
            if (f.isSetIn(flags)) {
                out.add(f);
            }
        }
        return out;
    }

    /** The flags' bits together. */
    public static int mask(CtFlag... flags) {
        int mask = 0;
        for (CtFlag f : flags) {
            mask |= f.value;
        }
        return mask;
    }
}
