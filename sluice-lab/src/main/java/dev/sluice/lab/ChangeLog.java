package dev.sluice.lab;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The lab's change log: one JSON line per state change ({@link ViewDelta}), appended by whoever changes the
 * lab (under the lab's lock) and followed by every agent. It is a cache, never the truth: the state file is.
 * A reader that finds a gap (a line whose base is not the version it holds, a log that was restarted or is
 * missing) reads the whole state instead. The log is restarted when it passes {@link #LIMIT} bytes, so it
 * never grows without bound.
 */
final class ChangeLog {
    /** Past this size the next line starts a new log (readers then resynchronise once from the state). */
    static final long LIMIT = 16L << 20;
    private static final ObjectMapper JSON = LabStore.JSON.copy().disable(SerializationFeature.INDENT_OUTPUT);

    private final Path file;

    ChangeLog(Path file) {
        this.file = file;
    }

    void append(ViewDelta delta) throws IOException {
        byte[] line = (JSON.writeValueAsString(delta) + "\n").getBytes(StandardCharsets.UTF_8);
        boolean restart = Files.exists(file) && Files.size(file) + line.length > LIMIT;
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                restart ? StandardOpenOption.TRUNCATE_EXISTING : StandardOpenOption.APPEND)) {
            ByteBuffer buf = ByteBuffer.wrap(line);
            while (buf.hasRemaining()) {
                out.write(buf);
            }
        }
    }

    /** Follows the log from where it last read. Not thread-safe: one per cluster source. */
    final class Reader {
        private long position;

        /** Starts at the log's current end: what is before it is in the state the reader read. */
        Reader() {
            try {
                position = Files.exists(file) ? Files.size(file) : 0;
            } catch (IOException e) {
                position = 0;
            }
        }

        /**
         * The complete lines appended since the last call. When the log was restarted (it is shorter than what
         * was read), reading starts over at its beginning: the first line's base then tells whether it follows.
         */
        List<ViewDelta> next() throws IOException {
            byte[] bytes;
            try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
                long size = in.size();
                if (size < position) {
                    position = 0;
                }
                if (size == position) {
                    return List.of();
                }
                ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(size - position));
                while (buf.hasRemaining() && in.read(buf, position + buf.position()) > 0) {
                    // until the size seen
                }
                bytes = buf.array();
            } catch (NoSuchFileException e) {
                position = 0;
                return List.of();
            }
            List<ViewDelta> out = new ArrayList<>();
            int start = 0;
            for (int i = 0; i < bytes.length; i++) {
                if (bytes[i] == '\n') {
                    out.add(JSON.readValue(bytes, start, i - start, ViewDelta.class));
                    start = i + 1;
                }
            }
            // A line being written is read next time.
            position += start;
            return out;
        }
    }
}
