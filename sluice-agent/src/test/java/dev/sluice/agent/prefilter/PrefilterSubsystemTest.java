package dev.sluice.agent.prefilter;

import dev.sluice.datapath.prefilter.Cidr;
import dev.sluice.datapath.prefilter.PrefilterMaps;
import dev.sluice.libbpf.BpfFs;
import dev.sluice.libbpf.XdpMode;
import dev.sluice.model.SluiceValues;
import dev.sluice.testing.Names;
import dev.sluice.testing.Privileged;
import dev.sluice.testing.VethPair;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The subsystem's contract on a real uplink (a veth in a fresh namespace): it attaches natively and says so, adds
 * the values' CIDRs, keeps what the CLI wrote to the pinned map, and a restarted agent adopts link and map.
 */
class PrefilterSubsystemTest {
    @Test
    void attachesNativelyAddsTheValuesCidrsAndARestartAdoptsLinkAndMap() {
        Privileged.require();
        Path pinDir = BpfFs.ensureMounted(BpfFs.DEFAULT_ROOT).resolve(Names.unique("sluice-pf"));
        try (VethPair pair = new VethPair()) {
            SluiceValues.Prefilter values = new SluiceValues.Prefilter(true, "native", List.of("203.0.113.0/24"));
            pair.a.run(() -> {
                PrefilterSubsystem first = new PrefilterSubsystem(pinDir, pair.deviceA, values, 4096 * 16);
                assertEquals(XdpMode.DRIVER, first.mode());
                assertEquals(0, first.adoptedCidrs());
                first.maps().add(List.of(Cidr.parse("198.51.100.0/24"))); // as `sluice prefilter add` does
                assertEquals("native XDP on " + pair.deviceA + ", 2 CIDR(s) blocked, 0 packet(s) dropped",
                        first.status().getFirst().value());
                first.close();

                PrefilterSubsystem restarted = new PrefilterSubsystem(pinDir, pair.deviceA, values, 4096 * 16);
                assertEquals(2, restarted.adoptedCidrs(), "the pinned map kept both");
                assertEquals(XdpMode.DRIVER, restarted.mode(), "the pinned link, adopted");
                restarted.close();
                assertTrue(pair.a.ip("link", "show", "dev", pair.deviceA).contains("xdp"), "still attached after close");
            });
            try (PrefilterMaps pinned = PrefilterMaps.openPinned(pinDir.resolve("maps"))) {
                assertEquals(List.of(Cidr.parse("198.51.100.0/24"), Cidr.parse("203.0.113.0/24")), List.copyOf(pinned.list()));
            }
            assertTrue(PrefilterSubsystem.detachPinned(pinDir));
            assertFalse(pair.a.ip("link", "show", "dev", pair.deviceA).contains("xdp"), "detached when turned off");
            assertFalse(Files.exists(pinDir.resolve("links").resolve("prefilter_xdp_native")));
        } finally {
            BpfFs.removeTree(pinDir);
        }
    }
}
