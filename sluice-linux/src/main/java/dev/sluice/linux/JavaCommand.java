package dev.sluice.linux;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line that runs one of Sluice's main classes in a new JVM on this JVM's class path: how
 * the lab starts echo pods and agents (through the agent launcher), and how the demo runs `sluice call` inside a pod. Small heaps and
 * C1 only, because these JVMs are many and short-lived.
 */
public final class JavaCommand {
    private JavaCommand() {
    }

    public static List<String> of(String mainClass, List<String> jvmOptions, List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.addAll(List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(args);
        return cmd;
    }

    /** {@code sluice ARGS...} as a new JVM. */
    public static List<String> sluice(String... args) {
        return of("dev.sluice.cli.Main", List.of("-Xmx128m"), List.of(args));
    }
}
