package dev.sluice.policy;

import java.util.List;
import java.util.Objects;

/** One condition of a label selector: a {@code matchLabels} entry is {@code In} with one value. */
public record Requirement(LabelKey key, Operator operator, List<String> values) {
    public enum Operator {
        IN("In"), NOT_IN("NotIn"), EXISTS("Exists"), DOES_NOT_EXIST("DoesNotExist");

        private final String text;

        Operator(String text) {
            this.text = text;
        }

        public String text() {
            return text;
        }
    }

    public Requirement {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(operator, "operator");
        values = List.copyOf(values);
        boolean needsValues = operator == Operator.IN || operator == Operator.NOT_IN;
        if (needsValues == values.isEmpty()) {
            throw new IllegalArgumentException(operator.text + (needsValues ? " needs values" : " takes no values"));
        }
    }

    public static Requirement equal(LabelKey key, String value) {
        return new Requirement(key, Operator.IN, List.of(value));
    }

    public static Requirement exists(LabelKey key) {
        return new Requirement(key, Operator.EXISTS, List.of());
    }

    /** Kubernetes' semantics: NotIn and DoesNotExist hold for labels that are absent. */
    public boolean matches(Labels labels) {
        // A loop rather than labels.values(key): this runs for every rule at every decision of the evaluator.
        boolean present = false;
        boolean in = false;
        for (Label l : labels.labels()) {
            if (key.matches(l)) {
                present = true;
                in |= values.contains(l.value());
            }
        }
        return switch (operator) {
            case IN -> in;
            case NOT_IN -> !in;
            case EXISTS -> present;
            case DOES_NOT_EXIST -> !present;
        };
    }

    @Override
    public String toString() {
        return switch (operator) {
            case IN -> values.size() == 1 ? key + "=" + values.getFirst() : key + " in " + values;
            case NOT_IN -> key + " notin " + values;
            case EXISTS -> key.toString();
            case DOES_NOT_EXIST -> "!" + key;
        };
    }
}
