package dev.sluice.lab;

import java.util.ArrayList;
import java.util.List;

/**
 * Runs every step of a removal even when one fails, and reports the failures together at the end: a
 * cgroup that cannot be removed must not leave the namespaces, pins and processes after it behind.
 */
final class Steps {
    private final String what;
    private final List<RuntimeException> failures = new ArrayList<>();

    Steps(String what) {
        this.what = what;
    }

    void run(Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            failures.add(e);
        }
    }

    List<RuntimeException> failures() {
        return List.copyOf(failures);
    }

    boolean failed() {
        return !failures.isEmpty();
    }

    /** Throws one LabException naming every failed step (the first as the cause), if any failed. */
    void throwIfFailed() {
        if (failures.isEmpty()) {
            return;
        }
        StringBuilder message = new StringBuilder(what).append(": ").append(failures.size()).append(" step(s) failed");
        for (RuntimeException e : failures) {
            message.append("\n  - ").append(e.getMessage());
        }
        LabException e = new LabException(message.toString(), failures.getFirst());
        failures.stream().skip(1).forEach(e::addSuppressed);
        throw e;
    }
}
