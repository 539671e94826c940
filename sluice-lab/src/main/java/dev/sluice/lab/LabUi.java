package dev.sluice.lab;

import dev.sluice.linux.JavaCommand;
import dev.sluice.model.SluiceValues;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The lab's web UI process ({@code sluice ui}), started when the values set {@code hubble.ui.enabled}, as Cilium's
 * chart deploys Hubble UI. It runs in this machine's own network namespace (it reads the nodes' Observer API sockets
 * and serves 127.0.0.1 only), is in the lab's process journal, so {@code lab down} stops it by PID, and writes the URL
 * it serves to {@code ui.url} in the lab's directory once it listens.
 */
public final class LabUi {
    /** The port the lab's UI asks for: Hubble UI's 12000 unless this system property says otherwise (tests pass 0). */
    public static final String PORT_PROPERTY = "sluice.ui.port";

    private LabUi() {
    }

    /** What {@code sluice status} says of the UI. */
    public sealed interface State {
        /** The values did not ask for it. */
        record NotRequested() implements State {}

        /** Listening on {@code url}. */
        record Serving(long pid, String url) implements State {}

        /** Started, not listening yet. */
        record Starting(long pid) implements State {}

        /** Asked for, but the process is gone (its log says why: a port in use, say). */
        record Down(long pid, Path log) implements State {}
    }

    static void startIfEnabled(LabStore store, String lab, LabState state) {
        if (state.valuesFile() == null || !SluiceValues.load(Path.of(state.valuesFile())).hubble().ui()) {
            return;
        }
        Path log = store.logs().resolve("ui.log");
        String port = System.getProperty(PORT_PROPERTY, "12000");
        List<String> command = JavaCommand.of("dev.sluice.cli.Main", List.of("-Xmx64m", "-Xss512k"),
                List.of("ui", "--lab", lab, "--port", port, "--url-file", urlFile(store).toString()));
        LabProcesses.Started started = LabProcesses.start(command, Map.of("SLUICE_LAB_ROOT", LabStore.root().toString()), log,
                store.processJournal());
        try {
            Files.writeString(pidFile(store), started.pid() + " " + started.startTicks() + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot record the UI's process in " + pidFile(store), e);
        }
    }

    /** The UI of {@code lab} as it is now. */
    public static State state(Lab lab) {
        LabStore store = lab.store();
        List<LabProcesses.Started> recorded = LabProcesses.journal(pidFile(store));
        if (recorded.isEmpty()) {
            return new State.NotRequested();
        }
        LabProcesses.Started ui = recorded.getFirst();
        if (!LabProcesses.alive(ui.pid(), ui.startTicks())) {
            return new State.Down(ui.pid(), store.logs().resolve("ui.log"));
        }
        try {
            return new State.Serving(ui.pid(), Files.readString(urlFile(store)).trim());
        } catch (IOException e) {
            return new State.Starting(ui.pid());
        }
    }

    /** The UI's URL once it listens, waiting up to {@code timeoutMs} for it. */
    public static Optional<String> awaitUrl(Lab lab, long timeoutMs) {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (true) {
            State s = state(lab);
            if (s instanceof State.Serving serving) {
                return Optional.of(serving.url());
            }
            if (!(s instanceof State.Starting) || System.currentTimeMillis() > deadline) {
                return Optional.empty();
            }
            LabProcesses.sleep(100);
        }
    }

    private static Path pidFile(LabStore store) {
        return store.dir().resolve("ui.pid");
    }

    private static Path urlFile(LabStore store) {
        return store.dir().resolve("ui.url");
    }
}
