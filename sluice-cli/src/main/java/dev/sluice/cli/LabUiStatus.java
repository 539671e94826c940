package dev.sluice.cli;

import dev.sluice.lab.Lab;
import dev.sluice.lab.LabUi;

import java.io.PrintWriter;

/**
 * The {@code UI (sluice ui):} line of {@code sluice status}: where the lab's web UI serves, or why it does not (the agents'
 * {@code Hubble UI} line says what the values ask for).
 */
final class LabUiStatus {
    private LabUiStatus() {
    }

    static void print(PrintWriter out, Lab lab) {
        String line = switch (LabUi.state(lab)) {
            case LabUi.State.NotRequested n -> null;
            case LabUi.State.Serving s -> "Ok: " + s.url() + " (pid " + s.pid() + ")";
            case LabUi.State.Starting s -> "starting (pid " + s.pid() + ")";
            // Degraded, and said so: the values ask for a UI that is not there.
            case LabUi.State.Down d -> "DOWN (process " + d.pid() + " is gone; see " + d.log() + ")";
        };
        if (line != null) {
            out.printf("%-24s %s%n", "UI (sluice ui):", line);
        }
    }
}
