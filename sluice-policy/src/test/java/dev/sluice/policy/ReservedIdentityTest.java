package dev.sluice.policy;

import dev.sluice.testing.CHeaders;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The reserved identities against the datapath's (bpf/include/policy.h's IDENTITY_*), and their numbering. */
class ReservedIdentityTest {
    @Test
    void theDatapathsReservedIdentitiesHaveTheirNumbersHere() {
        Map<String, Long> defines = CHeaders.datapathDefines();
        int seen = 0;
        for (Map.Entry<String, Long> d : defines.entrySet()) {
            if (!d.getKey().startsWith("IDENTITY_")) {
                continue;
            }
            ReservedIdentity java = ReservedIdentity.valueOf(d.getKey().substring("IDENTITY_".length()));
            assertEquals(d.getValue(), (long) java.id(), d.getKey());
            seen++;
        }
        assertTrue(seen >= 3, "policy.h defines IDENTITY_UNKNOWN, _HOST and _WORLD: " + defines.keySet());
    }

    @Test
    void ofFindsEachByItsNumber() {
        for (ReservedIdentity r : ReservedIdentity.values()) {
            assertEquals(r, ReservedIdentity.of(r.id()).orElseThrow());
        }
        assertFalse(ReservedIdentity.of(256).isPresent());
        assertFalse(ReservedIdentity.of(-1).isPresent());
    }
}
