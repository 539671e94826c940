package dev.sluice.agent.api;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;

/** An agent's status file: written whole and atomically by the agent, read by anyone. */
public final class StatusFile {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            // A newer agent may report more than this reader knows; what it knows still reads.
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private StatusFile() {
    }

    /** The status in {@code file}, if an agent wrote one (empty while it is being replaced for the first time). */
    public static Optional<AgentStatus> read(Path file) {
        try {
            return Files.exists(file) ? Optional.of(JSON.readValue(file.toFile(), AgentStatus.class)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Replaces {@code file} with {@code status}: a reader sees the old status or the new one, never half of one. */
    public static void write(Path file, AgentStatus status) throws IOException {
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), status);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
