package dev.sluice.model;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A values file Sluice cannot use, naming the file and the key:
 * {@code cilium-values.yaml: key socketLB.enabled: must be true or false, got "maybe"}.
 */
public final class ValuesException extends RuntimeException {
    private final Path file;
    private final String key;

    /** @param key the dotted key at fault, or null when the problem is the file's as a whole */
    public ValuesException(Path file, String key, String problem) {
        super(file + (key == null ? "" : ": key " + key) + ": " + problem);
        this.file = Objects.requireNonNull(file, "file");
        this.key = key;
    }

    public Path file() {
        return file;
    }

    /** The dotted key at fault, e.g. {@code socketLB.enabled}, or null. */
    public String key() {
        return key;
    }
}
