package dev.sluice.workload;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class EchoSettingsTest {
    @Test
    void readsEveryVariable() throws Exception {
        EchoSettings settings = EchoSettings.fromEnvironment(Map.of(
                "SLUICE_POD", "product-v1-abc",
                "SLUICE_NAMESPACE", "shop",
                "SLUICE_NODE", "n1",
                "SLUICE_LABELS", "app=product, version=v1",
                "SLUICE_PORTS", "50051,8080",
                "SLUICE_BIND", "127.0.0.1"));
        assertEquals(new Identity("product-v1-abc", "shop", "n1", Map.of("app", "product", "version", "v1")),
                settings.identity());
        assertEquals(List.of(50051, 8080), settings.ports());
        assertEquals(InetAddress.getByName("127.0.0.1"), settings.bindAddress());
    }

    @Test
    void defaultsToHostnameAllInterfacesAndPort8080() throws Exception {
        EchoSettings settings = EchoSettings.fromEnvironment(Map.of("HOSTNAME", "pod-from-hostname"));
        assertEquals(new Identity("pod-from-hostname", "default", "", Map.of()), settings.identity());
        assertEquals(List.of(8080), settings.ports());
        assertEquals(InetAddress.getByName("0.0.0.0"), settings.bindAddress());
    }

    @Test
    void refusesWhatItCannotRead() {
        assertEquals("\"http\" is not a port (0-65535)",
                assertThrows(IllegalArgumentException.class, () -> EchoSettings.parsePorts("8080,http")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> EchoSettings.parsePorts("70000"));
        assertThrows(IllegalArgumentException.class, () -> EchoSettings.parsePorts(" "));
        assertEquals("label \"version\" is not key=value",
                assertThrows(IllegalArgumentException.class, () -> EchoSettings.parseLabels("app=a,version"))
                        .getMessage());
        assertThrows(IllegalArgumentException.class, () -> EchoSettings.parseAddress("localhost"));
    }
}
