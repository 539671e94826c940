package dev.sluice.cli.lab;

import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState.ContainerState;
import dev.sluice.lab.LabState.PodState;

/** A pod's STATUS, RESTARTS and AGE columns as kubectl get pods prints them. */
final class PodStatus {
    private PodStatus() {
    }

    /** CrashLoopBackOff while a container waits to restart, Completed/Error after a final exit, else Running. */
    static String of(PodState p) {
        for (ContainerState c : p.containers()) {
            if (c.waiting() != null) {
                return c.waiting();
            }
        }
        for (ContainerState c : p.containers()) {
            if (c.terminated() != null) {
                return c.terminated().reason();
            }
        }
        return Lab.running(p) ? "Running" : "Unknown";
    }

    /** {@code 3 (12s ago)}: the restarts and how long ago the last container exit was. */
    static String restarts(PodState p, long now) {
        int n = p.restarts();
        long last = p.containers().stream().filter(c -> c.lastExit() != null).mapToLong(c -> c.lastExit().finishedAtEpochMs()).max().orElse(0);
        return n == 0 || last == 0 ? Integer.toString(n) : n + " (" + age(now - last) + " ago)";
    }

    /** kubectl's short durations: 45s, 3m12s, 2h5m, 3d4h. */
    static String age(long ms) {
        long s = Math.max(0, ms / 1000);
        if (s < 120) {
            return s + "s";
        }
        if (s < 3600) {
            return s / 60 + "m" + (s % 60 == 0 || s >= 600 ? "" : s % 60 + "s");
        }
        if (s < 86_400) {
            return s / 3600 + "h" + (s % 3600 / 60 == 0 ? "" : s % 3600 / 60 + "m");
        }
        return s / 86_400 + "d" + (s % 86_400 / 3600 == 0 ? "" : s % 86_400 / 3600 + "h");
    }
}
