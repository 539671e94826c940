package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.lab.Lab;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `sluice bench --quick`, so the benchmark cannot rot: every scenario runs in its lab and gives a row with requests
 * and no errors, the goals are checked, the report is written, and nothing the bench made is left behind. It asserts
 * no figure: a smoke run on a shared machine measures nothing worth asserting.
 */
class BenchQuickLabTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void everyScenarioRunsAndAnswers(@TempDir Path out) throws Exception {
        Privileged.require();
        List<Lab> labs = List.of(TestLabs.create("bp"), TestLabs.create("bs"), TestLabs.create("bb"));
        try {
            StringWriter text = new StringWriter();
            CommandLine cli = dev.sluice.cli.Main.commandLine();
            cli.setOut(new PrintWriter(text));
            cli.setErr(new PrintWriter(text));
            long start = System.nanoTime();
            int exit = cli.execute("bench", "--quick", "--out", out.toString(), "--examples", LabTest.ROOT.resolve("examples").toString(),
                    "--lab-names", labs.stream().map(Lab::name).collect(Collectors.joining(",")));
            double seconds = (System.nanoTime() - start) / 1e9;
            assertEquals(0, exit, text.toString());

            JsonNode results = JSON.readTree(out.resolve("results.json").toFile());
            List<String> scenarios = new ArrayList<>();
            for (JsonNode s : results.path("summaries")) {
                scenarios.add(s.path("scenario").asText());
                assertTrue(s.path("requests").asLong() > 0, s.toString());
                assertEquals(0, s.path("errors").asLong(), s.toString());
                assertTrue(s.path("corrected").path("p50").asDouble() > 0, s.toString());
            }
            assertEquals(List.of("no-mesh", "kube-proxy", "sidecar", "sluice-l4", "sluice-l7", "sluice-bypass"), scenarios);
            for (JsonNode r : results.path("runs")) {
                assertTrue(r.path("cpu").path("client").asDouble() > 0, "client pod CPU counted: " + r);
                assertTrue(r.path("cpu").path("servers").asDouble() > 0, "server pods' CPU counted: " + r);
            }
            Set<String> goals = new java.util.HashSet<>();
            results.path("goals").forEach(g -> goals.add(g.path("name").asText()));
            assertEquals(8, goals.size(), goals.toString());
            String table = text.toString();
            assertTrue(table.contains("Sluice L4+bypass") && table.contains("p99 vs"), table);
            String html = Files.readString(out.resolve("report.html"));
            assertTrue(html.contains("<svg") && html.contains("polyline"), "latency plots in the report");
            for (Lab lab : labs) {
                assertFalse(Files.exists(lab.store().dir()), "lab " + lab.name() + " removed by the bench");
            }
            System.out.printf("sluice bench --quick took %.0f s%n%s", seconds, table);
        } finally {
            labs.forEach(TestLabs::down);
        }
    }
}
