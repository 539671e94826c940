package dev.sluice.l7.route;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * A route's condition on one query parameter (Envoy's QueryParameterMatcher): its first value, percent-decoded,
 * matches {@code value}, or, with {@code value} null, the parameter is present.
 */
public record QueryMatch(String name, StringMatch value) {
    public QueryMatch {
        Objects.requireNonNull(name, "name");
    }

    /** @param path {@code :path} with its query */
    public boolean matches(String path) {
        String actual = first(path, name);
        return value == null ? actual != null : value.matches(actual);
    }

    /** The first value of parameter {@code name} in {@code path}'s query ("" for {@code ?a} or {@code ?a=}), or null. */
    static String first(String path, String name) {
        if (path == null) {
            return null;
        }
        int q = path.indexOf('?');
        if (q < 0) {
            return null;
        }
        int end = path.indexOf('#', q);
        String query = path.substring(q + 1, end < 0 ? path.length() : end);
        for (String pair : query.split("&")) {
            int eq = pair.indexOf('=');
            String key = decode(eq < 0 ? pair : pair.substring(0, eq));
            if (key.equals(name)) {
                return eq < 0 ? "" : decode(pair.substring(eq + 1));
            }
        }
        return null;
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return s; // a malformed escape is compared as sent
        }
    }
}
