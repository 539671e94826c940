package dev.sluice.observe.cli;

import dev.sluice.observe.FlowFormat;
import dev.sluice.observe.FlowRing;
import dev.sluice.observe.Flows;
import dev.sluice.observe.ObserverServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.ZoneOffset;
import java.util.List;
import java.util.OptionalInt;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ObserveCommandTest {
    @TempDir
    Path dir;
    private ObserverServer server;
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @BeforeEach
    void start() {
        FlowRing ring = new FlowRing(10);
        Stream.of(Flows.forwarded(), Flows.reply(), Flows.httpResponse(), Flows.udpToService(), Flows.icmpFromWorld(),
                Flows.dropped()).forEach(ring::add);
        server = ObserverServer.start(ring, "node-2", dir.resolve("hubble.sock"), OptionalInt.of(0));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    /** Runs {@code sluice observe --server unix://... ARGS}, "now" being a minute after the flows. */
    private int observe(String... args) {
        Clock clock = Clock.fixed(Flows.T0.plusSeconds(60), ZoneOffset.UTC);
        CommandLine command = new CommandLine(new ObserveCommand(ZoneOffset.UTC, clock))
                .setOut(new PrintWriter(out)).setErr(new PrintWriter(err));
        String[] all = Stream.concat(Stream.of("--server", "unix://" + server.socket()), Stream.of(args)).toArray(String[]::new);
        return command.execute(all);
    }

    private List<dev.sluice.observe.v1.Flow> flows() throws Exception {
        List<dev.sluice.observe.v1.Flow> flows = new java.util.ArrayList<>();
        for (String line : lines()) {
            flows.add(FlowFormat.parseJson(line));
        }
        return flows;
    }

    private List<String> lines() {
        return out.toString().lines().toList();
    }

    @Test
    void toServiceInANamespacePrintsCompactLines() {
        assertEquals(0, observe("--to-service", "product-service", "-n", "default"));
        assertEquals(List.of(
                "Apr 10 12:34:56.789: default/fortio-client-xxxxx:41234 (ID:5012) -> default/product-service-v1-yyyyy:50051 (ID:7310) to-endpoint FORWARDED (TCP Flags: SYN)",
                "Apr 10 12:34:57.123: default/some-rogue-pod-zzzzz:51022 (ID:9120) <> default/product-service-v1-yyyyy:50051 (ID:7310) DROPPED (Policy denied on ingress by CiliumNetworkPolicy default/product-service-allow-fortio; TCP Flags: SYN)"),
                lines());
    }

    /** Two nodes read at once: flows merged in time order, each line naming its node; a dead node does not hide the others. */
    @Test
    void severalServersAreMergedInTimeOrderWithTheirNodes() {
        FlowRing ring1 = new FlowRing(10);
        ring1.add(Flows.udpToService().toBuilder().setTime(Flows.at(Flows.T0.plusMillis(500))).build());
        try (ObserverServer node1 = ObserverServer.start(ring1, "node-1", dir.resolve("node-1.sock"), OptionalInt.empty())) {
            assertEquals(0, observe("--server", "unix://" + node1.socket(), "--last", "3"));
            List<String> lines = lines();
            assertEquals(3, lines.size(), lines.toString());
            assertTrue(lines.get(0).startsWith("Apr 10 12:34:56.793 [node-1]: 192.0.2.1 (world)"), lines.get(0));
            assertTrue(lines.get(1).startsWith("Apr 10 12:34:57.123 [node-2]: default/some-rogue-pod-zzzzz"), lines.get(1));
            assertTrue(lines.get(2).startsWith("Apr 10 12:34:57.289 [node-1]: default/fortio-client-xxxxx:53100"), lines.get(2));

            out.getBuffer().setLength(0);
            assertEquals(0, observe("--server", "unix://" + dir.resolve("gone.sock"), "--node", "node-1"));
            assertEquals(2, lines().size(), lines().toString());
            assertTrue(err.toString().contains("gone.sock: UNAVAILABLE"), err.toString());
        }
    }

    @Test
    void followingSeveralServersPrintsNewFlowsOfEachWithinASecond() throws Exception {
        FlowRing ring1 = new FlowRing(10);
        try (ObserverServer node1 = ObserverServer.start(ring1, "node-1", dir.resolve("node-1.sock"), OptionalInt.empty())) {
            Thread running = Thread.ofPlatform().start(() -> observe("--server", "unix://" + node1.socket(), "--follow", "--last", "1",
                    "--output", "json"));
            waitFor(1);
            long start = System.nanoTime();
            ring1.add(Flows.udpToService().toBuilder().setTime(Flows.at(java.time.Instant.now())).build());
            waitFor(2);
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertTrue(ms < 1000, "a new flow printed after " + ms + " ms");
            assertTrue(lines().get(1).contains("\"nodeName\":\"node-1\""), lines().get(1));
            server.close();
            node1.close();
            running.join(5000);
            assertTrue(!running.isAlive(), "observe ends when the servers go away");
        }
    }

    private void waitFor(int lines) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (out.toString().lines().count() < lines && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(lines, out.toString().lines().count(), out.toString());
    }

    @Test
    void repeatedFlagsOfOneKindAreAlternatives() {
        assertEquals(0, observe("--protocol", "udp", "--protocol", "icmp", "-o", "json"));
        assertEquals(2, lines().size());
        assertTrue(lines().get(0).contains("\"UDP\""), lines().get(0));
        assertTrue(lines().get(1).contains("\"ICMPv4\""), lines().get(1));
    }

    /** --not takes the next filter flag for the deny filter, as hubble observe does. */
    @Test
    void notNegatesTheFlagThatFollows() throws Exception {
        assertEquals(0, observe("--not", "--type", "drop", "--from-ip", "10.0.0.0/8", "-o", "json"));
        assertEquals(List.of(Flows.forwarded(), Flows.reply(), Flows.httpResponse(), Flows.udpToService()), flows(),
                "from 10/8 and not a drop");
        out.getBuffer().setLength(0);
        // Several --not flags make one deny filter, as in hubble observe: left out is what matches all of them.
        assertEquals(0, observe("--not", "--type", "trace", "--not", "--protocol=udp", "-o", "json"));
        assertEquals(List.of(Flows.forwarded(), Flows.reply(), Flows.httpResponse(), Flows.icmpFromWorld(), Flows.dropped()), flows());
        out.getBuffer().setLength(0);
        assertEquals(0, observe("--not", "-n", "default", "-o", "json"));
        assertEquals(List.of(), lines(), "every flow has a side in default");
        assertEquals(2, observe("--not"));
        assertTrue(err.toString().contains("--not must be followed by a filter flag"), err.toString());
        assertEquals(2, observe("--not", "--output", "json"));
        assertTrue(err.toString().contains("--output is not a filter flag"), err.toString());
        assertEquals(2, observe("--from-ip", "10.0.1"));
        assertTrue(err.toString().contains("--from-ip: not an IPv4 address or prefix"), err.toString());
        assertEquals(2, observe("--identity", "me"));
        assertEquals(2, observe("--traffic-direction", "sideways"));
    }

    @Test
    void differentFlagsMustAllMatch() throws Exception {
        assertEquals(0, observe("--from-pod", "fortio", "--verdict", "forwarded", "--port", "53", "-o", "json"));
        assertEquals(List.of(Flows.udpToService()), List.of(FlowFormat.parseJson(lines().getFirst())));
    }

    @Test
    void dropReasonLastAndSince() {
        assertEquals(0, observe("--drop-reason", "Policy denied", "--since", "2m"));
        assertEquals(1, lines().size());
        out.getBuffer().setLength(0);
        assertEquals(0, observe("--since", "30s"));
        assertEquals(List.of(), lines(), "every flow is a minute old");
        assertEquals(0, observe("--last", "2", "--until", "2025-04-10T12:35:00Z", "--http-status", "5+", "-o", "table"));
        assertEquals(2, lines().size());
        assertTrue(lines().get(0).startsWith("TIMESTAMP"));
        assertTrue(lines().get(1).endsWith("HTTP/1.1 503 4ms (GET http://product-service:8080/products/42)"), lines().get(1));
    }

    @Test
    void badArgumentsAndUnreachableServersFail() {
        assertEquals(2, observe("--verdict", "maybe"));
        assertTrue(err.toString().contains("unknown verdict \"maybe\""), err.toString());
        assertEquals(2, observe("--since", "yesterday"));
        assertEquals(1, observe("--http-path", "("));
        assertTrue(err.toString().contains("INVALID_ARGUMENT"), err.toString());
        CommandLine command = new CommandLine(new ObserveCommand()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err));
        assertEquals(1, command.execute("--server", "unix://" + dir.resolve("nobody.sock")));
        assertTrue(err.toString().contains("UNAVAILABLE"), err.toString());
    }
}
