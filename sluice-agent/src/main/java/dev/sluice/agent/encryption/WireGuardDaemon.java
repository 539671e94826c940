package dev.sluice.agent.encryption;

import dev.sluice.agent.api.wireguard.Uapi;
import dev.sluice.agent.api.wireguard.WireGuardNames;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * wireguard-go, the user-space WireGuard, for a kernel without the module: one process per node, started by the
 * agent in the node's network namespace (its TUN device lives there) and stopped by its PID only.
 *
 * <p>wireguard-go puts its UAPI socket in {@code /var/run/wireguard/DEVICE.sock}, a path every node of a lab
 * would share; so it runs in a mount namespace of its own, where the node's own directory is bind-mounted on
 * {@code /var/run/wireguard} ({@code unshare --mount}, which makes mounts private, then {@code exec}: the PID the
 * agent started is wireguard-go's). Its PID and start time are kept in a file, so a restarted agent adopts the
 * running daemon (traffic stays encrypted meanwhile) and never signals a process that reused the PID.
 */
final class WireGuardDaemon {
    private final Path dir;
    private final Uapi uapi;
    private long pid;

    WireGuardDaemon(Path dir, Path socket) {
        this.dir = dir;
        this.uapi = new Uapi(socket);
    }

    Uapi uapi() {
        return uapi;
    }

    long pid() {
        return pid;
    }

    /** Whether wireguard-go is installed (on the PATH) and the kernel offers TUN devices. */
    static Optional<String> unavailable() {
        if (!Files.exists(Path.of("/dev/net/tun"))) {
            return Optional.of("no /dev/net/tun for wireguard-go's TUN device");
        }
        boolean found = List.of(System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")).stream()
                .anyMatch(d -> Files.isExecutable(Path.of(d, "wireguard-go")));
        return found ? Optional.empty() : Optional.of("wireguard-go is not installed (Debian package wireguard-go)");
    }

    /**
     * Adopts the node's running daemon or starts one, and waits until its socket answers.
     *
     * @return true when it started a new one (its device then has no key, peers or address yet)
     * @throws IOException when it cannot be started or does not answer within 5 s (its log is named)
     */
    boolean ensure() throws IOException {
        Optional<Long> recorded = recorded();
        if (recorded.isPresent() && uapi.answers()) {
            pid = recorded.get();
            return false;
        }
        recorded.ifPresent(this::stop); // alive but not answering: a stuck daemon is replaced
        Path sockDir = uapi.socket().getParent();
        Files.createDirectories(sockDir);
        Files.deleteIfExists(uapi.socket());
        Files.createDirectories(Path.of("/var/run/wireguard")); // the mount point; nothing is written there
        Path log = dir.resolve("wireguard-go.log");
        Process process = new ProcessBuilder("unshare", "--mount", "sh", "-c",
                "mount --bind \"$0\" /var/run/wireguard && exec wireguard-go -f \"$1\"", sockDir.toString(), WireGuardNames.DEVICE)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        pid = process.pid();
        String start = ProcessHandle.of(pid).flatMap(h -> h.info().startInstant()).map(Object::toString).orElse("");
        Files.writeString(dir.resolve("wireguard-go.pid"), pid + " " + start + "\n", StandardCharsets.US_ASCII);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("wireguard-go exited with status " + process.exitValue() + " (see " + log + ")");
            }
            if (Files.exists(uapi.socket()) && uapi.answers()) {
                return true;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while starting wireguard-go");
            }
        }
        stop(pid);
        throw new IOException("wireguard-go did not answer on " + uapi.socket() + " within 5 s (see " + log + ")");
    }

    /** Whether the daemon this agent started or adopted still runs. */
    boolean alive() {
        return pid > 0 && recorded().filter(p -> p == pid).isPresent();
    }

    /** Stops the node's daemon, by its recorded PID (its TUN device, and the routes through it, go with it). */
    void stop() {
        recorded().ifPresent(this::stop);
        pid = 0;
    }

    private void stop(long target) {
        ProcessHandle.of(target).ifPresent(h -> {
            h.destroy();
            try {
                h.onExit().get(3, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Exception e) {
                h.destroyForcibly();
            }
        });
    }

    /** The PID in the file if that process still runs and started when recorded (not a reused PID). */
    private Optional<Long> recorded() {
        Path file = dir.resolve("wireguard-go.pid");
        try {
            if (!Files.exists(file)) {
                return Optional.empty();
            }
            String[] parts = Files.readString(file).strip().split(" ", 2);
            long p = Long.parseLong(parts[0]);
            String start = parts.length > 1 ? parts[1] : "";
            return ProcessHandle.of(p).filter(ProcessHandle::isAlive)
                    .filter(h -> h.info().startInstant().map(Object::toString).orElse("").equals(start))
                    .map(h -> p);
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }
}
