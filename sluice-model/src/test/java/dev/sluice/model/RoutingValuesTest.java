package dev.sluice.model;

import dev.sluice.model.Feature.State;
import dev.sluice.linux.KernelConfig.Setting;
import dev.sluice.model.SluiceValues.Routing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** routingMode, tunnelProtocol and tunnelPort as Cilium's chart names them, and the pre-1.14 {@code tunnel} key. */
class RoutingValuesTest {
    private static final KernelFeatures KERNEL = KernelFeatures.of(option -> Setting.NOT_SET);
    @TempDir
    Path dir;

    @Test
    void nativeByDefaultAndNoFeatureLineUnlessAsked() throws IOException {
        SluiceValues values = SluiceValues.load(write("hubble:\n  enabled: true\n"), KERNEL);
        assertEquals(new Routing(Routing.Mode.NATIVE, "vxlan", 8472), values.routing());
        assertTrue(values.features().stream().noneMatch(f -> f.name().equals("Routing")));
    }

    @Test
    void tunnelWithCiliumsKeys() throws IOException {
        SluiceValues values = SluiceValues.load(write("routingMode: tunnel\ntunnelProtocol: vxlan\ntunnelPort: 4789\n"), KERNEL);
        assertEquals(new Routing(Routing.Mode.TUNNEL, "vxlan", 4789), values.routing());
        assertEquals(new Feature("Routing", State.ENABLED, "tunnel: pod traffic between nodes is encapsulated in VXLAN (UDP port 4789)"),
                values.features().getLast());
        assertEquals("tunnel (vxlan, UDP port 4789)", values.routing().describe());
        assertTrue(values.warnings().isEmpty(), values.warnings().toString());
    }

    @Test
    void theOldTunnelKeyIsRead() throws IOException {
        assertEquals(Routing.Mode.TUNNEL, SluiceValues.load(write("tunnel: vxlan\n"), KERNEL).routing().mode());
        assertEquals(Routing.Mode.NATIVE, SluiceValues.load(write("tunnel: disabled\n"), KERNEL).routing().mode());
    }

    @Test
    void geneveIsWarnedAboutAndVxlanUsed() throws IOException {
        Path file = write("routingMode: tunnel\ntunnelProtocol: geneve\n");
        SluiceValues values = SluiceValues.load(file, KERNEL);
        assertEquals("vxlan", values.routing().protocol());
        assertTrue(values.warnings().contains(file + ": tunnelProtocol: geneve is not built in Sluice; VXLAN is used instead"),
                values.warnings().toString());
    }

    @Test
    void badValuesNameTheFileAndTheKey() throws IOException {
        for (String[] c : new String[][]{
                {"routingMode: overlay\n", "routingMode", "must be native or tunnel, got \"overlay\""},
                {"routingMode: tunnel\ntunnelProtocol: ipip\n", "tunnelProtocol", "must be vxlan or geneve"},
                {"tunnelPort: 70000\n", "tunnelPort", "must be a UDP port from 1 to 65535"},
                {"routingMode: [tunnel]\n", "routingMode", "must be a string"}}) {
            Path file = write(c[0]);
            ValuesException e = assertThrows(ValuesException.class, () -> SluiceValues.load(file, KERNEL), c[0]);
            assertEquals(c[1], e.key(), e.getMessage());
            assertTrue(e.getMessage().startsWith(file + ": key " + c[1] + ": "), e.getMessage());
            assertTrue(e.getMessage().contains(c[2]), e.getMessage());
        }
    }

    private Path write(String yaml) throws IOException {
        return Files.writeString(dir.resolve("values.yaml"), yaml);
    }
}
