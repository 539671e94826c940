package dev.sluice.agent.l7;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ProxyPortsTest {
    @Test
    void aServicePortKeepsItsProxyPortWhileRedirectedAndAFreedPortIsReused() {
        ProxyPorts ports = new ProxyPorts();
        assertEquals(Map.of("default/a:80", 15001, "default/b:80", 15002), ports.assign(List.of("default/b:80", "default/a:80")));
        // a goes away: b keeps 15002, c takes the freed 15001, d the next.
        assertEquals(Map.of("default/b:80", 15002, "default/c:80", 15001, "default/d:80", 15003),
                ports.assign(List.of("default/b:80", "default/c:80", "default/d:80")));
        assertEquals(Map.of("default/b:80", 15002, "default/c:80", 15001, "default/d:80", 15003),
                ports.assign(List.of("default/d:80", "default/c:80", "default/b:80")));
    }
}
