package dev.sluice.testing;

import dev.sluice.libbpf.BpfException;
import dev.sluice.libbpf.BpfSystem;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The gate for tests that need root (bpf(2), namespaces, cgroups). Without privileges such a test is
 * skipped with the reason; under CI=true it fails instead, so that CI never passes by skipping.
 */
public final class Privileged {
    private Privileged() {
    }

    public static void require() {
        String reason = missing();
        if (reason == null) {
            return;
        }
        if ("true".equals(System.getenv("CI"))) {
            Assertions.fail("CI=true but this privileged test cannot run: " + reason);
        }
        Assumptions.abort("skipped: " + reason + " (run the tests as root, e.g. with sudo, to run it)");
    }

    /** Why privileged tests cannot run here, or null if they can. */
    public static String missing() {
        if (!isRoot()) {
            return "not running as root";
        }
        try {
            BpfSystem.checkBpfSyscall();
        } catch (BpfException e) {
            return "bpf(2) is not usable: " + e.getMessage();
        } catch (ExceptionInInitializerError | NoClassDefFoundError e) {
            return "libbpf cannot be loaded: " + e;
        }
        return null;
    }

    private static boolean isRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:"))
                    .anyMatch(l -> l.split("\\s+")[2].equals("0"));
        } catch (IOException e) {
            return false;
        }
    }
}
