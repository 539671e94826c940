package dev.sluice.datapath;

import dev.sluice.libbpf.AttachType;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.ProgramType;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Every object compiled from bpf/ is in the jar and passes this kernel's verifier. */
class ProgramsTest {
    @Test
    void everyBundledObjectLoadsFromTheJar() {
        Privileged.require();
        for (String name : Programs.BUNDLED) {
            try (BpfObject object = Programs.open(name).load()) {
                assertFalse(object.programs().isEmpty(), name + " has programs");
            }
        }
    }

    @Test
    void theProbeCoversEveryHookTypeSluiceAttaches() {
        Privileged.require();
        try (BpfObject probe = Programs.open(Programs.PROBE).load()) {
            assertEquals(ProgramType.SCHED_CLS, probe.program("probe_tc").type());
            assertEquals(AttachType.CGROUP_INET4_CONNECT, probe.program("probe_connect4").expectedAttachType());
            assertEquals(ProgramType.XDP, probe.program("probe_xdp").type());
            assertEquals(ProgramType.SOCK_OPS, probe.program("probe_sockops").type());
        }
    }
}
