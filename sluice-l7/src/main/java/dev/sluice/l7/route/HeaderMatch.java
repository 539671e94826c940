package dev.sluice.l7.route;

import java.util.Locale;
import java.util.function.Function;

/**
 * A route's condition on one request header (names in lower case, pseudo-headers such as {@code :method} included).
 *
 * @param value null for a presence match
 */
public record HeaderMatch(String name, StringMatch value, boolean present, boolean invert) {
    public HeaderMatch {
        name = name.toLowerCase(Locale.ROOT);
        // With a value, presence is implied; one form per condition, so that equal conditions compare equal.
        present = value != null || present;
    }

    public boolean matches(Function<String, String> headers) {
        String actual = headers.apply(name);
        boolean result = value == null ? (actual != null) == present : value.matches(actual);
        return result != invert;
    }
}
