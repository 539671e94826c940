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
        cmd.addAll(List.of("-cp", classPath(), mainClass));
        cmd.addAll(args);
        return cmd;
    }

    /**
     * This JVM's class path with every entry absolute: the new JVM may start in another directory (a pod's
     * processes run in their own), where a relative entry (`java -cp target/x.jar ...`) names nothing.
     */
    static String classPath() {
        return java.util.Arrays.stream(System.getProperty("java.class.path").split(java.io.File.pathSeparator))
                .filter(e -> !e.isEmpty())
                .map(e -> Path.of(e).toAbsolutePath().toString())
                .collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator));
    }

    /** {@code sluice ARGS...} as a new JVM. */
    public static List<String> sluice(String... args) {
        return of("dev.sluice.cli.Main", List.of("-Xmx128m"), List.of(args));
    }
}
