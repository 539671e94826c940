package dev.sluice.l7.route;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a route changes in the request headers before it is forwarded (Envoy's {@code request_headers_to_add} and
 * {@code request_headers_to_remove}; Gateway API's RequestHeaderModifier): remove, then set (replace every value),
 * then add (append a value). Names are lower case; pseudo-headers cannot be touched.
 */
public record HeaderMutation(List<Map.Entry<String, String>> set, List<Map.Entry<String, String>> add, List<String> remove) {
    public static final HeaderMutation NONE = new HeaderMutation(List.of(), List.of(), List.of());

    public HeaderMutation {
        set = set.stream().map(e -> Map.entry(name(e.getKey()), e.getValue())).toList();
        add = add.stream().map(e -> Map.entry(name(e.getKey()), e.getValue())).toList();
        remove = remove.stream().map(HeaderMutation::name).toList();
    }

    private static String name(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        if (lower.isEmpty() || lower.startsWith(":") || lower.equals("host")) {
            throw new IllegalArgumentException("header \"" + name + "\" cannot be modified");
        }
        return lower;
    }

    public boolean isEmpty() {
        return set.isEmpty() && add.isEmpty() && remove.isEmpty();
    }
}
