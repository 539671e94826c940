package dev.sluice.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A Helm-style values file as its dotted keys ({@code hubble.relay.enabled}), each read with the type it must
 * have. It remembers which keys were read, so that every other key can be reported rather than silently ignored.
 */
final class ValuesFile {
    private final Path file;
    /** Each scalar or list the file sets, by dotted key, in file order. */
    private final Map<String, JsonNode> leaves = new LinkedHashMap<>();
    private final Set<String> read = new HashSet<>();
    private final List<String> warnings = new ArrayList<>();

    private ValuesFile(Path file, JsonNode root) {
        this.file = file;
        if (root != null) {
            flatten("", root);
        }
    }

    static ValuesFile load(Path file) {
        List<YamlDocuments.Document> documents;
        try {
            documents = YamlDocuments.read(file);
        } catch (IOException e) {
            throw new ValuesException(file, null, "cannot be read: " + e.getMessage());
        } catch (YamlDocuments.SyntaxException e) {
            throw new ValuesException(file, null, e.getMessage());
        }
        if (documents.size() > 1) {
            throw new ValuesException(file, null, "has " + documents.size() + " YAML documents; a values file is one mapping");
        }
        JsonNode root = documents.isEmpty() ? null : documents.getFirst().tree();
        if (root != null && !root.isObject()) {
            throw new ValuesException(file, null, "must be a mapping of keys to values, got " + FieldProblem.show(root));
        }
        ValuesFile values = new ValuesFile(file, root);
        documents.stream().flatMap(d -> d.duplicateKeys().stream()).forEach(duplicate -> values.warnings.add(
                file + ": key " + duplicate.path() + " is written twice (again at line " + duplicate.line() + "); the last value is used"));
        return values;
    }

    /** Mappings are walked into; an empty one sets nothing. */
    private void flatten(String prefix, JsonNode node) {
        node.properties().forEach(entry -> {
            String key = prefix + entry.getKey();
            if (entry.getValue().isObject()) {
                flatten(key + ".", entry.getValue());
            } else {
                leaves.put(key, entry.getValue());
            }
        });
    }

    Path file() {
        return file;
    }

    /** Whether the file sets {@code key} or anything under it. */
    boolean sets(String key) {
        return leaves.keySet().stream().anyMatch(k -> k.equals(key) || k.startsWith(key + "."));
    }

    boolean bool(String key, boolean fallback) {
        return value(key).map(v -> {
            if (!v.isBoolean()) {
                throw error(key, "must be true or false, got " + FieldProblem.show(v));
            }
            return v.booleanValue();
        }).orElse(fallback);
    }

    int integer(String key, int fallback) {
        return value(key).map(v -> {
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw error(key, "must be an integer, got " + FieldProblem.show(v));
            }
            return v.intValue();
        }).orElse(fallback);
    }

    String string(String key, String fallback) {
        return value(key).map(v -> {
            if (!v.isTextual()) {
                throw error(key, "must be a string, got " + FieldProblem.show(v));
            }
            return v.asText();
        }).orElse(fallback);
    }

    List<String> strings(String key) {
        return value(key).map(v -> {
            List<String> strings = new ArrayList<>();
            if (!v.isArray()) {
                throw error(key, "must be a list of strings, got " + FieldProblem.show(v));
            }
            for (int i = 0; i < v.size(); i++) {
                if (!v.get(i).isTextual()) {
                    throw error(key + "[" + i + "]", "must be a string, got " + FieldProblem.show(v.get(i)));
                }
                strings.add(v.get(i).asText());
            }
            return strings;
        }).orElse(List.of());
    }

    /** The keys under {@code prefix} (the key itself included), taken as read: their caller reports them. */
    List<String> take(String prefix) {
        List<String> taken = leaves.keySet().stream().filter(k -> k.equals(prefix) || k.startsWith(prefix + ".")).toList();
        read.addAll(taken);
        return taken;
    }

    /** What the file itself gives cause to warn about (a key written twice), then each key nobody read. */
    List<String> warnings() {
        List<String> all = new ArrayList<>(warnings);
        leaves.keySet().stream().filter(k -> !read.contains(k)).forEach(k -> all.add(file + ": unknown key '" + k + "' is ignored"));
        return all;
    }

    ValuesException error(String key, String problem) {
        return new ValuesException(file, key, problem);
    }

    /** The key's value, of any type, empty when unset or null (Helm's way of unsetting a default). */
    Optional<JsonNode> value(String key) {
        // "hubble: true" where hubble.enabled is looked for: the mapping was written as a scalar.
        for (int dot = key.indexOf('.'); dot > 0; dot = key.indexOf('.', dot + 1)) {
            String parent = key.substring(0, dot);
            JsonNode scalar = leaves.get(parent);
            if (scalar != null && !scalar.isNull()) {
                throw error(parent, "must be a mapping (with " + key.substring(dot + 1) + "), got " + FieldProblem.show(scalar));
            }
            if (scalar != null) {
                read.add(parent);
            }
        }
        read.add(key);
        JsonNode value = leaves.get(key);
        return value == null || value.isNull() ? Optional.empty() : Optional.of(value);
    }
}
