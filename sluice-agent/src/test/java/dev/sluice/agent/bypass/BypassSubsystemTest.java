package dev.sluice.agent.bypass;

import dev.sluice.datapath.sockmap.SockmapMaps;
import dev.sluice.libbpf.BpfFs;
import dev.sluice.linux.Cgroups;
import dev.sluice.testing.Names;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The subsystem's contract on a cgroup of its own: it attaches both programs and pins their links, a restarted agent
 * adopts them, and turned off by the values it detaches them and says why. What the programs do with real
 * connections is SocketBypassLabTest's (sluice-e2e).
 */
class BypassSubsystemTest {
    @Test
    void attachesPinsAdoptsAfterARestartAndDetachesWhenTurnedOff() {
        Privileged.require();
        Path pinDir = BpfFs.ensureMounted(BpfFs.DEFAULT_ROOT).resolve(Names.unique("sluice-sb"));
        Path cgroup = Cgroups.create(Path.of(Names.unique("sluice-sb")));
        try {
            BypassSubsystem first = BypassSubsystem.start(pinDir, cgroup, 4096 * 16);
            assertTrue(first.running(), first.status().toString());
            assertEquals("Ok, 0 socket(s); 0 message(s), 0 byte(s) redirected; 0 socket(s) fell back to the stack",
                    first.status().getFirst().value());
            first.close();
            Path links = pinDir.resolve("links");
            assertTrue(Files.exists(links.resolve(BypassSubsystem.PIN_OPS)) && Files.exists(links.resolve(BypassSubsystem.PIN_MSG)));

            BypassSubsystem restarted = BypassSubsystem.start(pinDir, cgroup, 4096 * 16);
            assertTrue(restarted.running(), "the pinned links, adopted: " + restarted.status());
            restarted.close();
            try (SockmapMaps pinned = SockmapMaps.openPinned(pinDir.resolve("maps"))) {
                assertTrue(pinned != null && pinned.list().isEmpty());
            }

            BypassSubsystem off = BypassSubsystem.disabled(pinDir, "sockops.enabled is false in the values file");
            assertFalse(off.running());
            assertEquals("Disabled: sockops.enabled is false in the values file", off.status().getFirst().value());
            assertFalse(Files.exists(links.resolve(BypassSubsystem.PIN_OPS)), "unpinned when turned off");
            assertFalse(Files.exists(links.resolve(BypassSubsystem.PIN_MSG)));
            assertFalse(BypassSubsystem.detachPinned(pinDir), "nothing left to detach");
        } finally {
            Cgroups.remove(cgroup);
            BpfFs.removeTree(pinDir);
        }
    }
}
