package dev.sluice.agent.l7;

import dev.sluice.l7.route.Endpoint;
import dev.sluice.proxy.Admission;
import dev.sluice.proxy.control.ControlClient;
import dev.sluice.proxy.control.v1.AccessRecord;
import dev.sluice.proxy.control.v1.ProxyHello;
import dev.sluice.proxy.control.v1.ProxyStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The control channel between the agent and its proxy over a real unix domain socket: the session and the
 * policy revisions pushed on it, admission cached per policy revision and refused when the agent is gone, reports.
 */
class ProxyControlChannelTest {
    private static final Endpoint V1 = new Endpoint("10.244.1.5", 50051, "default/v1-a");
    private static final Endpoint V2 = new Endpoint("10.244.2.7", 50051, "default/v2-a");

    @Test
    void sessionAdmissionCachedPerRevisionReportsAndFailClosedWhenTheAgentIsGone(@TempDir Path dir) throws Exception {
        AtomicLong revision = new AtomicLong(1);
        AtomicInteger decided = new AtomicInteger();
        // The rogue's address is denied, every other client allowed, with an L7 rule (GET /public.* only) toward V2.
        var getOnly = new dev.sluice.l7.policy.Admitted(true, "L7 policy", java.util.List.of(new dev.sluice.l7.policy.HttpRule("GET",
                "/public.*", null, java.util.List.of(new dev.sluice.l7.policy.HttpRule.Header("x-team", null)),
                "CiliumNetworkPolicy default/web spec.ingress[0].toPorts[0].rules.http[0]")));
        Admission policy = new Admission() {
            @Override
            public Optional<String> deny(InetSocketAddress client, Endpoint backend) {
                decided.incrementAndGet();
                return client.getAddress().getHostAddress().equals("10.244.1.66")
                        ? Optional.of("default deny on ingress of default/" + backend.address() + " (product-service-from-client)")
                        : Optional.empty();
            }

            @Override
            public dev.sluice.l7.policy.Admitted decide(InetSocketAddress client, Endpoint backend) {
                var l4 = Admission.super.decide(client, backend);
                return l4.allowed() && backend.key().equals(V2.key()) ? getOnly : l4;
            }
        };
        Path socket = dir.resolve("proxy/n1.sock");
        ProxyControlServer server = ProxyControlServer.start(socket, policy, revision::get);
        LinkedBlockingQueue<dev.sluice.proxy.AccessRecord> records = new LinkedBlockingQueue<>();
        server.accessLog(records::add);
        ControlClient client = ControlClient.connect("unix:" + socket);
        CompletableFuture<String> ended = new CompletableFuture<>();
        client.attach(ProxyHello.newBuilder().setPid(4242).setNode("n1").build(), ended::complete);

        long deadline = System.currentTimeMillis() + 5_000;
        while (server.session().isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(4242, server.session().orElseThrow().pid());
        while (client.admission().revision() != 1 && System.currentTimeMillis() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(1, client.admission().revision(), "the revision is pushed on attach");

        var admission = client.admission();
        var good = new InetSocketAddress("10.244.1.9", 40000);
        var rogue = new InetSocketAddress("10.244.1.66", 40001);
        assertEquals(Optional.empty(), admission.deny(good, V1));
        assertEquals(Optional.of("default deny on ingress of default/10.244.1.5 (product-service-from-client)"), admission.deny(rogue, V1));
        // Answers are kept per (client IP, backend): another port of the same client asks nobody.
        assertEquals(Optional.empty(), admission.deny(new InetSocketAddress("10.244.1.9", 40002), V1));
        assertTrue(admission.deny(new InetSocketAddress("10.244.1.66", 40003), V1).isPresent());
        assertEquals(2, decided.get(), "two pairs, two questions");
        assertEquals(getOnly, admission.decide(good, V2), "L7 rules cross intact");
        assertEquals(3, decided.get(), "another backend is another pair");
        assertTrue(admission.decide(good, V2).denies("POST", "/public/x", "web", h -> java.util.List.of("a")).isPresent());

        // Policy changed: the agent pushes the revision, the proxy forgets what it was told.
        revision.set(2);
        server.policyRevision(2);
        while (admission.revision() != 2 && System.currentTimeMillis() < deadline + 5_000) {
            Thread.sleep(10);
        }
        assertEquals(0, admission.cached());
        admission.deny(good, V1);
        assertEquals(4, decided.get());
        admission.deny(good, V1);
        assertEquals(4, decided.get(), "cached again at the new revision");

        client.stats(ProxyStats.newBuilder().setRequests(12).setTransport("epoll").addListeners("0.0.0.0:15001").build());
        var sent = new dev.sluice.proxy.AccessRecord(java.time.Instant.ofEpochSecond(1_764_000_000, 123), 456_000,
                new InetSocketAddress("10.244.1.9", 40000), "10.244.1.5", 50051, "default/v1-a", "default/product-service", 50051,
                "default/product-service-v1", "h2c", "POST", "http", "product-service:50051", "/sluice.echo.v1.Echo/Ping", 200, 0, "",
                dev.sluice.proxy.AccessRecord.Verdict.FORWARDED, "");
        client.accessLog(dev.sluice.proxy.control.ControlCodec.record(sent));
        // A record the agent cannot read (no verdict) is dropped and counted; the stream goes on.
        client.accessLog(AccessRecord.newBuilder().setClientIp("10.244.1.9").build());
        assertEquals(sent, records.poll(5, TimeUnit.SECONDS));
        assertEquals(12, server.stats().getRequests());
        while (server.accessRecords() < 2 && System.currentTimeMillis() < deadline + 10_000) {
            Thread.sleep(10);
        }
        assertEquals(2, server.accessRecords());
        assertEquals(1, server.badRecords());

        // The agent goes: the proxy's session ends (it exits on that), and nothing is admitted any more.
        server.close();
        assertTrue(ended.get(5, TimeUnit.SECONDS).contains("agent"), ended.get());
        var unavailable = assertThrows(Admission.Unavailable.class, () -> admission.deny(new InetSocketAddress("10.244.1.10", 1), V1));
        assertTrue(unavailable.getMessage().contains("refused rather than let past network policy"), unavailable.getMessage());
        client.close();
    }
}
