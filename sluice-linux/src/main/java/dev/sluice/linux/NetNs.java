package dev.sluice.linux;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * A named network namespace (as {@code ip netns} makes them, under /run/netns).
 *
 * <p>Code runs inside it on a fresh platform thread that {@code setns}es into the namespace: only the
 * network namespace changes, so bpffs and the cgroup mounts stay visible (which {@code ip netns exec}
 * would hide behind a new mount namespace), and no other thread of the JVM is affected.
 */
public final class NetNs implements AutoCloseable {
    private static final Path RUN_NETNS = Path.of("/run/netns");
    private final String name;

    private NetNs(String name) {
        this.name = name;
    }

    /** Creates a new, empty network namespace: it has only a loopback device (down) and no routes. */
    public static NetNs create(String name) {
        Command.run("ip", "netns", "add", name);
        NetNs ns = new NetNs(name);
        ns.ip("link", "set", "lo", "up");
        return ns;
    }

    /** An existing namespace, by name. */
    public static NetNs existing(String name) {
        if (!Files.exists(RUN_NETNS.resolve(name))) {
            throw new LinuxException("network namespace " + name + " does not exist");
        }
        return new NetNs(name);
    }

    public String name() {
        return name;
    }

    public Path path() {
        return RUN_NETNS.resolve(name);
    }

    /** Runs {@code ip ARGS} inside this namespace. */
    public String ip(String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "-n", name));
        cmd.addAll(List.of(args));
        return Command.exec(cmd).orThrow().stdout();
    }

    /** Runs a command inside this namespace, entering only its network namespace. */
    public Command.Result exec(String... command) {
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=" + path()));
        cmd.addAll(List.of(command));
        return Command.exec(cmd);
    }

    /** The interface index of {@code device} as this namespace numbers it. */
    public int ifindex(String device) {
        String out = ip("-o", "link", "show", "dev", device);
        return Integer.parseInt(out.substring(0, out.indexOf(':')).strip());
    }

    /** Calls {@code body} on a platform thread inside this namespace and returns its result. */
    public <T> T call(Callable<T> body) {
        try (NetNsRef ref = NetNsRef.open(path())) {
            return ref.call(body);
        }
    }

    /** Runs {@code body} inside this namespace. */
    public void run(Runnable body) {
        call(() -> {
            body.run();
            return null;
        });
    }

    /** Deletes the namespace; devices inside it (veth ends) go with it. */
    @Override
    public void close() {
        if (Files.exists(path())) {
            Command.exec(List.of("ip", "netns", "delete", name)).orThrow();
        }
    }
}
