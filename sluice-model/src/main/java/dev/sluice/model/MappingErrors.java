package dev.sluice.model;

import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.Collection;
import java.util.List;

/**
 * Jackson's complaints while reading a tree into fabric8's types ("Cannot coerce String value ...") rewritten as
 * the rule the field breaks, at the field's path: {@code spec.replicas: must be an integer >= 0, got "three"}.
 */
final class MappingErrors {
    private MappingErrors() {
    }

    static FieldProblem problem(JsonMappingException e, JsonNode tree) {
        List<JsonMappingException.Reference> path = e.getPath();
        Class<?> target = switch (e) {
            case MismatchedInputException m -> m.getTargetType();
            case ValueInstantiationException v -> v.getType().getRawClass();
            default -> null;
        };
        String last = path.isEmpty() ? "" : String.valueOf(path.getLast().getFieldName());
        String got = FieldProblem.show(at(tree, path));
        String problem = target == null
                ? "cannot be read (" + e.getOriginalMessage().replaceAll("\\.$", "") + "), got " + got
                : "must be " + expected(last, target) + ", got " + got;
        return new FieldProblem(dotted(path), problem);
    }

    /** {@code spec.template.spec.containers[0].ports[0].containerPort} */
    private static String dotted(List<JsonMappingException.Reference> path) {
        StringBuilder dotted = new StringBuilder();
        for (JsonMappingException.Reference step : path) {
            if (step.getFieldName() != null) {
                dotted.append(dotted.isEmpty() ? "" : ".").append(step.getFieldName());
            } else if (step.getIndex() >= 0) {
                dotted.append('[').append(step.getIndex()).append(']');
            }
        }
        return dotted.toString();
    }

    private static JsonNode at(JsonNode tree, List<JsonMappingException.Reference> path) {
        JsonNode node = tree;
        for (JsonMappingException.Reference step : path) {
            node = step.getFieldName() != null ? node.path(step.getFieldName()) : node.path(step.getIndex());
        }
        return node;
    }

    private static String expected(String field, Class<?> type) {
        boolean portField = switch (field) {
            case "containerPort", "hostPort", "port", "nodePort", "targetPort" -> true;
            default -> false;
        };
        if (field.equals("replicas")) {
            return "an integer >= 0";
        }
        if (type == IntOrString.class) {
            return portField ? "a port number 1..65535 or a port name" : "a number or a string";
        }
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
            return portField ? "a port number 1..65535" : "an integer";
        }
        if (type == String.class) {
            return "a string";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        if (type == Quantity.class) {
            return "a quantity such as 500m or 1Gi";
        }
        if (Number.class.isAssignableFrom(type)) {
            return "a number";
        }
        if (Collection.class.isAssignableFrom(type) || type.isArray()) {
            return "a list";
        }
        return "a mapping";
    }
}
