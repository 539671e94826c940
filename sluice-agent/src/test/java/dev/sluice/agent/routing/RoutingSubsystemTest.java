package dev.sluice.agent.routing;

import dev.sluice.agent.core.Subsystem.Applied;
import dev.sluice.linux.Command;
import dev.sluice.linux.NetNs;
import dev.sluice.model.SluiceValues.Routing;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent;
import dev.sluice.model.cluster.ClusterView;
import dev.sluice.testing.Privileged;
import dev.sluice.testing.VethPair;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The routing subsystem on real namespaces (two "nodes" joined by a veth, 192.0.2.1 and .2): the routes, neighbours
 * and FDB entries it writes, nodes joining and leaving, a restarted agent's adoption, a route that cannot be
 * written, and pings between the two nodes' "pod" addresses, natively and through the VXLAN tunnel.
 */
class RoutingSubsystemTest {
    private static final Routing NATIVE = Routing.nativeRouting();
    private static final Routing TUNNEL = new Routing(Routing.Mode.TUNNEL, "vxlan", 8472);

    private static ClusterView.Node node(int i) {
        return new ClusterView.Node("n" + i, "192.0.2." + i, "10.244." + i + ".0/24", "169.254.1.1");
    }

    private static ClusterChange change(ClusterView.Node... nodes) {
        return new ClusterChange(1, List.of(new ClusterEvent.Synced()),
                new ClusterView(Arrays.asList(nodes), List.of(), List.of(), List.of(), Map.of(), List.of()));
    }

    private static ClusterChange nodesChanged(ClusterView.Node... nodes) {
        return new ClusterChange(2, List.of(new ClusterEvent.Upserted(ClusterEvent.Kind.NODE, "n")),
                new ClusterView(Arrays.asList(nodes), List.of(), List.of(), List.of(), Map.of(), List.of()));
    }

    private static String routes(NetNs ns) {
        return ns.ip("-4", "route", "show", "proto", "157");
    }

    @Test
    void nativeRoutesFollowTheNodesAndARestartAdoptsThem() {
        Privileged.require();
        try (VethPair pair = new VethPair()) {
            pair.a.ip("route", "add", "10.99.0.0/16", "via", "192.0.2.2"); // not Sluice's: must stay
            RoutingSubsystem s = RoutingSubsystem.inNamespace("n1", NATIVE, pair.a.name());
            assertEquals(Applied.ok(), s.apply(change(node(1), node(2), node(3))));
            assertEquals("10.244.2.0/24 via 192.0.2.2 dev " + pair.deviceA + " \n10.244.3.0/24 via 192.0.2.3 dev " + pair.deviceA + " \n",
                    routes(pair.a));
            assertEquals("native, 2 remote nodes", s.status().getFirst().value());

            // n3 leaves, n4 joins: only those change.
            assertTrue(s.concerns(nodesChanged(node(1), node(2), node(4))));
            s.apply(nodesChanged(node(1), node(2), node(4)));
            assertEquals("10.244.2.0/24 via 192.0.2.2 dev " + pair.deviceA + " \n10.244.4.0/24 via 192.0.2.4 dev " + pair.deviceA + " \n",
                    routes(pair.a));

            // An agent restarted while n2 left: its route goes, the others stay, a route not Sluice's is untouched.
            RoutingSubsystem restarted = RoutingSubsystem.inNamespace("n1", NATIVE, pair.a.name());
            restarted.apply(change(node(1), node(4)));
            assertEquals("10.244.4.0/24 via 192.0.2.4 dev " + pair.deviceA + " \n", routes(pair.a));
            assertTrue(pair.a.ip("-4", "route", "show").contains("10.99.0.0/16 via 192.0.2.2"));
        }
    }

    @Test
    void aRouteThatCannotBeWrittenFailsNamingItAndTheNextChangeSyncsInFull() {
        Privileged.require();
        try (VethPair pair = new VethPair()) {
            RoutingSubsystem s = RoutingSubsystem.inNamespace("n1", NATIVE, pair.a.name());
            s.apply(change(node(1), node(2)));
            // 198.51.100.9 is on no network of this node: the kernel refuses a gateway it cannot reach.
            ClusterView.Node far = new ClusterView.Node("far", "198.51.100.9", "10.244.9.0/24", "169.254.1.1");
            RuntimeException e = assertThrows(RuntimeException.class, () -> s.apply(nodesChanged(node(1), node(2), far)));
            assertTrue(e.getMessage().contains("route replace 10.244.9.0/24 via 198.51.100.9"), e.getMessage());
            assertTrue(routes(pair.a).contains("10.244.2.0/24 via 192.0.2.2"), "what was written before stays");
            assertEquals("native, 1 remote node", s.status().getFirst().value());
            assertTrue(s.concerns(change(node(1)).resync()), "after a failure every change concerns it");
            s.apply(nodesChanged(node(1), node(2)));
            assertEquals("10.244.2.0/24 via 192.0.2.2 dev " + pair.deviceA + " \n", routes(pair.a));

            // A node the view describes badly is a problem named, not a failure of the others.
            ClusterView.Node bad = new ClusterView.Node("bad", "192.0.2.5", "", "169.254.1.1");
            Applied applied = s.apply(nodesChanged(node(1), node(2), bad));
            assertEquals(List.of("node bad: its pod CIDR '' is not an IPv4 CIDR; its pods cannot be reached from n1"), applied.problems());
        }
    }

