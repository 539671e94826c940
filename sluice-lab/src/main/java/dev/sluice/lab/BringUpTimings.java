package dev.sluice.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * Where a change's time goes, per step of making pods, summed over its pods (several pods may be made at
 * once, so the sums can exceed the wall time). Written, one line per change, to the lab's
 * {@code logs/bring-up.log}: the lab-scale benchmark reads it (docs/benchmarks.md, "The lab at scale").
 */
final class BringUpTimings {
    /** The steps, in the order a pod goes through them. */
    enum Step {
        NETNS("netns"), VETH("veth+addr+routes"), CGROUP("cgroup"), PROCESS("process start"), STATE("state writes"),
        READY("wait for listening"), AGENTS("agents applied"), REMOVE("pod removal");

        final String label;

        Step(String label) {
            this.label = label;
        }
    }

    private final Map<Step, LongAdder> nanos = new EnumMap<>(Step.class);
    private final long start = System.nanoTime();

    BringUpTimings() {
        for (Step s : Step.values()) {
            nanos.put(s, new LongAdder());
        }
    }

    void add(Step step, long spentNanos) {
        nanos.get(step).add(spentNanos);
    }

    <T> T time(Step step, Supplier<T> body) {
        long t0 = System.nanoTime();
        try {
            return body.get();
        } finally {
            nanos.get(step).add(System.nanoTime() - t0);
        }
    }

    void time(Step step, Runnable body) {
        time(step, () -> {
            body.run();
            return null;
        });
    }

    /** One line: the wall time, then each step's summed time and its share of the per-pod cost. */
    String line(String what, int pods) {
        StringBuilder s = new StringBuilder(Instant.now().toString()).append(' ').append(what)
                .append(String.format(" pods=%d wall=%.2fs", pods, (System.nanoTime() - start) / 1e9));
        for (Step step : Step.values()) {
            long n = nanos.get(step).sum();
            if (n > 0) {
                s.append(String.format(" | %s %.2fs", step.label, n / 1e9));
                if (pods > 0) {
                    s.append(String.format(" (%.0f ms/pod)", n / 1e6 / pods));
                }
            }
        }
        return s.toString();
    }

    void append(LabStore store, String what, int pods) {
        try {
            Files.createDirectories(store.logs());
            Files.writeString(store.logs().resolve("bring-up.log"), line(what, pods) + "\n",
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException ignored) {
            // a timing that cannot be written changes nothing the lab does
        }
    }
}
