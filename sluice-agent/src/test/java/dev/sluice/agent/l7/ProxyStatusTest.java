package dev.sluice.agent.l7;

import dev.sluice.proxy.control.v1.ProxyStats;
import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The `Proxy:` status line carries what the proxy reports, each counter under its own name. */
class ProxyStatusTest {
    @Test
    void theStatusLineShowsTheUpstreamCounters() {
        ProxyStats stats = ProxyStats.newBuilder().setTransport("epoll").addListeners("default/product-service:50051 on 169.254.1.1:15001")
                .setDownstreamConnections(3).setRequests(1200).setLocalReplies(7).setTimeouts(2).setUpstreamConnects(11)
                .setClientSourceConnects(5).setUpstreamIdleCloses(4).setEjections(1).setDatapathDrops(6).build();
        String line = ProxyStatus.describe(new ProxySupervisor.State(true, 42, 0, 0, "", 0),
                Optional.of(new ProxyControlServer.Session(42, 0)), stats, "xDS version 1 acked", 70_000);
        for (String part : new String[] {"3 downstream connection(s)", "1200 request(s)", "7 answered locally", "2 timed out",
                "upstream 11 connect(s) (5 from client addresses, 4 closed idle)", "1 ejection(s)", "6 dropped by the backend's policy"}) {
            assertTrue(line.contains(part), part + " in " + line);
        }
    }
}
