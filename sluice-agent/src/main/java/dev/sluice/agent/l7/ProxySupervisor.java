package dev.sluice.agent.l7;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Runs the node's proxy process and keeps it running: started when the first configuration needs it, watched
 * through {@link Process#onExit()}, restarted after a backoff (1 s doubling to 30 s, back to 1 s once a run lasted a
 * minute), and stopped by its PID when the agent closes. The proxy also exits by itself when its control session
 * with the agent ends, so that it cannot outlive an agent that was killed outright.
 */
public final class ProxySupervisor implements AutoCloseable {
    static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);
    static final Duration MAX_BACKOFF = Duration.ofSeconds(30);
    /** A run at least this long counts as healthy: the next restart waits the first backoff again. */
    static final Duration HEALTHY_RUN = Duration.ofMinutes(1);

    /** What status shows. */
    public record State(boolean running, long pid, long startedMs, int restarts, String lastExit, long nextStartMs) {
    }

    private final List<String> command;
    private final Path log;
    private final LongSupplier clock;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "proxy-supervisor");
        t.setDaemon(true);
        return t;
    });
    private Process process;
    private long startedMs;
    private int restarts;
    private String lastExit = "";
    private Duration backoff = FIRST_BACKOFF;
    private ScheduledFuture<?> pending;
    private long nextStartMs;
    private boolean closed;

    /**
     * @param command the proxy's command line
     * @param log     where its output goes (appended: a restarted proxy's lines follow its predecessor's)
     */
    public ProxySupervisor(List<String> command, Path log) {
        this(command, log, System::currentTimeMillis);
    }

    ProxySupervisor(List<String> command, Path log, LongSupplier clock) {
        this.command = List.copyOf(command);
        this.log = log;
        this.clock = clock;
        // SIGTERM to the agent: the proxy goes with it (a SIGKILL is covered by the proxy's own exit on session end).
        Runtime.getRuntime().addShutdownHook(new Thread(this::close, "proxy-stop"));
    }

    /** Starts the proxy if it is not running and no restart is pending. */
    public synchronized void ensureStarted() {
        if (closed || process != null || pending != null) {
            return;
        }
        launch();
    }

    public synchronized State state() {
        return new State(process != null && process.isAlive(), process == null ? 0 : process.pid(), startedMs, restarts, lastExit,
                nextStartMs);
    }

    public Path log() {
        return log;
    }

    private void launch() {
        pending = null;
        nextStartMs = 0;
        if (closed) {
            return;
        }
        try {
            Files.createDirectories(log.getParent());
            Process p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).redirectInput(new File("/dev/null"))
                    .start();
            process = p;
            startedMs = clock.getAsLong();
            System.out.println("agent: L7 proxy started, PID " + p.pid() + " (log " + log + ")");
            p.onExit().thenAccept(this::exited);
        } catch (IOException e) {
            lastExit = "could not start: " + e.getMessage();
            System.out.println("agent: L7 proxy " + lastExit);
            scheduleRestart(0);
        }
    }

    private synchronized void exited(Process p) {
        if (p != process) {
            return;
        }
        process = null;
        long ranMs = clock.getAsLong() - startedMs;
        int code = p.exitValue();
        // Java reports a process killed by signal N as 128 + N, as a shell does.
        String how = code > 128 && code < 160 ? "killed by signal " + (code - 128) + signalName(code - 128) : "exit status " + code;
        // For an exit of its own the proxy's last line says why; after a signal it is just whatever came last.
        lastExit = how + " after " + human(ranMs) + (code > 128 ? "" : lastLine().map(l -> ": " + l).orElse(""));
        if (closed) {
            return;
        }
        System.out.println("agent: L7 proxy PID " + p.pid() + " " + lastExit);
        scheduleRestart(ranMs);
    }

    private void scheduleRestart(long ranMs) {
        if (ranMs >= HEALTHY_RUN.toMillis()) {
            backoff = FIRST_BACKOFF;
        }
        Duration wait = backoff;
        backoff = doubled(backoff);
        restarts++;
        nextStartMs = clock.getAsLong() + wait.toMillis();
        System.out.println("agent: restarting the L7 proxy in " + human(wait.toMillis()) + " (restart " + restarts + ")");
        pending = timer.schedule(() -> {
            synchronized (this) {
                launch();
            }
        }, wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Twice {@code wait}, at most {@link #MAX_BACKOFF}. */
    static Duration doubled(Duration wait) {
        Duration twice = wait.multipliedBy(2);
        return twice.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : twice;
    }

    /** The next backoff, for tests. */
    synchronized Duration backoff() {
        return backoff;
    }

    /** Stops the proxy by its PID (SIGTERM, then SIGKILL after 3 s) and restarts nothing any more. */
    @Override
    public void close() {
        Process p;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            if (pending != null) {
                pending.cancel(false);
            }
            p = process;
        }
        timer.shutdownNow();
        if (p != null && p.isAlive()) {
            p.destroy();
            try {
                if (!p.waitFor(3, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    private Optional<String> lastLine() {
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
            long from = Math.max(0, f.length() - 2048);
            byte[] tail = new byte[(int) (f.length() - from)];
            f.seek(from);
            f.readFully(tail);
            List<String> lines = new String(tail, StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank()).toList();
            return lines.isEmpty() ? Optional.empty() : Optional.of(lines.getLast().strip());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static String signalName(int signal) {
        return switch (signal) {
            case 9 -> " (SIGKILL)";
            case 15 -> " (SIGTERM)";
            case 6 -> " (SIGABRT)";
            case 11 -> " (SIGSEGV)";
            case 2 -> " (SIGINT)";
            default -> "";
        };
    }

    static String human(long ms) {
        if (ms < 1_000) {
            return ms + " ms";
        }
        long s = ms / 1_000;
        return s < 120 ? s + " s" : s / 60 + " min " + s % 60 + " s";
    }
}
