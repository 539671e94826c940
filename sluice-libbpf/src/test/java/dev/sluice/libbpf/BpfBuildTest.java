package dev.sluice.libbpf;

import dev.sluice.linux.Command;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The build's BPF step (bpf/Makefile, run by Maven) fails on a compile error and shows clang's message. */
class BpfBuildTest {
    @Test
    void aCompileErrorFailsTheBuildWithClangsMessage(@TempDir Path dir) throws Exception {
        if (!Command.exec(List.of("sh", "-c", "command -v clang")).ok()) {
            if ("true".equals(System.getenv("CI"))) {
                Assertions.fail("CI=true but clang is not installed");
            }
            Assumptions.abort("skipped: clang is not installed");
        }
        Path root = Path.of(System.getenv().getOrDefault("SLUICE_ROOT", "../"));
        Files.writeString(dir.resolve("broken.bpf.c"), """
                #include "sluice_common.h"
                SEC("tc")
                int broken(struct __sk_buff *skb)
                {
                	return undeclared_thing;
                }
                """);
        Command.Result result = Command.exec(List.of("make", "--no-print-directory", "-C", root.resolve("bpf").toString(),
                "SRC=" + dir, "OUT=" + dir.resolve("out")));
        assertNotEquals(0, result.exitCode());
        String output = result.stdout() + result.stderr();
        assertTrue(output.contains("broken.bpf.c") && output.contains("error: use of undeclared identifier 'undeclared_thing'"), output);
        assertTrue(Files.notExists(dir.resolve("out/broken.bpf.o")));
    }
}
