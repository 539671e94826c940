package dev.sluice.datapath.abi;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * lb4_service.flags (lb.h's LB_SVC_F_*), named as Cilium prints a Service's flags.
 */
public enum ServiceFlag implements AbiConstant {
    AFFINITY(0x1, "sessionAffinity");

    private static final Lookup<ServiceFlag> LOOKUP = Lookup.of(values());

    private final int value;
    private final String displayName;

    ServiceFlag(int value, String displayName) {
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
    public static Optional<ServiceFlag> of(int value) {
        return LOOKUP.find(value);
    }

    /** Whether this flag is set in {@code flags}. */
    public boolean isSetIn(int flags) {
        return (flags & value) != 0;
    }

    /** The flags set in {@code flags}, in the order of their bits (bits this enum does not know are left out). */
    public static List<ServiceFlag> decode(int flags) {
        List<ServiceFlag> out = new ArrayList<>();
        for (ServiceFlag f : values()) {
            if (f.isSetIn(flags)) {
                out.add(f);
            }
        }
        return out;
    }

    /** The flags' bits together. */
    public static int mask(ServiceFlag... flags) {
        int mask = 0;
        for (ServiceFlag f : flags) {
            mask |= f.value;
        }
        return mask;
    }
}
