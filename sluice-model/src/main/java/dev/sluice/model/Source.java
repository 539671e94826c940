package dev.sluice.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where an object was written: a file and the 1-based index of the YAML document in it. Document 0
 * stands for the file as a whole (it could not be read at all).
 *
 * @param file the file as the user named it (relative paths stay relative, so messages read like the command line)
 */
public record Source(@JsonSerialize(using = ToStringSerializer.class) Path file, int document) {
    public Source {
        Objects.requireNonNull(file, "file");
        if (document < 0) {
            throw new IllegalArgumentException("document index must be >= 0, got " + document);
        }
    }

    /** Jackson would otherwise write a Path as an absolute file: URI, turning a relative name absolute. */
    @JsonCreator
    static Source fromJson(@JsonProperty("file") String file, @JsonProperty("document") int document) {
        return new Source(Path.of(file), document);
    }

    @Override
    public String toString() {
        return document == 0 ? file.toString() : file + ", document " + document;
    }
}
