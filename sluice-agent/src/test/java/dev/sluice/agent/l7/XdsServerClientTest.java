package dev.sluice.agent.l7;

import dev.sluice.l7.route.Cluster;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.VirtualHost;
import dev.sluice.l7.route.WeightedCluster;
import dev.sluice.l7.xds.EnvoyTypes;
import dev.sluice.l7.xds.ListenerBinding;
import dev.sluice.l7.xds.ProxyConfig;
import dev.sluice.l7.xds.XdsResources;
import dev.sluice.l7.xds.XdsSnapshot;
import dev.sluice.proxy.xds.XdsClient;
import io.envoyproxy.envoy.admin.v3.ConfigDump;
import io.envoyproxy.envoy.admin.v3.ListenersConfigDump;
import io.envoyproxy.envoy.config.cluster.v3.Cluster.DiscoveryType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent's xDS server and the proxy's xDS client over a real unix socket, in this JVM: the served resources
 * become the client's route table, an update is applied, a set the proxy cannot use is NACKed (with the reason, seen
 * by the server) and the previous table stays, and the client reconnects to a restarted server.
 */
class XdsServerClientTest {
    private static final String NODE = "node-1";

    @TempDir
    Path dir;

    private static RouteTable table(int v1Weight, int v2Weight) {
        ServiceRoutes web = new ServiceRoutes("default", "web", 80, "10.96.0.20", "CiliumEnvoyConfig default/web",
                List.of(new VirtualHost("web", List.of("web:80", "10.96.0.20:80"), List.of(new Route("web/all", Route.PathKind.PREFIX, "/", true,
                        List.of(), List.of(new WeightedCluster("default/web-v1", v1Weight), new WeightedCluster("default/web-v2", v2Weight)))))));
        return new RouteTable(List.of(web), Map.of(
                "default/web-v1", new Cluster("default/web-v1", LbPolicy.ROUND_ROBIN, Duration.ofSeconds(5),
                        List.of(new Endpoint("127.0.40.1", 8080, "default/web-v1-0"), new Endpoint("127.0.40.2", 8080, "default/web-v1-1")), true),
                "default/web-v2", new Cluster("default/web-v2", LbPolicy.LEAST_REQUEST, Duration.ofSeconds(5),
                        List.of(new Endpoint("127.0.41.1", 8080, "default/web-v2-0")), true)));
    }

    private static XdsSnapshot snapshot(RouteTable table) {
        return XdsResources.of(table, "127.0.0.1", Map.of("default/web:80", 15001));
    }

    @Test
    void servedResourcesBecomeTheClientsTableUpdatesApplyANackKeepsThePreviousAndTheClientReconnects() throws Exception {
        Path socket = dir.resolve("node-1.xds.sock");
        Path dump = dir.resolve("node-1.config_dump.json");
        LinkedBlockingQueue<ProxyConfig> applied = new LinkedBlockingQueue<>();
        XdsServer server = XdsServer.start(socket);
        XdsClient client = null;
        try {
            String v1 = server.serve(NODE, snapshot(table(90, 10)));
            assertEquals(v1, server.serve(NODE, snapshot(table(90, 10))), "the same resources keep their version");
            client = new XdsClient(socket, NODE, applied::add, dump).start();

            ProxyConfig first = applied.poll(10, TimeUnit.SECONDS);
            assertNotNull(first, "the client applied nothing");
            assertEquals(table(90, 10), first.table());
            assertEquals(List.of(new ListenerBinding("default/web:80", "default/web:80", "127.0.0.1", 15001, true)), first.listeners());
            assertTrue(server.awaitAck(NODE, 5_000));
            assertEquals(v1, server.ackedVersion(NODE).orElseThrow());
            assertEquals(v1, client.appliedVersion());
            assertEquals(Map.of("Listener", v1, "RouteConfiguration", v1, "Cluster", v1, "ClusterLoadAssignment", v1), client.versions());

            // An update: 50/50.
            String v2 = server.serve(NODE, snapshot(table(50, 50)));
            assertTrue(server.awaitAck(NODE, 5_000));
            assertEquals(v2, server.ackedVersion(NODE).orElseThrow());
            ProxyConfig latest = drainLatest(applied);
            assertEquals(table(50, 50), latest.table());

            // A set the proxy cannot run (a STRICT_DNS cluster): NACKed with the reason; the client keeps v2.
            XdsSnapshot good = snapshot(table(50, 50));
            var dns = good.clusters().getFirst().toBuilder().setType(DiscoveryType.STRICT_DNS).clearEdsClusterConfig().build();
            String v3 = server.serve(NODE, new XdsSnapshot(good.listeners(), good.routes(), List.of(dns, good.clusters().get(1)), good.endpoints()));
            assertFalse(server.awaitAck(NODE, 5_000));
            var nack = server.lastNack(NODE).orElseThrow();
            long nacksSeen = client.nacks();
            assertEquals(EnvoyTypes.CLUSTER, nack.type());
            assertEquals(v3, nack.version());
            assertEquals("Cluster default/web-v1: type STRICT_DNS is not supported (EDS and STATIC are)", nack.message());
            assertTrue(server.ackedVersion(NODE).isEmpty());
            // The other types of v3 are ACKed (as Envoy does per type); what the proxy runs did not change.
            assertNull(applied.poll(300, TimeUnit.MILLISECONDS), "a NACKed set was applied");
            assertEquals(v2, client.versions().get("Cluster"));
            assertEquals(v3, client.versions().get("Listener"));
            assertEquals(DiscoveryType.EDS, client.snapshot().clusters().getFirst().getType(), "the client holds the previous clusters");

            // The server answers a NACK with the same version again; the client NACKs it again no more than every 2 s.
            Thread.sleep(1_000);
            assertTrue(client.nacks() - nacksSeen <= 1, "NACKs in a loop: " + (client.nacks() - nacksSeen));

            // What the client holds, as Envoy's config dump.
            ConfigDump.Builder parsed = ConfigDump.newBuilder();
            EnvoyTypes.PARSER.merge(Files.readString(dump), parsed);
            ListenersConfigDump listeners = parsed.getConfigs(0).unpack(ListenersConfigDump.class);
            assertEquals("default/web:80", listeners.getDynamicListeners(0).getName());
            assertEquals(v3, listeners.getDynamicListeners(0).getActiveState().getVersionInfo());
            assertEquals(v2, parsed.getConfigs(2).unpack(io.envoyproxy.envoy.admin.v3.ClustersConfigDump.class).getVersionInfo());

            // The agent restarts: a new server on the same socket; the client reconnects and takes its resources.
            server.close();
            server = XdsServer.start(socket);
            String v4 = server.serve(NODE, snapshot(table(70, 30)));
            assertTrue(server.awaitAck(NODE, 10_000), "the client did not come back: " + client.describe());
            assertEquals(v4, client.appliedVersion());
            assertEquals(table(70, 30), drainLatest(applied).table());
            assertTrue(client.describe().contains("1 reconnect(s)"), client.describe());
        } finally {
            if (client != null) {
                client.close();
            }
            server.close();
        }
    }

    private static ProxyConfig drainLatest(LinkedBlockingQueue<ProxyConfig> q) throws InterruptedException {
        ProxyConfig last = q.poll(5, TimeUnit.SECONDS);
        assertNotNull(last, "nothing applied");
        for (ProxyConfig next; (next = q.poll(200, TimeUnit.MILLISECONDS)) != null; ) {
            last = next;
        }
        return last;
    }
}
