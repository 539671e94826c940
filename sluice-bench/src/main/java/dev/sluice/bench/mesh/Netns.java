package dev.sluice.bench.mesh;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Commands inside a lab's network namespace with the harness's privileges: what a pod cannot do itself (lab pods
 * have no CAP_NET_ADMIN), done as a CNI or istio-init would. {@code nsenter --net=}, not {@code ip netns exec},
 * which would hide bpffs and the cgroup mounts.
 */
record Netns(String name) {
    List<String> wrap(List<String> command) {
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=/run/netns/" + name, "--"));
        cmd.addAll(command);
        return cmd;
    }

    /** Runs {@code command} to its end, with {@code stdin} if not null; its output, or an error naming namespace and command. */
    String run(List<String> command, String stdin) {
        try {
            Process p = new ProcessBuilder(wrap(command)).redirectErrorStream(true).start();
            try (OutputStream in = p.getOutputStream()) {
                if (stdin != null) {
                    in.write(stdin.getBytes(StandardCharsets.UTF_8));
                }
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("in netns " + name + ": " + command + " did not finish in 30 s");
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException("in netns " + name + ": " + String.join(" ", command) + " failed (" + p.exitValue() + "): "
                        + out.strip());
            }
            return out;
        } catch (IOException e) {
            throw new IllegalStateException("in netns " + name + ": cannot run " + command + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted running " + command + " in netns " + name, e);
        }
    }

    String run(String... command) {
        return run(List.of(command), null);
    }
}
