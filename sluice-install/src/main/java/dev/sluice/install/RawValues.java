package dev.sluice.install;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.sluice.model.ValuesException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The values file's leaves by dotted key, for the keys only the installer reads (image, operator, cluster...).
 * The agent's keys are read by {@link dev.sluice.model.SluiceValues}, which has already refused a file that is not
 * a YAML mapping, so this reading cannot meet one.
 */
final class RawValues {
    private final Path file;
    private final Map<String, JsonNode> leaves = new LinkedHashMap<>();

    private RawValues(Path file, JsonNode root) {
        this.file = file;
        if (root != null && root.isObject()) {
            flatten("", root);
        }
    }

    static RawValues read(Path file) {
        try {
            return new RawValues(file, new YAMLMapper().readTree(file.toFile()));
        } catch (IOException e) {
            throw new ValuesException(file, null, "cannot be read: " + e.getMessage());
        }
    }

    private void flatten(String prefix, JsonNode node) {
        node.properties().forEach(e -> {
            if (e.getValue().isObject() && !e.getValue().isEmpty()) {
                flatten(prefix + e.getKey() + ".", e.getValue());
            } else {
                leaves.put(prefix + e.getKey(), e.getValue());
            }
        });
    }

    /** Every key the file sets, in file order (a list is one key). */
    Map<String, JsonNode> leaves() {
        return leaves;
    }

    Path file() {
        return file;
    }

    Optional<JsonNode> value(String key) {
        JsonNode v = leaves.get(key);
        return v == null || v.isNull() ? Optional.empty() : Optional.of(v);
    }

    String string(String key, String fallback) {
        return value(key).map(v -> {
            if (!v.isTextual() && !v.isNumber()) {
                throw new ValuesException(file, key, "must be a string, got " + v);
            }
            return v.asText();
        }).orElse(fallback);
    }

    int integer(String key, int fallback, int min, int max) {
        return value(key).map(v -> {
            if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < min || v.intValue() > max) {
                throw new ValuesException(file, key, "must be an integer from " + min + " to " + max + ", got " + v);
            }
            return v.intValue();
        }).orElse(fallback);
    }

    boolean bool(String key, boolean fallback) {
        return value(key).map(v -> {
            if (!v.isBoolean()) {
                throw new ValuesException(file, key, "must be true or false, got " + v);
            }
            return v.booleanValue();
        }).orElse(fallback);
    }
}
