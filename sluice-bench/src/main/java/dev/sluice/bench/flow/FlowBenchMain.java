package dev.sluice.bench.flow;

import dev.sluice.bench.lb.Cleanup;
import dev.sluice.libbpf.BpfSystem;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * FlowBench's command line:
 * <pre>
 * FlowBench [all|ingest|latency]
 *           [--cpu 0] [--events 2000000] [--passes 3] [--ingest-warmup 300000] [--burst 2000000]
 *           [--rate 1000] [--blocks 10] [--block-size 1000] [--warmup 3000] [--diagnose-blocks 5]
 * </pre>
 * The ingest part runs as a child JVM under {@code taskset -c CPU} ({@link IngestBench}); the latency part
 * in this JVM plus a client JVM ({@link FlowLatencyBench}).
 */
public final class FlowBenchMain {
    private static final int INGEST_TIMEOUT_SECONDS = 600;

    private FlowBenchMain() {
    }

    public static int run(String[] args) throws Exception {
        String what = "all";
        int cpu = 0;
        int events = 2_000_000;
        int passes = 3;
        int ingestWarmup = 300_000;
        int burst = 2_000_000;
        int rate = 1000;
        int blocks = 10;
        int blockSize = 1000;
        int warmup = 3000;
        int diagnose = 5;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "all", "ingest", "latency" -> what = a;
                case "--cpu" -> cpu = Integer.parseInt(args[++i]);
                case "--events" -> events = Integer.parseInt(args[++i]);
                case "--passes" -> passes = Integer.parseInt(args[++i]);
                case "--ingest-warmup" -> ingestWarmup = Integer.parseInt(args[++i]);
                case "--burst" -> burst = Integer.parseInt(args[++i]);
                case "--rate" -> rate = Integer.parseInt(args[++i]);
                case "--blocks" -> blocks = Integer.parseInt(args[++i]);
                case "--block-size" -> blockSize = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--diagnose-blocks" -> diagnose = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("unknown argument " + a + "\nusage: FlowBench [all|ingest|latency] [--cpu 0] [--events 2000000] "
                            + "[--passes 3] [--ingest-warmup 300000] [--burst 2000000] [--rate 1000] [--blocks 10] [--block-size 1000] "
                            + "[--warmup 3000] [--diagnose-blocks 5]");
                    return 2;
                }
            }
        }
        String missing = missing();
        if (missing != null) {
            System.err.println("FlowBench cannot run: " + missing);
            return 1;
        }
        PrintStream out = System.out;
        long start = System.nanoTime();
        out.println("FlowBench " + Instant.now());
        machine(out);
        int status = 0;
        try (Cleanup cleanup = new Cleanup()) {
            if (!what.equals("latency")) {
                status = ingest(cleanup, out, cpu, List.of("--events", Integer.toString(events), "--passes", Integer.toString(passes),
                        "--warmup", Integer.toString(ingestWarmup), "--burst", Integer.toString(burst)));
            }
            if (!what.equals("ingest")) {
                new FlowLatencyBench(cleanup, out).run(warmup, blocks, blockSize, rate, diagnose);
            }
        }
        out.printf(Locale.ROOT, "%nFlowBench done in %.0f s; the namespaces, links and processes it made are removed.%n",
                (System.nanoTime() - start) / 1e9);
        return status;
    }

    /** Runs {@link IngestBench} as its own JVM pinned to one CPU; its report goes straight to our stdout. */
    private static int ingest(Cleanup cleanup, PrintStream out, int cpu, List<String> options) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElseThrow(() -> new IllegalStateException("cannot find this JVM's java command"));
        String classpath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .map(p -> Path.of(p).toAbsolutePath().toString()).collect(Collectors.joining(File.pathSeparator));
        List<String> cmd = new ArrayList<>(List.of("taskset", "-c", Integer.toString(cpu), java, "--enable-native-access=ALL-UNNAMED",
                "-cp", classpath, IngestBench.class.getName()));
        cmd.addAll(options);
        out.printf(Locale.ROOT, "%n== Ingest: FlowPipeline on one core (CPU %d), events written by BPF_PROG_TEST_RUN of policy_to_pod ==%n", cpu);
        out.println("  " + String.join(" ", cmd.subList(0, 4)) + " ... " + IngestBench.class.getSimpleName() + " " + String.join(" ", options));
        out.flush();
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.INHERIT).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        AutoCloseable stop = () -> {
            if (p.isAlive()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        };
        cleanup.add("ingest process " + p.pid(), stop);
        try {
            if (!p.waitFor(INGEST_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the ingest JVM (pid " + p.pid() + ") did not finish in " + INGEST_TIMEOUT_SECONDS + " s");
            }
            if (p.exitValue() != 0) {
                out.println("  the ingest JVM exited with " + p.exitValue());
            }
            return p.exitValue();
        } finally {
            cleanup.runNow(stop);
        }
    }

    private static String missing() {
        if (!dev.sluice.bench.Host.isRoot()) {
            return "it needs root (BPF programs and maps, network namespaces); run it with sudo";
        }
        return dev.sluice.bench.Host.missingTool(List.of("ip", "nsenter", "sysctl", "taskset"))
                .map(tool -> tool + " is not installed").orElse(null);
    }

    private static void machine(PrintStream out) {
        String model = "?";
        try {
            model = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name")).findFirst()
                    .map(l -> l.substring(l.indexOf(':') + 1).strip()).orElse("?");
        } catch (IOException ignored) {
            // unknown
        }
        out.println("Kernel: " + read("/proc/sys/kernel/osrelease") + "; CPUs: " + Runtime.getRuntime().availableProcessors() + " (" + model
                + "); JDK: " + System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version") + "; libbpf "
                + BpfSystem.libbpfVersion() + "; load average " + read("/proc/loadavg"));
    }

    private static String read(String path) {
        try {
            return Files.readString(Path.of(path)).strip();
        } catch (IOException e) {
            return "?";
        }
    }
}
