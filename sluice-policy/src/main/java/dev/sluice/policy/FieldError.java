package dev.sluice.policy;

/**
 * A field of a policy that breaks a rule, raised while reading one object and turned into a
 * {@code ManifestException} by {@link PolicyParser}, which knows the file, the document and the object.
 */
final class FieldError extends RuntimeException {
    private final String field;

    /** @param field the dotted path from the document's root, e.g. {@code spec.ingress[0].toPorts[0].ports[0].port} */
    FieldError(String field, String problem) {
        super(problem, null, false, false);
        this.field = field;
    }

    String field() {
        return field;
    }
}
