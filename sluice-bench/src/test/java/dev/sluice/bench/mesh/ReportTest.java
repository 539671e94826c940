package dev.sluice.bench.mesh;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The arithmetic between the measurements and the table: parsing, medians, spread, goals, the files and compare. */
class ReportTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void readsTheLoadGeneratorsFortioJson() throws Exception {
        LoadRun.Outcome o = LoadRun.parse(JSON.readTree("""
                {"ActualQPS": 999.5, "RetCodes": {"SERVING": 59990, "UNAVAILABLE": 10},
                 "DurationHistogram": {"Count": 60000, "Max": 0.012,
                   "Data": [{"Start": 0.0001, "End": 0.0002, "Percent": 40, "Count": 24000}, {"Start": 0.0002, "End": 0.001, "Percent": 100, "Count": 36000}],
                   "Percentiles": [{"Percentile": 50, "Value": 0.00025}, {"Percentile": 90, "Value": 0.0008}, {"Percentile": 99, "Value": 0.002},
                                   {"Percentile": 99.9, "Value": 0.005}]},
                 "Sluice": {"Unsent": 3, "Uncorrected": {"Max": 0.01, "Percentiles": [{"Percentile": 99, "Value": 0.0015}]}}}
                """));
        assertEquals(999.5, o.actualQps());
        assertEquals(60000, o.requests());
        assertEquals(10, o.errors());
        assertEquals(3, o.unsent());
        assertEquals(0.25, o.corrected().p50(), 1e-9);
        assertEquals(2.0, o.corrected().p99(), 1e-9);
        assertEquals(5.0, o.corrected().p999(), 1e-9);
        assertEquals(12.0, o.corrected().max(), 1e-9);
        assertTrue(Double.isNaN(o.corrected().p75()), "a percentile the file lacks is not made up");
        assertEquals(1.5, o.uncorrected().p99(), 1e-9);
        assertEquals(2, o.spectrum().size());
        assertEquals(1.0, o.spectrum().get(1)[1], 1e-9);
    }

    @Test
    void plotsTheWholeHistogramWhenTheLoadGeneratorGivesIt() throws Exception {
        org.HdrHistogram.Histogram h = new org.HdrHistogram.Histogram(1, 3_600_000_000_000L, 3);
        for (int i = 1; i <= 1000; i++) {
            h.recordValue(i * 1_000_000L); // 1 ms .. 1000 ms
        }
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(h.getNeededByteBufferCapacity());
        h.encodeIntoCompressedByteBuffer(buf);
        String encoded = java.util.Base64.getEncoder().encodeToString(java.util.Arrays.copyOf(buf.array(), buf.position()));
        LoadRun.Outcome o = LoadRun.parse(JSON.readTree("{\"ActualQPS\": 1, \"RetCodes\": {\"OK\": 1000}, \"DurationHistogram\": {\"Count\": 1000,"
                + " \"Data\": [{\"End\": 1, \"Percent\": 100}]}, \"Sluice\": {\"CorrectedHdr\": \"" + encoded + "\"}}"));
        assertEquals(61, o.spectrum().size());
        assertEquals(0.0, o.spectrum().getFirst()[0], 1e-9);
        assertEquals(99.9, o.spectrum().getLast()[0], 1e-9);
        assertEquals(999, o.spectrum().getLast()[1], 1.0); // the 99.9th of 1..1000 ms
        assertEquals(900, o.spectrum().get(20)[1], 1.0); // 90 %
    }

    @Test
    void countsPacketsOfTheRulesWithATarget() {
        String listing = """
                Chain OUTPUT (policy ACCEPT 3 packets, 180 bytes)
                    pkts      bytes target     prot opt in     out     source               destination
                      50     3000 REDIRECT   6    --  *      *       0.0.0.0/0            0.0.0.0/0            tcp dpt:50051 ! owner UID match 1337 redir ports 15001
                Chain KUBE-SEP-X (1 references)
                       7      420 DNAT       6    --  *      *       0.0.0.0/0            0.0.0.0/0            tcp to:10.244.1.11:50051
                       5      300 DNAT       6    --  *      *       0.0.0.0/0            0.0.0.0/0            tcp to:10.244.1.12:50051
                """;
        assertEquals(50, Sidecars.packets(listing, "REDIRECT"));
        assertEquals(12, Sidecars.packets(listing, "DNAT"));
        assertEquals(0, Sidecars.packets(listing, "MASQUERADE"));
    }

    @Test
    void mediansSpreadGoalsAndTheFiles(@TempDir Path dir) throws Exception {
        BenchSettings s = new BenchSettings(Scenario.all(), 1000, Duration.ofSeconds(60), Duration.ofSeconds(5), Duration.ofSeconds(5), 50, 0, 3,
                false, dir, dir, List.of());
        List<Results.Run> runs = new ArrayList<>();
        // p50/p99 per scenario (ms), the same in each rep but the sidecar's p99, which varies (spread 0.5 of the median 10)
        Map<Scenario, double[]> lat = Map.of(Scenario.NO_MESH, new double[] {0.20, 0.50}, Scenario.KUBE_PROXY, new double[] {0.22, 0.55},
                Scenario.SIDECAR, new double[] {0.80, 10.0}, Scenario.SLUICE_L4, new double[] {0.21, 0.52},
                Scenario.SLUICE_L7, new double[] {0.40, 6.0}, Scenario.SLUICE_BYPASS, new double[] {0.19, 0.50});
        for (int rep = 1; rep <= 3; rep++) {
            for (Scenario sc : Scenario.all()) {
                double[] l = lat.get(sc);
                double p99 = sc == Scenario.SIDECAR ? new double[] {8, 10, 13}[rep - 1] : l[1];
                double proxy = sc == Scenario.SIDECAR ? 0.4 : sc == Scenario.SLUICE_L7 ? 0.2 : 0;
                runs.add(new Results.Run(sc.id(), rep, 1000, 1000, 60000, 0, sc == Scenario.SLUICE_L7 ? 1000 : 0, Map.of("SERVING", 60000L),
                        new Results.Latency(l[0], l[0], l[0], p99, p99, p99), new Results.Latency(l[0], l[0], l[0], p99, p99, p99),
                        new Results.Cpu(0.1, 0.2, proxy, 0.01, 0.5, 0.05, 0.01), 55, new Results.Memory(50, 200, sc == Scenario.SLUICE_L7 ? 150 : 0),
                        sc == Scenario.SLUICE_L7 ? 3.0 : Double.NaN, 2, List.of(new double[] {50, l[0]}, new double[] {99, p99}), ""));
            }
        }
        Results.Bench b = Report.build(s, new Results.Machine("6.18", "cpu", 2, "0.1", "0.2"), runs);
        Results.Summary side = b.summaries().get(2);
        assertEquals(10.0, side.corrected().p99(), 1e-9);
        assertEquals(0.5, side.spread().get("p99"), 1e-9);
        assertTrue(side.noisy());
        assertFalse(b.summaries().getFirst().noisy());
        Map<String, Boolean> goals = new java.util.LinkedHashMap<>();
        b.goals().forEach(g -> goals.put(g.name(), g.met()));
        assertEquals(Boolean.TRUE, goals.get("Sluice L4 p50 and p99 within 10 % of no mesh")); // 1.05x, 1.04x
        assertEquals(Boolean.TRUE, goals.get("sidecar p99 at least 3x Sluice L4 p99"));
        assertEquals(Boolean.FALSE, goals.get("Sluice L7 p99 at most 0.5x the sidecars'")); // 0.6x
        assertEquals(Boolean.FALSE, goals.get("Sluice L7 proxy CPU at most 0.25x the sidecars'")); // 0.5x
        assertEquals(Boolean.FALSE, goals.get("node proxy at most 0.15 vCPU per 1,000 requests/s")); // 0.2
        assertEquals(Boolean.TRUE, goals.get("node proxy RSS at most 200 MiB"));
        assertEquals(Boolean.TRUE, goals.get("no node-proxy GC pause over 5 ms"));
        assertEquals(Boolean.FALSE, goals.get("Sluice L4+bypass p50 at least 15 % below Sluice L4")); // 0.90x
        assertTrue(b.notes().stream().anyMatch(n -> n.startsWith("sidecar: high noise")), b.notes().toString());
        assertTrue(b.notes().stream().anyMatch(n -> n.startsWith("Sluice L7: 3000 requests unsent")), b.notes().toString());

        StringWriter table = new StringWriter();
        Report.print(b, new PrintWriter(table), true);
        assertTrue(table.toString().contains("\u001b[31mMISSED Sluice L7 p99 at most 0.5x the sidecars'"), table.toString());
        assertTrue(table.toString().contains("20.0x lower"), "no mesh p99 0.5 against the sidecar's 10: " + table);

        assertTrue(table.toString().contains("1.7x lower"), "Sluice L7's 6 ms against 10: " + table);
        assertEquals("2.0x higher", Report.vsSidecar(0.5));
        Report.write(b, dir);
        Results.Bench back = Report.read(dir.resolve("results.json"));
        assertEquals(b.summaries(), back.summaries(), "results.json reads back as written");
        assertEquals(b.goals(), back.goals());
        StringWriter cmp = new StringWriter();
        Compare.print(dir.resolve("results.json"), dir.resolve("results.json"), new PrintWriter(cmp));
        assertTrue(cmp.toString().contains("+0.0 %"), cmp.toString());
    }
}
