package dev.sluice.datapath.abi;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * endpoint_info.flags (policy.h's ENDPOINT_F_*). FAIL_CLOSED: the endpoint's policy did not fit the map and
 * everything new is dropped; {@code sluice policy endpoints} prints it in the enforcement columns.
 */
public enum EndpointFlag implements AbiConstant {
    FAIL_CLOSED(0x1, "Fail closed");

    private static final Lookup<EndpointFlag> LOOKUP = Lookup.of(values());

    private final int value;
    private final String displayName;

    EndpointFlag(int value, String displayName) {
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
    public static Optional<EndpointFlag> of(int value) {
        return LOOKUP.find(value);
    }

    /** Whether this flag is set in {@code flags}. */
    public boolean isSetIn(int flags) {
        return (flags & value) != 0;
    }

    /** The flags set in {@code flags}, in the order of their bits (bits this enum does not know are left out). */
    public static List<EndpointFlag> decode(int flags) {
        List<EndpointFlag> out = new ArrayList<>();
        for (EndpointFlag f : values()) {
            if (f.isSetIn(flags)) {
                out.add(f);
            }
        }
        return out;
    }

    /** The flags' bits together. */
    public static int mask(EndpointFlag... flags) {
        int mask = 0;
        for (EndpointFlag f : flags) {
            mask |= f.value;
        }
        return mask;
    }
}
