package dev.sluice.policy;

import java.util.Collection;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A set of labels, kept sorted so that equal sets are equal records and print the same way everywhere (the
 * identity allocator keys on them).
 */
public record Labels(List<Label> labels) {
    public static final Labels NONE = new Labels(List.of());

    public Labels {
        labels = labels.stream().distinct().sorted().toList();
    }

    public static Labels of(Collection<Label> labels) {
        return new Labels(List.copyOf(labels));
    }

    public static Labels of(Label... labels) {
        return new Labels(List.of(labels));
    }

    public boolean contains(Label label) {
        return labels.contains(label);
    }

    /** The values of the labels with {@code key}, from any source when {@code key}'s source is {@code any}. */
    public List<String> values(LabelKey key) {
        return labels.stream().filter(key::matches).map(Label::value).toList();
    }

    public boolean isEmpty() {
        return labels.isEmpty();
    }

    @Override
    public String toString() {
        return labels.stream().map(Label::toString).collect(Collectors.joining(",", "[", "]"));
    }
}
