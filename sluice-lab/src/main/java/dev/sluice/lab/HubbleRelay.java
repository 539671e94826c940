package dev.sluice.lab;

import dev.sluice.linux.JavaCommand;
import dev.sluice.model.SluiceValues;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The lab's Hubble Relay ({@code sluice relay}, its own process), started by {@code lab up} when the values
 * say {@code hubble.relay.enabled}, as users start hubble-relay; stopped by {@code lab down} by PID (it is in the
 * lab's process journal). It serves on 127.0.0.1:4245 of the machine's namespace, or on a free port when another
 * lab's relay holds 4245, and on {@code hubble-relay.sock} in the lab's run directory; it reaches the nodes
 * through their agents' unix sockets only.
 */
public final class HubbleRelay {
    /** The relay class, named rather than referenced: the lab does not build against the observe module. */
    static final String MAIN = "dev.sluice.observe.relay.RelayCommand";
    public static final int PORT = 4245;
    /** How long `lab up` waits for the relay to serve. */
    private static final long READY_MS = 30_000;

    private HubbleRelay() {}

    /** What `sluice status` shows of the relay, and where `sluice observe` finds it. */
    public record Status(boolean running, long pid, Optional<Integer> port, Path socket, Path log) {
        public String describe() {
            if (!running) {
                return "DOWN (process " + pid + " is gone: `sluice observe` reads the nodes directly; see " + log + ")";
            }
            if (port.isEmpty()) {
                return "starting (pid " + pid + ")";
            }
            return "Ok (pid " + pid + ") on 127.0.0.1:" + port.get()
                    + (port.get() == PORT ? "" : " (" + PORT + " is held by another lab's relay)") + " and unix://" + socket;
        }
    }

    static Path socket(LabStore store) {
        return store.dir().resolve("hubble-relay.sock");
    }

    private static Path portFile(LabStore store) {
        return store.dir().resolve("hubble-relay.port");
    }

    private static Path pidFile(LabStore store) {
        return store.dir().resolve("hubble-relay.pid");
    }

    static Path log(LabStore store) {
        return store.logs().resolve("hubble-relay.log");
    }

    /** Whether the lab's values ask for the relay (and for flows at all). */
    static boolean wanted(LabState state) {
        if (state.valuesFile() == null) {
            return false;
        }
        try {
            SluiceValues.Hubble hubble = SluiceValues.load(Path.of(state.valuesFile())).hubble();
            return hubble.enabled() && hubble.relay();
        } catch (RuntimeException e) {
            // The agents report a values file they cannot read; the relay is left out with them.
            return false;
        }
    }

    /** Starts the relay, given every node's Observer socket as a peer service, and waits until it serves. */
    static void start(LabStore store, LabState state, java.util.function.Function<String, Path> observerSocket) {
        List<String> args = new ArrayList<>();
        for (LabState.NodeState node : state.nodes()) {
            args.addAll(List.of("--peer-service", "unix://" + observerSocket.apply(node.name())));
        }
        args.addAll(List.of("--listen-address", "127.0.0.1:" + PORT, "--any-port-if-busy",
                "--unix-socket", socket(store).toString(), "--port-file", portFile(store).toString()));
        try {
            Files.deleteIfExists(portFile(store));
            Files.createDirectories(store.logs());
        } catch (IOException e) {
            throw new LabException("cannot prepare the relay's files in " + store.dir() + ": " + e.getMessage());
        }
        // In the machine's own namespace: it serves 127.0.0.1:4245 there and reaches the nodes by their sockets.
        LabProcesses.Started started = LabProcesses.start(JavaCommand.of(MAIN, List.of("-Xmx64m", "-Xss512k"), args), Map.of(),
                log(store), store.processJournal());
        try {
            Files.writeString(pidFile(store), started.pid() + " " + started.startTicks() + "\n");
        } catch (IOException e) {
            throw new LabException("cannot record the relay's pid in " + pidFile(store) + ": " + e.getMessage());
        }
        long deadline = System.currentTimeMillis() + READY_MS;
        while (!Files.exists(portFile(store)) && LabProcesses.alive(started.pid(), started.startTicks())
                && System.currentTimeMillis() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        if (!Files.exists(portFile(store))) {
            throw new LabException("hubble.relay.enabled: the relay did not start serving within " + READY_MS / 1000 + " s; see " + log(store));
        }
    }

    /** The relay of the lab, if the lab started one. */
    public static Optional<Status> status(LabStore store) {
        List<LabProcesses.Started> recorded = LabProcesses.journal(pidFile(store));
        if (recorded.isEmpty()) {
            return Optional.empty();
        }
        LabProcesses.Started relay = recorded.getFirst();
        Optional<Integer> port = Optional.empty();
        try {
            port = Optional.of(Integer.parseInt(Files.readString(portFile(store)).trim()));
        } catch (IOException | NumberFormatException e) {
            // not serving yet
        }
        return Optional.of(new Status(LabProcesses.alive(relay.pid(), relay.startTicks()), relay.pid(), port, socket(store), log(store)));
    }

    /** The relay's process, for tests that stop it or look at it. */
    public static Optional<Long> pid(LabStore store) {
        return LabProcesses.journal(pidFile(store)).stream().map(LabProcesses.Started::pid).findFirst();
    }
}
