package dev.sluice.lab;

import dev.sluice.lab.LabState.ContainerState;
import dev.sluice.model.SecuritySpec;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Kubernetes' restart back-off as the kubelet computes it, and the launcher's security options. */
class KubeletBackOffTest {
    private static ContainerState after(int restarts, long backOffMs) {
        return new ContainerState("c", "img", 0, 0, "/dev/null", List.of(), 1, restarts, null, null, 0, backOffMs, null, false);
    }

    @Test
    void atOnceThenTenSecondsDoublingToFiveMinutes() {
        List<Long> delays = new ArrayList<>();
        long backOff = 0;
        for (int restarts = 0; restarts < 9; restarts++) {
            backOff = NodeKubelet.backOff(after(restarts, backOff), 1_000);
            delays.add(backOff / 1000);
        }
        assertEquals(List.of(0L, 10L, 20L, 40L, 80L, 160L, 300L, 300L, 300L), delays);
    }

    @Test
    void tenMinutesRunningStartsOver() {
        assertEquals(0, NodeKubelet.backOff(after(7, 300_000), 600_000));
        assertEquals(300_000, NodeKubelet.backOff(after(7, 300_000), 599_999));
    }

    @Test
    void securityContextBecomesSetprivsOptions() {
        assertEquals("-all,+chown,+dac_override,+fsetid,+fowner,+mknod,+net_raw,+setgid,+setuid,+setfcap,+setpcap,+net_bind_service,"
                + "+sys_chroot,+kill,+audit_write", ContainerSecurity.capabilities(SecuritySpec.DEFAULT));
        assertEquals("-", ContainerSecurity.setprivOptions(SecuritySpec.DEFAULT));
        SecuritySpec s = new SecuritySpec(1000L, 3000L, true, List.of("NET_ADMIN"), List.of("ALL"), true, false);
        assertEquals("-all,+net_admin", ContainerSecurity.capabilities(s));
        assertEquals("--reuid=1000,--regid=3000,--clear-groups,--no-new-privs", ContainerSecurity.setprivOptions(s));
        SecuritySpec drop = new SecuritySpec(null, null, false, List.of(), List.of("CHOWN", "KILL"), false, null);
        assertEquals("-all,+dac_override,+fsetid,+fowner,+mknod,+net_raw,+setgid,+setuid,+setfcap,+setpcap,+net_bind_service,"
                + "+sys_chroot,+audit_write", ContainerSecurity.capabilities(drop));
    }
}
