package dev.sluice.observe.hubble;

import dev.sluice.hubble.flow.DropReason;

import java.util.Locale;
import java.util.Map;

/**
 * A drop reason as a user writes it: Hubble's enum name ({@code POLICY_DENIED}, what {@code hubble observe
 * --drop-reason-desc} takes), the text Sluice prints ({@code "Policy denied"}), or the code; Hubble's filter
 * carries the code.
 */
public final class DropReasonNames {
    private DropReasonNames() {}

    /** The texts Sluice's datapath prints (dev.sluice.datapath.abi.DropReason), which are Cilium's. */
    private static final Map<String, Integer> TEXTS = Map.of(
            "invalid source mac", 130, "invalid source ip", 132, "policy denied", 133, "invalid packet", 134,
            "unsupported l3 protocol", 139, "service backend not found", 158,
            "first logical datagram fragment not found", 175, "policy denied by denylist", 181,
            "prefilter: blocked cidr", 240);

    /** @throws IllegalArgumentException when the value names no drop reason */
    public static int code(String value) {
        String v = value.trim();
        Integer text = TEXTS.get(v.toLowerCase(Locale.ROOT));
        if (text != null) {
            return text;
        }
        try {
            DropReason named = DropReason.valueOf(v.toUpperCase(Locale.ROOT));
            if (named != DropReason.UNRECOGNIZED) {
                return named.getNumber();
            }
        } catch (IllegalArgumentException e) {
            // not an enum name; perhaps a number
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a drop reason: \"" + value
                    + "\" (a text such as \"Policy denied\", Hubble's name such as POLICY_DENIED, or a code)");
        }
    }
}
