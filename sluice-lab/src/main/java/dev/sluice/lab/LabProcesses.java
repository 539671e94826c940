package dev.sluice.lab;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Starts lab processes detached from the CLI (their own session, output to a log file) and stops them
 * again by PID, checking each PID's start time first: a PID the kernel has since given to another
 * process is left alone.
 */
final class LabProcesses {
    private LabProcesses() {
    }

    /** A started process: its PID and the start time (clock ticks since boot) that identifies it. */
    record Started(long pid, long startTicks) {
    }

    /**
     * {@link #start(List, Map, Path)}, and the new process appended to {@code journal} ("PID START_TICKS" a line)
     * before the caller records it anywhere else: if the command that started it is killed before the lab's
     * state names it, `lab down` still finds it there, by PID, and stops it.
     */
    static Started start(List<String> command, Map<String, String> env, Path log, Path journal) {
        Started started = start(command, env, log);
        try {
            Files.writeString(journal, started.pid() + " " + started.startTicks() + "\n",
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        } catch (IOException e) {
            stop(started.pid(), started.startTicks(), 0);
            throw new UncheckedIOException("cannot record process " + started.pid() + " in " + journal, e);
        }
        return started;
    }

    /** The processes a journal written by {@link #start(List, Map, Path, Path)} names. */
    static List<Started> journal(Path journal) {
        try {
            return Files.readAllLines(journal).stream().map(l -> l.trim().split(" ")).filter(w -> w.length == 2)
                    .map(w -> new Started(Long.parseLong(w[0]), Long.parseLong(w[1]))).toList();
        } catch (IOException | NumberFormatException e) {
            return List.of();
        }
    }

    static Started start(List<String> command, Map<String, String> env, Path log) {
        List<String> cmd = new ArrayList<>();
        cmd.add("setsid"); // a session of its own: closing the terminal that ran `lab up` does not stop the lab
        cmd.addAll(command);
        ProcessBuilder builder = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().putAll(env);
        try {
            Files.createDirectories(log.getParent());
            Process process = builder.start();
            long pid = process.pid();
            return new Started(pid, startTicks(pid).orElse(0L));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command.getFirst(), e);
        }
    }

    /**
     * The first child of {@code parent} (from /proc/PID/task/PID/children), once it has one: the process a
     * launcher forked to run the container (unshare's child, PID 1 of a new PID namespace). Empty if the parent
     * ended or had none within {@code timeoutMs}.
     */
    static Optional<Started> firstChild(Started parent, long timeoutMs) {
        Path children = Path.of("/proc/" + parent.pid() + "/task/" + parent.pid() + "/children");
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (alive(parent.pid(), parent.startTicks()) && System.currentTimeMillis() < deadline) {
            try {
                String[] pids = Files.readString(children).trim().split("\\s+");
                if (!pids[0].isEmpty()) {
                    long pid = Long.parseLong(pids[0]);
                    Optional<Long> ticks = startTicks(pid);
                    if (ticks.isPresent()) {
                        return Optional.of(new Started(pid, ticks.get()));
                    }
                }
            } catch (IOException | NumberFormatException e) {
                // gone meanwhile: the loop's check says so
            }
            sleep(5);
        }
        return Optional.empty();
    }

    /** Field 22 of /proc/PID/stat: when the process started, in clock ticks after boot. */
    static Optional<Long> startTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            // The command name (field 2) is in parentheses and may contain spaces: count from the last ')'.
            String[] rest = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Optional.of(Long.parseLong(rest[19]));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Whether the process we started is still there (and not a zombie). */
    static boolean alive(long pid, long startTicks) {
        Optional<Long> ticks = startTicks(pid);
        if (ticks.isEmpty() || ticks.get() != startTicks) {
            return false;
        }
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException e) {
            return false;
        }
    }

    /** SIGTERM, then SIGKILL after {@code graceMs}; returns once the process is gone. Only ever our own PID. */
    static void stop(long pid, long startTicks, long graceMs) {
        if (!alive(pid, startTicks)) {
            return;
        }
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        if (handle.isEmpty()) {
            return;
        }
        handle.get().destroy();
        long deadline = System.currentTimeMillis() + graceMs;
        while (alive(pid, startTicks) && System.currentTimeMillis() < deadline) {
            sleep(20);
        }
        if (alive(pid, startTicks)) {
            handle.get().destroyForcibly();
            long killDeadline = System.currentTimeMillis() + 5_000;
            while (alive(pid, startTicks) && System.currentTimeMillis() < killDeadline) {
                sleep(20);
            }
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
