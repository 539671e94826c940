package dev.sluice.lab;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The lab's pod events, as Kubernetes' Events: what the kubelet and the lab did to a pod and why (Started, Killing,
 * BackOff, Unhealthy), one JSON line each in {@code events.jsonl}, appended without the lab's lock (a line is one
 * small write to a file opened for appending). The file is restarted past {@link #LIMIT}: events are history, not state.
 */
public final class PodEvents {
    static final long LIMIT = 4L << 20;
    private static final ObjectMapper JSON = LabStore.JSON.copy().disable(SerializationFeature.INDENT_OUTPUT);

    /** One event. @param type Normal or Warning */
    public record Event(long atEpochMs, String pod, String type, String reason, String message) {
    }

    private PodEvents() {
    }

    static Path file(LabStore store) {
        return store.dir().resolve("events.jsonl");
    }

    static void append(LabStore store, String pod, String type, String reason, String message) {
        Path file = file(store);
        try {
            byte[] line = (JSON.writeValueAsString(new Event(System.currentTimeMillis(), pod, type, reason, message)) + "\n")
                    .getBytes(StandardCharsets.UTF_8);
            boolean restart = Files.exists(file) && Files.size(file) > LIMIT;
            Files.write(file, line, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    restart ? StandardOpenOption.TRUNCATE_EXISTING : StandardOpenOption.APPEND);
        } catch (IOException e) {
            // An event that cannot be written is lost; the pod's state is not.
            System.err.println("cannot write event to " + file + ": " + e.getMessage());
        }
    }

    /** The events of pod {@code key} (ns/name), oldest first. */
    static List<Event> of(LabStore store, String key) {
        Path file = file(store);
        List<Event> out = new ArrayList<>();
        if (!Files.exists(file)) {
            return out;
        }
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.contains("\"" + key + "\"")) {
                    try {
                        Event e = JSON.readValue(line, Event.class);
                        if (e.pod().equals(key)) {
                            out.add(e);
                        }
                    } catch (IOException partial) {
                        // a line being written
                    }
                }
            }
        } catch (IOException e) {
            return out;
        }
        return out;
    }
}
