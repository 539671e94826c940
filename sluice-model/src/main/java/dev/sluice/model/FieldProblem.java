package dev.sluice.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;

/**
 * A field that breaks a rule, raised by the checks of one object and turned into a {@link ManifestException}
 * by {@link ObjectParser}, which knows the file, the document and the object.
 */
final class FieldProblem extends RuntimeException {
    private final String field;

    /** @param field the dotted path within the object, or "" for the object as a whole */
    FieldProblem(String field, String problem) {
        super(problem, null, false, false);
        this.field = field;
    }

    String field() {
        return field;
    }

    /** A value as a message shows it after "got": strings quoted as in JSON, structures by their shape. */
    static String show(Object value) {
        return switch (value) {
            case null -> "nothing";
            case String s -> JsonNodeFactory.instance.textNode(s).toString();
            case JsonNode node when node.isMissingNode() || node.isNull() -> "nothing";
            case JsonNode node when node.isObject() -> "a mapping";
            case JsonNode node when node.isArray() -> "a list";
            case JsonNode node -> node.isTextual() ? node.toString() : node.asText();
            default -> value.toString();
        };
    }
}
