package dev.sluice.proxy;

import dev.sluice.l7.route.Cluster;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.VirtualHost;
import dev.sluice.l7.route.WeightedCluster;
import dev.sluice.l7.xds.ListenerBinding;
import dev.sluice.l7.xds.ProxyConfig;
import dev.sluice.l7.xds.XdsResources;
import dev.sluice.l7.xds.XdsRouteTable;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A listener per redirected Service port: the proxy routes a request only within the Service of the listener it
 * arrived on, so a call by ClusterIP authority finds the Service's routes, and another Service's catch-all
 * virtual host never takes it.
 */
class ProxyListenerTest {
    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void eachListenerRoutesWithinItsServiceAndACallByClusterIpWorks() throws Exception {
        try (SeedBackends backends = new SeedBackends(30)) {
            // The seed, plus a Service whose virtual host takes any authority (and has no endpoints).
            List<ServiceRoutes> services = new ArrayList<>(backends.table.services());
            services.add(new ServiceRoutes("test", "any", 80, "10.96.0.99", "test", List.of(new VirtualHost("any", List.of("*"),
                    List.of(new Route("all", Route.PathKind.PREFIX, "/", true, List.of(), List.of(new WeightedCluster("test/none", 1))))))));
            Map<String, Cluster> clusters = new HashMap<>(backends.table.clusters());
            clusters.put("test/none", new Cluster("test/none", LbPolicy.ROUND_ROBIN, Duration.ofSeconds(1), List.of(), true));
            int seedPort = freePort();
            int anyPort = freePort();
            ProxyConfig config = XdsRouteTable.toProxyConfig(XdsResources.of(new RouteTable(services, clusters), "127.0.0.1",
                    Map.of("default/product-service:50051", seedPort, "test/any:80", anyPort)));
            assertEquals(2, config.listeners().size());

            try (ProxyServer proxy = ProxyServer.create(RouteTableSource.updatable(config.table()), ProxyServer.Options.defaults(), Admission.ALL)) {
                assertEquals(List.of(), proxy.listen(config.listeners()));
                assertEquals(Map.of("default/product-service:50051", "127.0.0.1:" + seedPort, "test/any:80", "127.0.0.1:" + anyPort),
                        proxy.listeners());

                // By ClusterIP (the Service's other names are domains of its virtual host), on the Service's listener.
                ManagedChannel byIp = SeedBackends.channel(seedPort, "10.96.0.10:50051");
                try {
                    for (int i = 0; i < 20; i++) {
                        assertEquals("call-" + i, SeedBackends.blocking(byIp).ping(SeedBackends.ping(i)).getMessage());
                    }
                } finally {
                    byIp.shutdownNow();
                }
                // An authority the Service does not answer to gets no route there, though test/any's "*" would take it.
                ManagedChannel other = SeedBackends.channel(seedPort, "elsewhere:80");
                try {
                    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                            () -> SeedBackends.blocking(other).ping(SeedBackends.ping(0)));
                    assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode());
                } finally {
                    other.shutdownNow();
                }
                // On test/any's listener the seed's authority routes to test/any's cluster (no endpoints).
                ManagedChannel any = SeedBackends.channel(anyPort, "product-service:50051");
                try {
                    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                            () -> SeedBackends.blocking(any).ping(SeedBackends.ping(0)));
                    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
                } finally {
                    any.shutdownNow();
                }

                // The listener of a Service no longer redirected is closed; the other stays.
                List<ListenerBinding> remaining = config.listeners().stream().filter(l -> l.port() == seedPort).toList();
                assertEquals(List.of(), proxy.listen(remaining));
                assertEquals(Map.of("default/product-service:50051", "127.0.0.1:" + seedPort), proxy.listeners());
            }
        }
    }
}
