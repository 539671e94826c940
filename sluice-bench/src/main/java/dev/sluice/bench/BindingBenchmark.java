package dev.sluice.bench;

import dev.sluice.libbpf.BpfMap;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.MapType;
import dev.sluice.libbpf.TypedMap;
import dev.sluice.libbpf.UpdateFlag;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The per-call cost of one BPF map operation (update or lookup of an existing key in a 4 B -> 8 B hash
 * map) through the libbpf binding, typed and raw, against the same operation done by running
 * {@code bpftool} once per call, which is what a shell-script control plane pays.
 *
 * <p>Needs root (bpf(2) needs CAP_BPF; bpftool needs CAP_SYS_ADMIN to find a map by id). Every trial
 * creates its own map, named {@code bench_<pid>}, and closes it in tear-down so that nothing is left in
 * the kernel.
 *
 * <pre>
 * mvn -q -o install -DskipTests -pl sluice-bench -am
 * $JAVA_HOME/bin/java -jar sluice-bench/target/benchmarks.jar -rf json -rff /tmp/binding-bench.json BindingBenchmark
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
// The Unsafe flag only silences JMH's own sun.misc.Unsafe warning on JDK 24+.
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
public class BindingBenchmark {
    static final int KEY = 42;
    static final long VALUE = 7L;
    private static final Integer BOXED_KEY = KEY;
    private static final Long BOXED_VALUE = VALUE;

    BpfMap map;
    TypedMap<Integer, Long> typed;
    String mapName;
    private Arena arena;
    private MemorySegment key;
    private MemorySegment value;
    private MemorySegment out;

    @Setup(Level.Trial)
    public void setup() {
        requireRoot();
        // Map names are at most 15 characters of [A-Za-z0-9_.]; the pid keeps concurrent runs apart.
        mapName = "bench_" + ProcessHandle.current().pid();
        map = BpfMap.create(MapType.HASH, mapName, 4, 8, 1024, 0);
        typed = map.typed(Codecs.u32(), Codecs.u64());
        typed.update(KEY, VALUE, UpdateFlag.ANY);

        // Shared, not confined: JMH may run @Setup on another thread than the measured calls.
        arena = Arena.ofShared();
        key = arena.allocate(4);
        key.set(Codecs.U32, 0, KEY);
        value = arena.allocate(8);
        value.set(Codecs.U64, 0, VALUE);
        out = arena.allocate(8);

        if (typed.lookup(KEY).orElse(-1L) != VALUE) {
            throw new IllegalStateException("setup: key " + KEY + " did not read back as " + VALUE + " from " + map);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (arena != null) {
            arena.close();
            arena = null;
        }
        if (map != null) {
            map.close();
            map = null;
        }
    }

    // ---- the binding, typed: boxing, codecs and a confined arena per call, around the syscall

    @Benchmark
    public void typedUpdate() {
        typed.update(BOXED_KEY, BOXED_VALUE);
    }

    @Benchmark
    public Optional<Long> typedLookup() {
        return typed.lookup(BOXED_KEY);
    }

    // ---- the binding, raw: segments allocated once in setup; what is left is the downcall and its errno capture

    @Benchmark
    public void rawUpdate() {
        map.update(key, value, UpdateFlag.ANY);
    }

    @Benchmark
    public long rawLookup() {
        if (!map.lookup(key, out)) {
            throw new IllegalStateException("key " + KEY + " vanished from " + map);
        }
        return out.get(Codecs.U64, 0);
    }

    // ---- bpftool, one process per call, as a shell-script control plane would run it

    /** The map's kernel id, as bpftool addresses it; resolved only for the bpftool benchmarks. */
    @State(Scope.Benchmark)
    public static class Bpftool {
        List<String> update;
        List<String> lookup;

        @Setup(Level.Trial)
        public void setup(BindingBenchmark bench) {
            int id = mapId(bench.mapName);
            List<String> keyHex = hex(le(KEY, 4));
            update = new ArrayList<>(List.of("bpftool", "map", "update", "id", Integer.toString(id), "key", "hex"));
            update.addAll(keyHex);
            update.addAll(List.of("value", "hex"));
            update.addAll(hex(le(VALUE, 8)));
            update.add("any");
            lookup = new ArrayList<>(List.of("bpftool", "map", "lookup", "id", Integer.toString(id), "key", "hex"));
            lookup.addAll(keyHex);

            run(update);
            String found = run(lookup);
            if (!found.contains(String.join(" ", hex(le(VALUE, 8))))) {
                throw new IllegalStateException("'" + String.join(" ", lookup) + "' did not show value " + VALUE + ": " + found);
            }
        }
    }

    // ~1.5 ms a call: one warm-up second is plenty (the cost is fork/exec, not the JIT); five 1 s
    // iterations (~700 calls each) keep the confidence interval narrower than three would.
    @Benchmark
    @Warmup(iterations = 1, time = 1)
    @Measurement(iterations = 5, time = 1)
    public String bpftoolUpdate(Bpftool bpftool) {
        return run(bpftool.update);
    }

    @Benchmark
    @Warmup(iterations = 1, time = 1)
    @Measurement(iterations = 5, time = 1)
    public String bpftoolLookup(Bpftool bpftool) {
        return run(bpftool.lookup);
    }

    // ---- helpers

    static void requireRoot() {
        String euid = null;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    euid = line.split("\\s+")[2]; // real, effective, saved, fs
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("BindingBenchmark needs root, and /proc/self/status cannot be read to check: " + e, e);
        }
        if (!"0".equals(euid)) {
            throw new IllegalStateException("BindingBenchmark needs root (it creates BPF maps with bpf(2) and runs bpftool); "
                    + "this process runs as uid " + euid + ". Run it as root, e.g. sudo -E $JAVA_HOME/bin/java -jar "
                    + "sluice-bench/target/benchmarks.jar BindingBenchmark");
        }
    }

