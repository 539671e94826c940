package dev.sluice.bench.mesh;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.lab.Lab;
import dev.sluice.linux.JavaCommand;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The seed's workload from inside the client pod: {@code sluice load -grpc -qps Q -t D -c C [-payload-size N] -json FILE
 * TARGET} (fortio's flags; open loop at a constant rate), and its fortio-style JSON read back.
 */
final class LoadRun {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the load generator reported. */
    record Outcome(double actualQps, long requests, long errors, long unsent, Map<String, Long> codes, Results.Latency corrected,
                   Results.Latency uncorrected, List<double[]> spectrum) {
    }

    private final Lab lab;
    private final Process process;
    private final Path json;
    private final long startedNanos;
    private final StringBuilder output = new StringBuilder();
    private final Thread drain;

    private LoadRun(Lab lab, Process process, Path json) {
        this.lab = lab;
        this.process = process;
        this.json = json;
        this.startedNanos = System.nanoTime();
        // The pod's output is read while it runs: a full pipe would stall the load generator.
        this.drain = Thread.ofVirtual().start(() -> {
            try {
                String all = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                synchronized (output) {
                    output.append(all);
                }
            } catch (IOException ignored) {
                // the process was ended; what it wrote before is what there is
            }
        });
    }

    /**
     * Starts the load generator: {@code -warmup} at the same rate first (in the same JVM, so its own JIT is warm too, and
     * not counted), then the measured {@code duration}.
     */
    static LoadRun start(Lab lab, String clientPod, String target, BenchSettings s, Duration warmup, Duration duration, Path json) {
        List<String> args = new ArrayList<>(List.of("load", "-grpc", "-qps", Integer.toString(s.qps()), "-t", duration.toMillis() + "ms",
                "-c", Integer.toString(s.connections())));
        if (!warmup.isZero()) {
            args.addAll(List.of("-warmup", warmup.toMillis() + "ms"));
        }
        // The seed's command has no -ping (gRPC health checks); fortio sends a payload only with its ping service.
        if (s.payloadSize() > 0) {
            args.addAll(List.of("-ping", "-payload-size", Integer.toString(s.payloadSize())));
        }
        args.addAll(List.of("-p", "50,75,90,99,99.9"));
        args.addAll(List.of("-json", json.toString(), target));
        try {
            Files.deleteIfExists(json);
        } catch (IOException e) {
            throw new IllegalStateException("cannot remove " + json + ": " + e.getMessage(), e);
        }
        return new LoadRun(lab, lab.execAsync(clientPod, JavaCommand.sluice(args.toArray(String[]::new))), json);
    }

    long startedNanos() {
        return startedNanos;
    }

    /** Waits for the load generator's end (at most its warm-up and duration plus a minute) and reads its JSON. */
    Outcome await(Duration total) throws InterruptedException {
        if (!process.waitFor(total.toSeconds() + 60, TimeUnit.SECONDS)) {
            stop();
            throw new IllegalStateException("sluice load in the client pod of lab " + lab.name() + " did not end within its duration + 60 s");
        }
        drain.join(5_000);
        String out;
        synchronized (output) {
            out = output.toString().strip();
        }
        if (!Files.exists(json)) {
            throw new IllegalStateException("sluice load exited with " + process.exitValue() + " and wrote no " + json
                    + (out.isEmpty() ? "" : ": " + last(out, 1500)));
        }
        try {
            return parse(JSON.readTree(json.toFile()));
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("cannot read the load generator's results " + json + ": " + e.getMessage(), e);
        }
    }

    /** Ends the load generator (the exec'd command in the pod) by its PID, as on Ctrl-C. */
    void stop() {
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static Outcome parse(JsonNode r) {
        try {
            return parseOrFail(r);
        } catch (java.util.zip.DataFormatException e) {
            throw new IllegalStateException("the load generator's CorrectedHdr is not a compressed HdrHistogram: " + e.getMessage(), e);
        }
    }

    private static Outcome parseOrFail(JsonNode r) throws java.util.zip.DataFormatException {
        JsonNode h = r.path("DurationHistogram");
        Map<String, Long> codes = new LinkedHashMap<>();
        r.path("RetCodes").properties().forEach(e -> codes.put(e.getKey(), e.getValue().asLong()));
        long ok = codes.entrySet().stream().filter(e -> e.getKey().equals("SERVING") || e.getKey().equals("OK") || e.getKey().equals("200"))
                .mapToLong(Map.Entry::getValue).sum();
        long all = codes.values().stream().mapToLong(Long::longValue).sum();
        long requests = Math.max(all, h.path("Count").asLong());
        List<double[]> spectrum = spectrum(r.path("Sluice").path("CorrectedHdr").asText(""));
        for (JsonNode b : spectrum.isEmpty() ? h.path("Data") : com.fasterxml.jackson.databind.node.MissingNode.getInstance()) {
            spectrum.add(new double[] {b.path("Percent").asDouble(), b.path("End").asDouble() * 1000});
        }
        if (spectrum.isEmpty()) {
            for (JsonNode p : h.path("Percentiles")) {
                spectrum.add(new double[] {p.path("Percentile").asDouble(), p.path("Value").asDouble() * 1000});
            }
        }
        // Unsent: requests due before the end that a connection still waiting for an answer never sent (the target could
        // not keep up with the rate); not errors, but the rate was not what was asked, and the table says so.
        return new Outcome(r.path("ActualQPS").asDouble(), requests, all - ok, r.path("Sluice").path("Unsent").asLong(0), codes, latency(h),
                latency(r.path("Sluice").path("Uncorrected")), spectrum);
    }

    /**
     * The latency at 61 percentiles evenly spaced on the plot's axis (log10(1 / (1 - p)), 0 to 99.9 %), in ms, from the
     * load generator's whole HdrHistogram (nanoseconds, base64 compressed); empty if it wrote none.
     */
    static List<double[]> spectrum(String encoded) throws java.util.zip.DataFormatException {
        List<double[]> points = new ArrayList<>();
        if (encoded.isEmpty()) {
            return points;
        }
        org.HdrHistogram.Histogram h = org.HdrHistogram.Histogram.decodeFromCompressedByteBuffer(
                java.nio.ByteBuffer.wrap(java.util.Base64.getDecoder().decode(encoded)), 0);
        if (h.getTotalCount() == 0) {
            return points;
        }
        for (int i = 0; i <= 60; i++) {
            double p = 100 * (1 - Math.pow(10, -i * 0.05));
            points.add(new double[] {p, h.getValueAtPercentile(p) / 1e6});
        }
        return points;
    }

    private static Results.Latency latency(JsonNode h) {
        if (h.isMissingNode() || h.isNull()) {
            return Results.Latency.NONE;
        }
        Map<Double, Double> p = new LinkedHashMap<>();
        for (JsonNode x : h.path("Percentiles")) {
            p.put(x.path("Percentile").asDouble(), x.path("Value").asDouble() * 1000);
        }
        return new Results.Latency(p.getOrDefault(50.0, Double.NaN), p.getOrDefault(75.0, Double.NaN), p.getOrDefault(90.0, Double.NaN),
                p.getOrDefault(99.0, Double.NaN), p.getOrDefault(99.9, Double.NaN), h.path("Max").asDouble(Double.NaN) * 1000);
    }

    private static String last(String s, int n) {
        return s.length() <= n ? s : "..." + s.substring(s.length() - n);
    }
}
