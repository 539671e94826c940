package dev.sluice.agent.cni;

import dev.sluice.cni.AgentMessages.Endpoint;
import dev.sluice.cni.CniError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IpamTest {
    @TempDir
    Path dir;

    private static Endpoint ep(String container) {
        return new Endpoint(container, "eth0", "default", "pod-" + container, "/run/netns/" + container, null,
                "lxc" + container, "02:00:00:00:00:01", Map.of("app", "x"));
    }

    @Test
    void neverHandsOutNetworkGatewayOrBroadcastAndExhaustionIsCode11() {
        Ipam ipam = Ipam.load(dir.resolve("ipam.json"));
        ipam.podCidr("10.9.0.0/29"); // .0 network, .1 gateway, .7 broadcast: .2 to .6 usable
        assertEquals(5, ipam.capacity());
        Set<String> got = new HashSet<>();
        for (int i = 0; i < 4; i++) {
            got.add(ipam.allocate(ep("c" + i), Set.of("10.9.0.4")).ip());
        }
        assertEquals(Set.of("10.9.0.2", "10.9.0.3", "10.9.0.5", "10.9.0.6"), got, "the source's pod at .4 is skipped");
        CniError full = assertThrows(CniError.class, () -> ipam.allocate(ep("c9"), Set.of("10.9.0.4")));
        assertEquals(11, full.code());
        assertTrue(full.getMessage().contains("no free pod address in this node's PodCIDR 10.9.0.0/29: 4 of 5 allocated"), full.getMessage());
        // Released, the address is free again.
        assertTrue(ipam.release("c1/eth0").isPresent());
        assertFalse(ipam.release("c1/eth0").isPresent(), "a second release finds nothing, and that is fine");
        assertEquals("10.9.0.3", ipam.allocate(ep("c9"), Set.of("10.9.0.4")).ip());
    }

    @Test
    void theSameContainerInterfaceGetsTheSameAddressAgain() {
        Ipam ipam = Ipam.load(dir.resolve("ipam.json"));
        ipam.podCidr("10.244.1.0/24");
        String first = ipam.allocate(ep("a"), Set.of()).ip();
        assertEquals("10.244.1.2", first);
        assertEquals(first, ipam.allocate(ep("a"), Set.of()).ip());
        assertEquals(1, ipam.allocated());
        assertEquals(253, ipam.capacity());
    }

    @Test
    void aRestartedAgentKeepsEveryAllocation() throws Exception {
        Path file = dir.resolve("state/ipam.json");
        Ipam before = Ipam.load(file);
        before.podCidr("10.244.1.0/24");
        Endpoint a = before.allocate(ep("a"), Set.of());
        Endpoint b = before.allocate(ep("b"), Set.of());
        before.register(b);
        assertTrue(Files.exists(file), "written before the allocation returned");
        assertFalse(Files.exists(file.resolveSibling("ipam.json.tmp")));

        Ipam after = Ipam.load(file); // as a new agent process reads it
        after.podCidr("10.244.1.0/24");
        assertEquals(2, after.allocated());
        assertEquals(List.of(b), after.registered());
        assertEquals(a.ip(), after.get("a/eth0").orElseThrow().endpoint().ip());
        String c = after.allocate(ep("c"), Set.of()).ip();
        assertFalse(c.equals(a.ip()) || c.equals(b.ip()), "never an address handed out before the restart: " + c);
        assertEquals("10.244.1.4", c);
    }

    @Test
    void anUnreadableStateRefusesAllocationsNamingTheFileAndKeepsIt() throws Exception {
        Path file = dir.resolve("ipam.json");
        Files.writeString(file, "{\"version\":1,\"allocations\":[{\"endpoint\":{\"containerId\":\"a\"}}]}");
        Ipam ipam = Ipam.load(file);
        ipam.podCidr("10.244.1.0/24");
        CniError e = assertThrows(CniError.class, () -> ipam.allocate(ep("x"), Set.of()));
        assertEquals(11, e.code());
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("allocations[0]"), e.getMessage());
        assertTrue(Files.readString(file).contains("\"containerId\":\"a\""), "the file is left for the operator");

        Files.writeString(file, "not json");
        assertTrue(Ipam.load(file).broken().orElseThrow().contains(file.toString()));
    }

    @Test
    void withoutAPodCidrNothingIsAllocated() {
        Ipam ipam = Ipam.load(dir.resolve("ipam.json"));
        CniError e = assertThrows(CniError.class, () -> ipam.allocate(ep("a"), Set.of()));
        assertEquals(11, e.code());
        assertEquals(0, ipam.capacity());
    }

    @Test
    void registeringAnAddressNotAllocatedIsRefused() {
        Ipam ipam = Ipam.load(dir.resolve("ipam.json"));
        ipam.podCidr("10.244.1.0/24");
        assertThrows(CniError.class, () -> ipam.register(ep("a").withIp("10.244.1.9")));
    }
}
