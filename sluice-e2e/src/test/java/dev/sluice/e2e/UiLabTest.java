package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabUi;
import dev.sluice.linux.Command;
import dev.sluice.linux.JavaCommand;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The service-map UI in a real browser: a two-node lab from the seed's manifests and values (which set
 * {@code hubble.ui.enabled}, so the lab starts {@code sluice ui}), the demo's client, policy and rogue pod, and
 * Debian's headless Chromium driven over the DevTools protocol. The page loads, the client's calls draw the
 * client -> product-service edge, the rogue pod's dropped call draws its edge red, and the flows table takes
 * observe's filters. The map is saved as target/ui.png (docs/ui.png is a copy). {@code lab down} stops the UI.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class UiLabTest {
    private static final Path VALUES = LabTest.ROOT.resolve("examples/seed/cilium-values.yaml");
    private Lab lab;
    private ChromiumPage page;
    private String url;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        assumeTrue(ChromiumPage.installed() || "true".equals(System.getenv("CI")), "Debian's chromium is not installed");
        // Port 0: a test lab must not take 12000 from a user's `sluice ui` (the lab writes the port it got to ui.url).
        System.setProperty(LabUi.PORT_PROPERTY, "0");
        lab = TestLabs.create("u");
        lab.up(2, ManifestReader.read(List.of(LabTest.SEED, LabTest.CLIENT, LabTest.ROOT.resolve("examples/demo/policy.yaml"),
                LabTest.ROOT.resolve("examples/demo/rogue.yaml"))), VALUES);
        url = LabUi.awaitUrl(lab, 30_000).orElseThrow(() -> new AssertionError("the lab's UI does not listen: " + LabUi.state(lab)));
        page = ChromiumPage.open(1400, 900);
    }

    @AfterAll
    void down() throws Exception {
        System.clearProperty(LabUi.PORT_PROPERTY);
        if (page != null) {
            page.close();
        }
        if (lab != null) {
            TestLabs.down(lab);
        }
    }

    private Command.Result inPod(String deployment, String... args) {
        return lab.execCapture("deploy/" + deployment, JavaCommand.sluice(args));
    }

    private static String edge(String from, String to) {
        return "document.querySelector('#map .edge[data-from=\"" + from + "\"][data-to=\"" + to + "\"]')";
    }

    @Test
    @Order(1)
    void thePageLoadsOnLoopbackAndGoesLive() throws Exception {
        URI uri = URI.create(url);
        assertEquals("127.0.0.1", uri.getHost(), url);
        assertTrue(LabUi.state(lab) instanceof LabUi.State.Serving, LabUi.state(lab).toString());
        page.navigate(url + "?namespace=default");
        assertEquals("Sluice · service map", page.eval("document.title").asText());
        page.await("document.getElementById('live').textContent === 'live'", 15);
        page.await("[...document.querySelectorAll('#namespace option')].some(o => o.value === 'default' && o.selected)", 30);
    }

    @Test
    @Order(2)
    void theClientsCallsDrawTheClientToProductServiceEdge() throws Exception {
        // A generous deadline: this 2-core machine also runs the UI, Chromium and the lab.
        Command.Result client = inPod("client", "call", "--grpc", "-n", "4", "--timeout", "10s", "product-service:50051");
        assertEquals(0, client.exitCode(), client.stdout() + client.stderr());
        String edge = edge("default/client", "svc:default/product-service");
        JsonNode state = page.awaitValue(edge + "?.dataset.state", v -> v.asText().equals("forwarded"), 15);
        assertEquals("forwarded", state.asText());
        // Counted as the flows arrive (the edge is drawn with the first of them).
        page.awaitValue(edge + ".dataset.forwarded", v -> v.asInt() >= 4, 15);
        String labels = page.eval("[..." + edge + ".querySelectorAll('text')].map(t => t.textContent).join(' | ')").asText();
        assertTrue(labels.contains("TCP · 50051") && labels.contains("conn/s"), labels);
        // The Service's backends: the workloads that answered, behind a grey edge.
        page.await("[...document.querySelectorAll('#map .edge.backend')].some(e => e.dataset.from === 'svc:default/product-service'"
                + " && e.dataset.to.startsWith('default/product-service-v'))", 10);
        assertEquals("rgb(46, 157, 91)", page.eval("getComputedStyle(" + edge + ".querySelector('path')).stroke").asText(), "green");
        assertFalse(page.eval("!!document.querySelector('#map .edge.dropped')").asBoolean(), "nothing dropped yet");
    }

    @Test
    @Order(3)
    void aPolicyDropTurnsTheRoguesEdgeRedNamingThePolicy() throws Exception {
        Command.Result rogue = inPod("some-rogue-pod", "call", "--grpc", "-n", "1", "--timeout", "1s", "product-service:50051");
        assertNotEquals(0, rogue.exitCode(), "the rogue pod is denied: " + rogue.stdout());
        String edge = edge("default/some-rogue-pod", "svc:default/product-service");
        page.awaitValue(edge + "?.dataset.state", v -> v.asText().equals("dropped"), 15);
        assertEquals("rgb(217, 59, 59)", page.eval("getComputedStyle(" + edge + ".querySelector('path')).stroke").asText(), "red");
        String labels = page.eval("[..." + edge + ".querySelectorAll('text')].map(t => t.textContent).join(' | ')").asText();
        assertTrue(labels.contains("Policy denied by default/product-service-from-client"), labels);
        assertEquals("forwarded", page.eval(edge("default/client", "svc:default/product-service") + ".dataset.state").asText(),
                "the client's edge stays green");
    }

    @Test
    @Order(4)
    void theFlowsTableTakesObservesFilters() throws Exception {
        page.await("document.querySelectorAll('#flows tr').length > 0", 15);
        filter("--verdict DROPPED");
        JsonNode verdicts = page.awaitValue("[...document.querySelectorAll('#flows tr td.verdict')].map(td => td.textContent)",
                v -> v.size() > 0, 15);
        verdicts.forEach(v -> assertEquals("DROPPED", v.asText(), verdicts.toString()));
        assertTrue(page.eval("[...document.querySelectorAll('#flows tr')].some(tr => tr.textContent.includes('some-rogue-pod'))").asBoolean());

        filter("--from-pod client --not --verdict DROPPED");
        JsonNode sources = page.awaitValue("[...document.querySelectorAll('#flows tr')].map(tr => tr.children[2].textContent)",
                v -> v.size() > 0, 15);
        sources.forEach(s -> assertTrue(s.asText().startsWith("default/client-"), sources.toString()));

        filter("--verdict SIDEWAYS");
        JsonNode error = page.awaitValue("document.getElementById('filter-error').textContent", v -> !v.asText().isEmpty(), 10);
        assertTrue(error.asText().contains("unknown verdict \"SIDEWAYS\""), error.asText());
        assertEquals(0, page.eval("document.querySelectorAll('#flows tr').length").asInt(), "no rows under a filter that was refused");
    }

    private void filter(String flags) throws Exception {
        page.eval("document.getElementById('filter').value = " + new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(flags)
                + "; document.getElementById('filter-form').requestSubmit(); true");
    }

    @Test
    @Order(5)
    void theSeedsCanaryMakesTheClientsEdgeAnL7One() throws Exception {
        lab.apply(ManifestReader.read(List.of(LabTest.ROOT.resolve("examples/seed/canary-routing.yaml"))));
        Command.Result client = inPod("client", "call", "--grpc", "--same-connection", "-n", "50", "--timeout", "10s", "product-service:50051");
        assertEquals(0, client.exitCode(), client.stdout() + client.stderr());
        // Through the node proxy: its request flows name the Service, so the same edge now counts requests.
        String edge = edge("default/client", "svc:default/product-service");
        page.awaitValue("[..." + edge + ".querySelectorAll('text')].map(t => t.textContent).join(' | ')",
                v -> v.asText().contains("HTTP/2") && v.asText().contains("req/s"), 15);
        assertEquals("forwarded", page.eval(edge + ".dataset.state").asText());
    }

    @Test
    @Order(6)
    void aScreenshotOfTheMap() throws Exception {
        filter("");
        page.await("document.querySelectorAll('#flows tr').length > 5", 15);
        Thread.sleep(600); // a last graph event (rates) drawn
        Path png = Path.of("target", "ui.png");
        Files.write(png, page.screenshot(1400, 900));
        assertTrue(Files.size(png) > 10_000, "a real picture: " + Files.size(png) + " bytes");
    }

    @Test
    @Order(7)
    void statusAllNodesMergesTheNodesAndShowsTheUi() {
        CliRun status = CliRun.of(lab, "status", "--all-nodes");
        assertEquals(0, status.exit(), status.out() + status.err());
        List<String> lines = status.lines();
        assertTrue(lines.contains(String.format("%-24s %s", "Agents:", "2/2 running")), status.out());
        assertTrue(lines.contains(String.format("%-24s %s", "Agent:", "Ok (all 2 nodes)")), status.out());
        assertTrue(lines.contains(String.format("%-24s %s", "UI (sluice ui):", "Ok: " + url + " (pid "
                + ((LabUi.State.Serving) LabUi.state(lab)).pid() + ")")), status.out());
        // No node's own block: after the lab's lines, each agent key once, either shared or naming both nodes under it.
        assertTrue(lines.stream().noneMatch(l -> l.startsWith("Agent node-")), status.out());
        List<String> merged = lines.subList(lines.indexOf(String.format("%-24s %s", "Agents:", "2/2 running")), lines.size());
        List<String> keys = merged.stream().filter(l -> !l.startsWith(" ")).map(l -> l.split(":")[0]).toList();
        assertEquals(keys.size(), keys.stream().distinct().count(), status.out());
        assertTrue(merged.stream().anyMatch(l -> l.endsWith("(all 2 nodes)") && !l.startsWith("Agent:")), status.out());
        System.out.println("sluice status --all-nodes:\n" + status.out());
    }

    @Test
    @Order(8)
    void labDownStopsTheUi() throws Exception {
        int port = URI.create(url).getPort();
        LabUi.State before = LabUi.state(lab);
        long pid = assertInstanceOf(LabUi.State.Serving.class, before).pid();
        TestLabs.down(lab);
        lab = null;
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "the UI process " + pid + " is gone");
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            throw new AssertionError("something still listens on " + port);
        } catch (java.net.ConnectException expected) {
            // nothing listens any more
        }
    }
}
