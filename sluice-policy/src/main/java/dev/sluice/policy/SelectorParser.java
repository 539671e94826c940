package dev.sluice.policy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;

/** Reads a label selector ({@code matchLabels}, {@code matchExpressions}) written as Kubernetes defines it. */
final class SelectorParser {
    /** Kubernetes' label value format, which Cilium's CRD enforces on selector values as well. */
    private static final Pattern LABEL_VALUE = Pattern.compile("(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?");
    private static final Pattern NAME = Pattern.compile("([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]");
    private static final Pattern DNS1123_SUBDOMAIN =
            Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

    private SelectorParser() {
    }

    /**
     * @param keyOf how a key as written becomes the key selected on: Cilium reads a source prefix ({@code k8s:app}),
     *              a NetworkPolicy's keys are Kubernetes labels, possibly under the namespace-labels prefix
     */
    static EndpointSelector parse(Field selector, Function<String, LabelKey> keyOf) {
        selector.allowOnly(Set.of("matchLabels", "matchExpressions"), Map.of());
        List<Requirement> requirements = new ArrayList<>();
        for (Map.Entry<String, Field> label : selector.get("matchLabels").entries()) {
            Field value = label.getValue();
            LabelKey key = key(value, label.getKey(), keyOf);
            requirements.add(Requirement.equal(key, labelValue(value)));
        }
        for (Field expression : selector.get("matchExpressions").items()) {
            expression.allowOnly(Set.of("key", "operator", "values"), Map.of());
            Field keyField = expression.get("key").require();
            LabelKey key = key(keyField, keyField.text(), keyOf);
            Field operatorField = expression.get("operator").require();
            Requirement.Operator operator = switch (operatorField.text()) {
                case "In" -> Requirement.Operator.IN;
                case "NotIn" -> Requirement.Operator.NOT_IN;
                case "Exists" -> Requirement.Operator.EXISTS;
                case "DoesNotExist" -> Requirement.Operator.DOES_NOT_EXIST;
                default -> throw operatorField.error("must be In, NotIn, Exists or DoesNotExist, got "
                        + Field.show(operatorField.node()));
            };
            Field valuesField = expression.get("values");
            List<String> values = new ArrayList<>();
            for (Field value : valuesField.items()) {
                values.add(labelValue(value));
            }
            boolean needsValues = operator == Requirement.Operator.IN || operator == Requirement.Operator.NOT_IN;
            if (needsValues && values.isEmpty()) {
                throw valuesField.error("must list at least one value for operator " + operator.text());
            }
            if (!needsValues && !values.isEmpty()) {
                throw valuesField.error("must be empty for operator " + operator.text());
            }
            requirements.add(new Requirement(key, operator, values));
        }
        return new EndpointSelector(requirements);
    }

    /**
     * A Kubernetes label key: an optional DNS subdomain prefix and '/', then a name of at most 63 characters.
     *
     * @throws IllegalArgumentException saying what is wrong
     */
    static void requireLabelKey(String key) {
        int slash = key.lastIndexOf('/');
        String prefix = slash < 0 ? null : key.substring(0, slash);
        String name = key.substring(slash + 1);
        boolean valid = name.length() <= 63 && NAME.matcher(name).matches()
                && (prefix == null || (prefix.length() <= 253 && DNS1123_SUBDOMAIN.matcher(prefix).matches()));
        if (!valid) {
            throw new IllegalArgumentException("is not a valid label key: a name of at most 63 letters, digits, '-', '_'"
                    + " and '.', optionally after a DNS subdomain and '/', got " + Field.show(key));
        }
    }

    private static LabelKey key(Field at, String written, Function<String, LabelKey> keyOf) {
        if (written.isEmpty()) {
            throw at.error("label keys must not be empty");
        }
        try {
            return keyOf.apply(written);
        } catch (IllegalArgumentException e) {
            throw at.error(e.getMessage());
        }
    }

    private static String labelValue(Field value) {
        if (value.node().isValueNode() && !value.node().isTextual() && !value.node().isNull()) {
            throw value.error("must be a string (quote it: \"" + value.node().asText() + "\"), got " + Field.show(value.node()));
        }
        // A value written as nothing decodes to "" in Kubernetes, as it does for the labels of objects.
        String text = value.node().isNull() ? "" : value.text();
        if (text.length() > 63 || !LABEL_VALUE.matcher(text).matches()) {
            throw value.error("is not a valid label value: at most 63 letters, digits, '-', '_' and '.', starting and"
                    + " ending with a letter or digit, got " + Field.show(text));
        }
        return text;
    }
}