    /** The id of the one map called {@code name}, from {@code bpftool -j map show}. */
    static int mapId(String name) {
        String json = run(List.of("bpftool", "-j", "map", "show"));
        // Each map is an object that starts with "id"; nested objects (e.g. "pids") carry no "id" key.
        Pattern entry = Pattern.compile("\\{\"id\":(\\d+),[^{}]*?\"name\":\"([^\"]*)\"");
        Matcher m = entry.matcher(json);
        List<Integer> ids = new ArrayList<>();
        while (m.find()) {
            if (m.group(2).equals(name)) {
                ids.add(Integer.parseInt(m.group(1)));
            }
        }
        if (ids.size() != 1) {
            throw new IllegalStateException("expected one map named '" + name + "' in 'bpftool -j map show', found ids " + ids);
        }
        return ids.getFirst();
    }

    /** Runs the command, waits for it and returns its stdout; fails unless it exits 0. */
    static String run(List<String> command) {
        try {
            Process process = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectErrorStream(true)
                    .start();
            String output;
            try (InputStream in = process.getInputStream()) {
                output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            int exit = process.waitFor();
            if (exit != 0) {
                throw new IllegalStateException("'" + String.join(" ", command) + "' failed (exit " + exit + "): " + output.strip());
            }
            return output;
        } catch (IOException e) {
            throw new IllegalStateException("cannot run '" + command.getFirst() + "' (is bpftool installed?): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running '" + String.join(" ", command) + "'", e);
        }
    }

    static byte[] le(long v, int size) {
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = (byte) (v >>> (8 * i));
        }
        return bytes;
    }

    static List<String> hex(byte[] bytes) {
        List<String> out = new ArrayList<>(bytes.length);
        for (byte b : bytes) {
            out.add(String.format(Locale.ROOT, "%02x", b & 0xff));
        }
        return out;
    }
}
