package dev.sluice.model;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/** The documents of one YAML file (or of one JSON file holding one or more values), as JSON trees. */
final class YamlDocuments {
    private static final ObjectMapper YAML = new YAMLMapper();
    private static final ObjectMapper JSON = new JsonMapper();

    private YamlDocuments() {
    }

    /**
     * One document.
     *
     * @param index 1-based, counting empty documents so that the number matches what the user sees
     * @param tree null for an empty or comment-only document
     * @param duplicateKeys keys written twice in one mapping, of which the last value was kept
     */
    record Document(int index, JsonNode tree, List<DuplicateKey> duplicateKeys) {
    }

    /**
     * A key written twice in one mapping. Kubernetes' YAML decoding keeps the last value, and some manifests in
     * use rely on that (the seed article's CiliumEnvoyConfig has two {@code type} keys where one was
     * {@code @type}), so this is reported rather than refused.
     *
     * @param path the dotted path of the key, e.g. {@code spec.resources[1].type}
     * @param line the line of the second occurrence
     */
    record DuplicateKey(String path, int line) {
    }

    /** Text that is not valid YAML or JSON. */
    static final class SyntaxException extends Exception {
        private final int document;

        SyntaxException(int document, String message) {
            super(message);
            this.document = document;
        }

        /** The document the error is in (1-based). */
        int document() {
            return document;
        }
    }

    static List<Document> read(Path file) throws IOException, SyntaxException {
        ObjectMapper mapper = file.getFileName().toString().endsWith(".json") ? JSON : YAML;
        List<Document> documents = new ArrayList<>();
        try (JsonParser parser = mapper.createParser(Files.newInputStream(file))) {
            while (true) {
                int index = documents.size() + 1;
                try {
                    if (parser.nextToken() == null) {
                        return documents;
                    }
                    List<DuplicateKey> duplicates = new ArrayList<>();
                    JsonNode tree = new TreeBuilder(parser, mapper, duplicates).value("");
                    documents.add(new Document(index, tree.isNull() ? null : tree, List.copyOf(duplicates)));
                } catch (JsonProcessingException e) {
                    throw new SyntaxException(index, describe(e, mapper == JSON ? "JSON" : "YAML"));
                }
            }
        }
    }

    /** Builds the tree as Jackson would, noting the keys Jackson would silently overwrite. */
    private record TreeBuilder(JsonParser parser, ObjectMapper mapper, List<DuplicateKey> duplicates) {
        /** The value at the parser's current token, which is at {@code path}. */
        JsonNode value(String path) throws IOException {
            return switch (parser.currentToken()) {
                case START_OBJECT -> {
                    ObjectNode object = JsonNodeFactory.instance.objectNode();
                    while (parser.nextToken() == JsonToken.FIELD_NAME) {
                        String key = parser.currentName();
                        String at = path.isEmpty() ? key : path + "." + key;
                        int line = parser.currentTokenLocation().getLineNr();
                        parser.nextToken();
                        if (object.replace(key, value(at)) != null) {
                            duplicates.add(new DuplicateKey(at, line));
                        }
                    }
                    yield object;
                }
                case START_ARRAY -> {
                    ArrayNode array = JsonNodeFactory.instance.arrayNode();
                    while (parser.nextToken() != JsonToken.END_ARRAY) {
                        array.add(value(path + "[" + array.size() + "]"));
                    }
                    yield array;
                }
                default -> mapper.readTree(parser);
            };
        }
    }

    /** The parser's complaint with its line and column; SnakeYAML's own marks are the more precise. */
    private static String describe(JsonProcessingException e, String format) {
        if (e.getCause() instanceof MarkedYAMLException yaml && yaml.getProblemMark() != null) {
            String context = yaml.getContext() == null || yaml.getContextMark() == null ? ""
                    : " (" + yaml.getContext() + " at " + at(yaml.getContextMark()) + ")";
            return "invalid YAML at " + at(yaml.getProblemMark()) + ": " + yaml.getProblem() + context;
        }
        JsonLocation location = e.getLocation();
        return location == null || location.getLineNr() < 1
                ? "invalid " + format + ": " + e.getOriginalMessage()
                : "invalid " + format + " at line " + location.getLineNr() + ", column " + location.getColumnNr() + ": "
                        + e.getOriginalMessage();
    }

    private static String at(Mark mark) {
        return "line " + (mark.getLine() + 1) + ", column " + (mark.getColumn() + 1);
    }
}