    @Test
    void theTunnelCarriesPodTrafficBetweenNodesAndLeavesWithTheNode() {
        Privileged.require();
        try (VethPair pair = new VethPair()) {
            pair.a.ip("addr", "add", "10.244.1.5/32", "dev", "lo");
            pair.b.ip("addr", "add", "10.244.2.5/32", "dev", "lo");
            pair.a.ip("link", "set", "lo", "up");
            pair.b.ip("link", "set", "lo", "up");
            RoutingSubsystem a = RoutingSubsystem.inNamespace("n1", TUNNEL, pair.a.name());
            RoutingSubsystem b = RoutingSubsystem.inNamespace("n2", TUNNEL, pair.b.name());
            List<String> ready = new java.util.ArrayList<>();
            a.onTunnelDevice(ready::add);
            a.apply(change(node(1), node(2), node(3)));
            b.apply(change(node(1), node(2), node(3)));
            assertEquals(List.of("sluice_vxlan"), ready);

            String link = pair.a.ip("-d", "link", "show", "dev", "sluice_vxlan");
            assertTrue(link.contains("vxlan id 1 local 192.0.2.1") && link.contains("dstport 8472") && link.contains("nolearning"), link);
            assertTrue(link.contains("link/ether 0e:53:c0:00:02:01") && link.contains("mtu 1450"), link);
            assertEquals("10.244.2.0/24 via 10.244.2.0 dev sluice_vxlan onlink \n10.244.3.0/24 via 10.244.3.0 dev sluice_vxlan onlink \n",
                    routes(pair.a));
            assertTrue(pair.a.ip("neigh", "show", "dev", "sluice_vxlan").contains("10.244.2.0 lladdr 0e:53:c0:00:02:02 PERMANENT"));
            assertTrue(Command.run("bridge", "-n", pair.a.name(), "fdb", "show", "dev", "sluice_vxlan")
                    .contains("0e:53:c0:00:02:02 dst 192.0.2.2 self permanent"));
            assertEquals("tunnel (vxlan, UDP port 8472) on sluice_vxlan (VNI 1, MTU 1450), 2 remote nodes", a.status().getFirst().value());

            long before = rxPackets(pair.b);
            assertTrue(tcpExchange(pair.a, "10.244.1.5", pair.b, "10.244.2.5"), "n1's pod reaches n2's");
            assertTrue(rxPackets(pair.b) >= before + 3, "the connection's packets arrived through n2's tunnel device");

            // n2 leaves n1's view: its route, neighbour and FDB entry go; n3's stay.
            a.apply(nodesChanged(node(1), node(3)));
            assertEquals("10.244.3.0/24 via 10.244.3.0 dev sluice_vxlan onlink \n", routes(pair.a));
            assertFalse(pair.a.ip("neigh", "show", "dev", "sluice_vxlan").contains("10.244.2.0"));
            assertFalse(Command.run("bridge", "-n", pair.a.name(), "fdb", "show", "dev", "sluice_vxlan").contains("0e:53:c0:00:02:02"));
            assertFalse(tcpExchange(pair.a, "10.244.1.5", pair.b, "10.244.2.5"), "no route to n2's pods any more");

            // An agent restarted with native routing: the device goes, the routes are native.
            RoutingSubsystem nativeAgain = RoutingSubsystem.inNamespace("n1", NATIVE, pair.a.name());
            nativeAgain.apply(change(node(1), node(2)));
            assertFalse(pair.a.exec("ip", "link", "show", "dev", "sluice_vxlan").ok());
            assertEquals("10.244.2.0/24 via 192.0.2.2 dev " + pair.deviceA + " \n", routes(pair.a));
        }
    }

    /** Whether a TCP connection from {@code from} (in {@code a}) to {@code to} (in {@code b}) carries a byte and back. */
    private static boolean tcpExchange(NetNs a, String from, NetNs b, String to) {
        try (ServerSocket server = b.call(() -> new ServerSocket(7777, 5, InetAddress.getByName(to)))) {
            server.setSoTimeout(3000);
            Thread echo = Thread.ofPlatform().start(() -> {
                try (Socket c = server.accept()) {
                    c.getOutputStream().write(c.getInputStream().read());
                } catch (IOException ignored) {
                    // the client's side says what happened
                }
            });
            try {
                return a.call(() -> {
                    try (Socket s = new Socket()) {
                        s.bind(new InetSocketAddress(from, 0));
                        s.connect(new InetSocketAddress(to, 7777), 2000);
                        s.setSoTimeout(2000);
                        s.getOutputStream().write(42);
                        return s.getInputStream().read() == 42;
                    } catch (IOException e) {
                        return false;
                    }
                });
            } finally {
                echo.join();
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static long rxPackets(NetNs ns) {
        return TunnelDevice.parse(ns.ip("-s", "-j", "link", "show", "dev", "sluice_vxlan")).get(0).path("stats64").path("rx").path("packets").asLong();
    }
}
