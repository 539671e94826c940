package dev.sluice.workload.load;

import org.HdrHistogram.Histogram;

import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Runs a {@link LoadSpec} against its target: opens the connections, sends one warm-up request on each (not
 * counted: it pays for the connection and the first-call costs), then drives the {@link Schedule} and builds the
 * {@link LoadResult}. A progress line goes to {@code progress} every 5 s.
 */
public final class LoadRunner {
    static final Duration PROGRESS_EVERY = Duration.ofSeconds(5);
    /** Event loop threads for all connections: the load must leave the machine's cores to what it measures. */
    static final int EVENT_LOOP_THREADS = Math.min(2, Runtime.getRuntime().availableProcessors());

    private LoadRunner() {
    }

    /** Runs {@code spec}; {@code progress} (may be null) gets a line every 5 s. */
    public static LoadResult run(LoadSpec spec, PrintWriter progress) throws InterruptedException {
        try (Caller caller = open(spec); Ticker.SystemTicker ticker = new Ticker.SystemTicker()) {
            long warmup = warmUp(caller, spec, ticker);
            Instant startTime = Instant.now();
            // The first sends a millisecond ahead: every connection starts on its schedule, none already late.
            Schedule schedule = Schedule.of(spec, ticker.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1));
            CountDownLatch finished = new CountDownLatch(1);
            OpenLoop loop = new OpenLoop(schedule, caller, ticker, finished::countDown);
            if (progress != null) {
                ticker.every(PROGRESS_EVERY.toNanos(), () -> progress(progress, spec, schedule, loop, ticker.nanoTime()));
            }
            loop.start();
            // Every request ends within its timeout, so the run ends by then; waiting longer would hide a bug.
            long limit = spec.duration().plus(spec.timeout()).plusSeconds(30).toNanos();
            if (!finished.await(limit, TimeUnit.NANOSECONDS)) {
                throw new IllegalStateException("the run did not end " + Duration.ofNanos(limit).toSeconds()
                        + " s after it started (" + loop.completed() + " requests ended)");
            }
            return result(spec, schedule, loop, startTime, warmup);
        }
    }

    private static Caller open(LoadSpec spec) {
        return switch (spec.target()) {
            case LoadSpec.Grpc grpc -> new GrpcCaller(grpc, spec.connections(), spec.timeout(), EVENT_LOOP_THREADS);
            case LoadSpec.Http http -> new HttpCaller(http, spec.connections(), spec.timeout(), EVENT_LOOP_THREADS);
        };
    }

    // One request per connection, all at once (it opens the connections), then -warmup at the run's rate; nothing
    // of it is counted. Failures are not fatal: the run counts its own.
    private static long warmUp(Caller caller, LoadSpec spec, Ticker ticker) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(spec.connections());
        for (int c = 0; c < spec.connections(); c++) {
            caller.call(c, outcome -> done.countDown());
        }
        done.await(spec.timeout().toNanos() + TimeUnit.SECONDS.toNanos(1), TimeUnit.NANOSECONDS);
        long requests = spec.connections();
        if (spec.warmup().isPositive()) {
            LoadSpec warm = new LoadSpec(spec.target(), spec.qps(), spec.warmup(), spec.connections(), spec.percentiles(),
                    spec.timeout(), spec.labels());
            CountDownLatch finished = new CountDownLatch(1);
            OpenLoop loop = new OpenLoop(Schedule.of(warm, ticker.nanoTime()), caller, ticker, finished::countDown);
            loop.start();
            finished.await();
            requests += loop.completed();
        }
        return requests;
    }

    private static void progress(PrintWriter out, LoadSpec spec, Schedule schedule, OpenLoop loop, long now) {
        double elapsed = (now - schedule.startNanos()) / 1e9;
        long done = loop.completed();
        out.printf("sluice load: %.0f s of %s, %d requests, %.1f qps, %d errors, sends up to %.1f ms behind schedule%n",
                elapsed, LoadReport.goDuration(spec.duration()), done, elapsed > 0 ? done / elapsed : 0.0, loop.failed(),
                loop.takeMaxSendLagNanos() / 1e6);
        out.flush();
    }

    /** The result of a finished {@code loop}: also used by tests that drive a loop on a simulated clock. */
    public static LoadResult result(LoadSpec spec, Schedule schedule, OpenLoop loop, Instant startTime, long warmup) {
        Latencies all = loop.latencies();
        // As fortio's: the run lasts at least its duration (the last request of an on-time run is due just before
        // the end), longer when answers came after it.
        long actualNanos = Math.max(schedule.endNanos(), loop.lastAnswerNanos()) - schedule.startNanos();
        long requests = all.requests();
        String url = spec.target() instanceof LoadSpec.Http http ? http.url().toString() : null;
        return new LoadResult(
                spec.target().runType(),
                spec.labels(),
                startTime.toString(),
                spec.openLoop() ? LoadReport.number(spec.qps()) : "max",
                LoadReport.goDuration(spec.duration()),
                requests / (actualNanos / 1e9),
                actualNanos,
                spec.connections(),
                version(),
                DurationHistogram.of(all.corrected(), spec.percentiles()),
                DurationHistogram.of(all.errors(), spec.percentiles()),
                0,
                false,
                all.codes(),
                spec.target().destination(),
                url,
                new LoadResult.Extra(
                        DurationHistogram.of(all.uncorrected(), spec.percentiles()),
                        schedule.openLoop() ? "corrected" : "closed-loop",
                        schedule.plannedRequests(),
                        requests,
                        loop.unsent(),
                        all.errors().getTotalCount(),
                        warmup,
                        all.errorSamples(),
                        loop.maxSendLagNanos() / 1e9,
                        encode(all.corrected()),
                        encode(all.uncorrected())));
    }

    /** An HdrHistogram as its compressed encoding in base64 ({@link #decode} reads it). */
    static String encode(Histogram histogram) {
        ByteBuffer buffer = ByteBuffer.allocate(histogram.getNeededByteBufferCapacity());
        int length = histogram.encodeIntoCompressedByteBuffer(buffer);
        return Base64.getEncoder().encodeToString(java.util.Arrays.copyOf(buffer.array(), length));
    }

    /** Reads {@code CorrectedHdr}/{@code UncorrectedHdr} back, e.g. to merge repetitions exactly. */
    public static Histogram decode(String base64) {
        try {
            return Histogram.decodeFromCompressedByteBuffer(ByteBuffer.wrap(Base64.getDecoder().decode(base64)), 0);
        } catch (java.util.zip.DataFormatException e) {
            throw new IllegalArgumentException("not a compressed HdrHistogram: " + e.getMessage(), e);
        }
    }

    private static String version() {
        String v = LoadRunner.class.getPackage().getImplementationVersion();
        return "sluice " + (v == null ? "dev" : v);
    }
}
