package dev.sluice.datapath.abi;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * ct4_lb_entry.flags (lb_lib.h's CT4_F_*): REPLY marks the reply direction's entry of a translated flow,
 * HAIRPIN a pod reaching itself through a Service (see lb_lib.h).
 */
public enum LbCtFlag implements AbiConstant {
    REPLY(0x1, "Reply"),
    HAIRPIN(0x2, "Hairpin");

    private static final Lookup<LbCtFlag> LOOKUP = Lookup.of(values());

    private final int value;
    private final String displayName;

    LbCtFlag(int value, String displayName) {
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
    public static Optional<LbCtFlag> of(int value) {
        return LOOKUP.find(value);
    }

    /** Whether this flag is set in {@code flags}. */
    public boolean isSetIn(int flags) {
        return (flags & value) != 0;
    }

    /** The flags set in {@code flags}, in the order of their bits (bits this enum does not know are left out). */
    public static List<LbCtFlag> decode(int flags) {
        List<LbCtFlag> out = new ArrayList<>();
        for (LbCtFlag f : values()) {
            if (f.isSetIn(flags)) {
                out.add(f);
            }
        }
        return out;
    }

    /** The flags' bits together. */
    public static int mask(LbCtFlag... flags) {
        int mask = 0;
        for (LbCtFlag f : flags) {
            mask |= f.value;
        }
        return mask;
    }
}
