package dev.sluice.lab;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Keeps one node's agent running, as the kubelet keeps a DaemonSet's pod running: it starts the agent,
 * waits for it to exit, records how it exited, and starts it again after a backoff (0.5 s doubling to
 * 10 s; back to 0.5 s once an agent ran for a minute). The restarted agent adopts the pinned maps and
 * links, so the datapath, which keeps serving while no agent runs, never notices.
 *
 * <p>It stops, stopping the agent first, on SIGTERM ({@code lab down}, {@code restartAgent}), and by itself
 * once the lab's state is gone. Runs in the node's network namespace, which the agent inherits.
 *
 * <p>Usage: {@code AgentSupervisor RECORD_FILE STATE_FILE AGENT_COMMAND...}
 */
public final class AgentSupervisor {
    static final long FIRST_BACKOFF_MS = 500;
    static final long MAX_BACKOFF_MS = 10_000;
    /** An agent that ran this long was healthy: its next restart starts from the first backoff again. */
    static final long HEALTHY_RUN_MS = 60_000;
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * What the supervisor of a node reports, in {@code agents/NODE.supervisor.json} next to the agent's status.
     *
     * @param agentPid   the agent running now (0 while waiting to restart it)
     * @param restarts   how many times the agent was started again after exiting
     * @param lastExit   how the last agent exited, null if none did
     */
    public record Record(long supervisorPid, long agentPid, int restarts, Exit lastExit) {
    }

    /**
     * How an agent exited.
     *
     * @param code     its exit status, or 128 + the signal that killed it (as a shell reports it)
     * @param signal   the signal's name if a signal killed it ("SIGKILL"), else null
     * @param lastLine the last line it logged, often the reason
     */
    public record Exit(long pid, int code, String signal, long atEpochMs, long ranMs, String lastLine) {
        /** {@code killed by SIGKILL after 12 s} or {@code exit status 1 after 850 ms: <last line>}. */
        public String describe() {
            String how = signal != null ? "killed by " + signal : "exit status " + code;
            String after = ranMs < 10_000 ? ranMs + " ms" : ranMs / 1000 + " s";
            return how + " after " + after + (lastLine == null || lastLine.isBlank() ? "" : ": " + lastLine);
        }
    }

    private AgentSupervisor() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: AgentSupervisor RECORD_FILE STATE_FILE AGENT_COMMAND...");
            System.exit(2);
        }
        Path recordFile = Path.of(args[0]);
        Path stateFile = Path.of(args[1]);
        Path log = logOf();
        List<String> command = Arrays.asList(args).subList(2, args.length);
        long self = ProcessHandle.current().pid();
        Process[] child = new Process[1];
        boolean[] stopping = new boolean[1];
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            synchronized (child) {
                stopping[0] = true;
                if (child[0] != null) {
                    stop(child[0]);
                }
            }
        }));
        int restarts = 0;
        Exit lastExit = null;
        long backoff = FIRST_BACKOFF_MS;
        while (Files.exists(stateFile)) {
            long startedAt = System.currentTimeMillis();
            Process p;
            synchronized (child) {
                if (stopping[0]) {
                    return;
                }
                p = new ProcessBuilder(command).inheritIO().start();
                child[0] = p;
            }
            write(recordFile, new Record(self, p.pid(), restarts, lastExit));
            int code = p.waitFor();
            synchronized (child) {
                child[0] = null;
                if (stopping[0]) {
                    return;
                }
            }
            long ran = System.currentTimeMillis() - startedAt;
            lastExit = new Exit(p.pid(), code, code > 128 && code < 128 + 65 ? signalName(code - 128) : null,
                    System.currentTimeMillis(), ran, log == null ? null : lastLine(log));
            System.out.println("supervisor: the agent (pid " + p.pid() + ") " + lastExit.describe());
            backoff = ran >= HEALTHY_RUN_MS ? FIRST_BACKOFF_MS : backoff;
            write(recordFile, new Record(self, 0, restarts, lastExit));
            if (code == 0 && !Files.exists(stateFile)) {
                return; // the agent stopped because the lab is gone
            }
            System.out.println("supervisor: starting it again in " + backoff + " ms");
            Thread.sleep(backoff);
            backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
            restarts++;
        }
    }

    /** SIGTERM, then SIGKILL after 3 s. */
    private static void stop(Process p) {
        p.destroy();
        try {
            if (!p.waitFor(3, java.util.concurrent.TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
        }
    }

    static Optional<Record> read(Path file) {
        try {
            return Files.exists(file) ? Optional.of(JSON.readValue(file.toFile(), Record.class)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static void write(Path file, Record record) throws IOException {
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), record);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The file our stdout goes to (the agent's log, which the agent shares), if it is a file. */
    private static Path logOf() {
        try {
            Path out = Path.of("/proc/self/fd/1").toRealPath();
            return Files.isRegularFile(out) ? out : null;
        } catch (IOException e) {
            return null;
        }
    }

    /** The last non-blank line of {@code log}, read from its end. */
    static String lastLine(Path log) {
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
            long length = f.length();
            int tail = (int) Math.min(length, 4096);
            byte[] bytes = new byte[tail];
            f.seek(length - tail);
            f.readFully(bytes);
            List<String> lines = new String(bytes, StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank()).toList();
            return lines.isEmpty() ? null : lines.getLast().strip();
        } catch (IOException e) {
            return null;
        }
    }

    static String signalName(int signal) {
        return switch (signal) {
            case 1 -> "SIGHUP";
            case 2 -> "SIGINT";
            case 6 -> "SIGABRT";
            case 9 -> "SIGKILL";
            case 11 -> "SIGSEGV";
            case 15 -> "SIGTERM";
            default -> "signal " + signal;
        };
    }
}
