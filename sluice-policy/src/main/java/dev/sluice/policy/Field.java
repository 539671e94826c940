package dev.sluice.policy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A value of a policy document and its path, so that whatever is wrong with it is reported at its field. A field
 * written as {@code null} counts as absent, as in Kubernetes.
 */
record Field(String path, JsonNode node) {
    static Field root(JsonNode node) {
        return new Field("", node);
    }

    boolean present() {
        return !node.isMissingNode() && !node.isNull();
    }

    Field get(String name) {
        return new Field(path.isEmpty() ? name : path + "." + name, node.path(name));
    }

    FieldError error(String problem) {
        return new FieldError(path, problem);
    }

    Field requireMapping() {
        if (!node.isObject()) {
            throw error("must be a mapping, got " + show(node));
        }
        return this;
    }

    Field require() {
        if (!present()) {
            throw error("is required");
        }
        return this;
    }

    /** The items of a list, none when absent. */
    List<Field> items() {
        if (!present()) {
            return List.of();
        }
        if (!node.isArray()) {
            throw error("must be a list, got " + show(node));
        }
        List<Field> items = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            items.add(new Field(path + "[" + i + "]", node.get(i)));
        }
        return items;
    }

    /** The entries of a mapping, none when absent. */
    List<Map.Entry<String, Field>> entries() {
        if (!present()) {
            return List.of();
        }
        requireMapping();
        List<Map.Entry<String, Field>> entries = new ArrayList<>();
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            entries.add(Map.entry(name, get(name)));
        }
        return entries;
    }

    String text() {
        if (!node.isTextual()) {
            throw error("must be a string, got " + show(node));
        }
        return node.asText();
    }

    int integer() {
        if (!node.isIntegralNumber() || !node.canConvertToInt()) {
            throw error("must be an integer, got " + show(node));
        }
        return node.asInt();
    }

    boolean bool() {
        if (!node.isBoolean()) {
            throw error("must be true or false, got " + show(node));
        }
        return node.asBoolean();
    }

    /**
     * Refuses any field of this mapping not in {@code known}: a misspelt field would otherwise be dropped and the
     * policy enforced without it, which for a policy means allowing or denying what the user did not write.
     *
     * @param unsupported fields Cilium or Kubernetes define that Sluice does not enforce yet, with why or what to
     *                    do instead
     */
    Field allowOnly(Set<String> known, Map<String, String> unsupported) {
        requireMapping();
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (known.contains(name)) {
                continue;
            }
            if (unsupported.containsKey(name)) {
                throw get(name).error("is not supported by Sluice yet: " + unsupported.get(name));
            }
            String suggestion = known.stream().sorted().filter(k -> distance(k, name) <= 2).findFirst()
                    .map(k -> "; did you mean " + k + "?").orElse("");
            throw get(name).error("is not a known field here (known: " + String.join(", ", known.stream().sorted().toList())
                    + ")" + suggestion);
        }
        return this;
    }

    /** A value as a message shows it after "got": strings quoted as in JSON, structures by their shape. */
    static String show(JsonNode node) {
        if (node.isMissingNode() || node.isNull()) {
            return "nothing";
        }
        if (node.isObject()) {
            return "a mapping";
        }
        if (node.isArray()) {
            return "a list";
        }
        return node.isTextual() ? node.toString() : node.asText();
    }

    static String show(String text) {
        return JsonNodeFactory.instance.textNode(text).toString();
    }

    /** Edit distance, for suggesting the field a typo meant. */
    private static int distance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            int[] current = new int[b.length() + 1];
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j] + 1, current[j - 1] + 1));
            }
            previous = current;
        }
        return previous[b.length()];
    }
}
