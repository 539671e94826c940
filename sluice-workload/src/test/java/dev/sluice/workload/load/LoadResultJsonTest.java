package dev.sluice.workload.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The JSON's shape: fortio's field names and units (seconds), Sluice's extra object, and reading it back. */
class LoadResultJsonTest {
    private static final long MS = 1_000_000;

    private static LoadResult simulated() {
        LoadSpec spec = new LoadSpec(new LoadSpec.Grpc("product-service", 50051, false, 0), 1000, Duration.ofSeconds(2), 50,
                LoadSpec.DEFAULT_PERCENTILES, Duration.ofSeconds(3), "no-mesh rep 1");
        SimulatedTicker ticker = new SimulatedTicker(0);
        Caller server = new Caller() {
            long n;

            @Override
            public void call(int connection, java.util.function.Consumer<Outcome> done) {
                long i = n++;
                // Answers take 1..4 ms; every 500th fails.
                ticker.schedule(ticker.nanoTime() + (1 + i % 4) * MS,
                        () -> done.accept(i % 500 == 7 ? Outcome.failure("UNAVAILABLE", "UNAVAILABLE: reset") : Outcome.success("SERVING")));
            }

            @Override
            public void close() {
            }
        };
        Schedule schedule = Schedule.of(spec, 0);
        OpenLoop loop = new OpenLoop(schedule, server, ticker, () -> { });
        loop.start();
        ticker.runAll();
        return LoadRunner.result(spec, schedule, loop, Instant.parse("2026-12-03T16:00:00Z"), 50);
    }

    @Test
    void fieldsAreFortiosWithDurationsInSeconds() throws Exception {
        JsonNode json = new ObjectMapper().readTree(simulated().toJson());
        Set<String> top = new TreeSet<>();
        json.fieldNames().forEachRemaining(top::add);
        assertTrue(top.containsAll(Set.of("RunType", "Labels", "StartTime", "RequestedQPS", "RequestedDuration",
                "ActualQPS", "ActualDuration", "NumThreads", "DurationHistogram", "ErrorsDurationHistogram", "RetCodes",
                "Destination", "Sluice")), top.toString());
        assertEquals("GRPC Health", json.get("RunType").asText());
        assertEquals("no-mesh rep 1", json.get("Labels").asText());
        assertEquals("2026-12-03T16:00:00Z", json.get("StartTime").asText());
        assertEquals("1000", json.get("RequestedQPS").asText(), "a string, as fortio writes it");
        assertEquals("2s", json.get("RequestedDuration").asText());
        assertEquals(50, json.get("NumThreads").asInt());
        assertTrue(json.get("ActualDuration").isIntegralNumber(), "nanoseconds, as fortio's");
        assertEquals("product-service:50051", json.get("Destination").asText());
        assertEquals(1996, json.get("RetCodes").get("SERVING").asLong());
        assertEquals(4, json.get("RetCodes").get("UNAVAILABLE").asLong());

        JsonNode h = json.get("DurationHistogram");
        assertEquals(1996, h.get("Count").asLong());
        assertEquals(0.001, h.get("Min").asDouble(), 1e-6);
        assertEquals(0.004, h.get("Max").asDouble(), 0.004 * 1e-3);
        assertEquals(h.get("Avg").asDouble() * 1996, h.get("Sum").asDouble(), 1e-9);
        assertTrue(h.get("StdDev").asDouble() > 0);
        List<Double> ps = h.get("Percentiles").findValues("Percentile").stream().map(JsonNode::asDouble).toList();
        assertEquals(List.of(50.0, 75.0, 90.0, 99.0, 99.9), ps);
        assertEquals(0.004, h.get("Percentiles").get(4).get("Value").asDouble(), 0.004 * 1e-3);
        JsonNode last = h.get("Data").get(h.get("Data").size() - 1);
        assertEquals(100.0, last.get("Percent").asDouble(), 1e-9, "Data's Percent is cumulative");
        long inBuckets = 0;
        for (JsonNode b : h.get("Data")) {
            inBuckets += b.get("Count").asLong();
            assertTrue(b.get("Start").asDouble() < b.get("End").asDouble());
        }
        assertEquals(1996, inBuckets);
        assertEquals(4, json.get("ErrorsDurationHistogram").get("Count").asLong());

        JsonNode sluice = json.get("Sluice");
        assertEquals(1996, sluice.get("Uncorrected").get("Count").asLong());
        assertEquals("corrected", sluice.get("CoordinatedOmission").asText());
        assertEquals(2000, sluice.get("PlannedRequests").asLong());
        assertEquals(2000, sluice.get("Requests").asLong());
        assertEquals(4, sluice.get("Errors").asLong());
        assertEquals(50, sluice.get("WarmupRequests").asLong());
        assertEquals("UNAVAILABLE: reset", sluice.get("ErrorSamples").get(0).asText());
    }

    @Test
    void readsBackIntoTheSameRecordAndTheHdrHistogramsDecode() throws Exception {
        LoadResult result = simulated();
        LoadResult back = LoadResult.parse(result.toJson());
        assertEquals(result, back);
        Histogram corrected = LoadRunner.decode(back.sluice().correctedHdr());
        assertEquals(1996, corrected.getTotalCount());
        assertEquals(result.durationHistogram().valueAt(99), corrected.getValueAtPercentile(99) / 1e9, 1e-12);
    }

    @Test
    void readsFortiosOwnJsonIgnoringWhatItDoesNotKnow() throws Exception {
        String fortio = """
                {"RunType":"GRPC Ping","Labels":"","StartTime":"2024-01-01T00:00:00.1+00:00","RequestedQPS":"max",
                 "RequestedDuration":"5s","ActualQPS":1234.5,"ActualDuration":5000123456,"NumThreads":4,
                 "Version":"1.60.0","DurationHistogram":{"Count":10,"Min":0.001,"Max":0.002,"Sum":0.015,"Avg":0.0015,
                 "StdDev":0.0001,"Data":[{"Start":0.001,"End":0.002,"Percent":100,"Count":10}],
                 "Percentiles":[{"Percentile":99,"Value":0.002}]},"Exactly":0,"Jitter":false,"Uniform":false,
                 "RunID":0,"RetCodes":{"SERVING":10},"Destination":"localhost:8079","Streams":1,"Ping":true}""";
        LoadResult r = LoadResult.parse(fortio);
        assertEquals(10, r.durationHistogram().count());
        assertEquals(0.002, r.durationHistogram().valueAt(99));
        assertEquals(null, r.sluice());
        assertEquals(0, r.errors());
    }

    @Test
    void goDurationsAsFortioWritesThem() {
        assertEquals("1m0s", LoadReport.goDuration(Duration.ofSeconds(60)));
        assertEquals("5s", LoadReport.goDuration(Duration.ofSeconds(5)));
        assertEquals("1.5s", LoadReport.goDuration(Duration.ofMillis(1500)));
        assertEquals("250ms", LoadReport.goDuration(Duration.ofMillis(250)));
        assertEquals("1h2m3s", LoadReport.goDuration(Duration.ofSeconds(3723)));
        assertEquals("59.999555505s", LoadReport.goDuration(Duration.ofNanos(59_999_555_505L)));
    }
}
