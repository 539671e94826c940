package dev.sluice.model;

import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * A manifest Sluice cannot accept, naming the file, the document, the object when known and the field, e.g.
 * {@code examples/bad.yaml, document 2 (Deployment default/web): field spec.replicas: must be an integer >= 0, got "three"}.
 * When several documents are wrong, one exception lists them all: {@link #problems()} holds each, and
 * {@link #source()} and {@link #field()} are those of the first.
 */
public final class ManifestException extends RuntimeException {
    private final Source source;
    private final String field;
    private final List<ManifestException> problems;

    /**
     * @param object the object's kind and name ("Deployment default/web") when known, else null
     * @param field the dotted path of the offending field, or null when the problem is the document's as a whole
     */
    public ManifestException(Source source, String object, String field, String problem) {
        super(source + (object == null ? "" : " (" + object + ")") + (field == null ? "" : ": field " + field)
                + ": " + problem);
        this.source = Objects.requireNonNull(source, "source");
        this.field = field;
        this.problems = List.of(this);
    }

    private ManifestException(List<ManifestException> problems) {
        super(problems.size() + " problems in the manifests:" + problems.stream()
                .map(p -> "\n  " + p.getMessage()).collect(Collectors.joining()));
        this.source = problems.getFirst().source;
        this.field = problems.getFirst().field;
        this.problems = List.copyOf(problems);
    }

    /** One exception for all of {@code problems}: the problem itself when there is only one. */
    static ManifestException of(List<ManifestException> problems) {
        return problems.size() == 1 ? problems.getFirst() : new ManifestException(problems);
    }

    public Source source() {
        return source;
    }

    /** The dotted path of the field at fault (e.g. {@code spec.template.spec.containers[0].ports[0].containerPort}), or null. */
    public String field() {
        return field;
    }

    /** Each problem found, this exception alone when there was one. */
    public List<ManifestException> problems() {
        return problems;
    }
}
