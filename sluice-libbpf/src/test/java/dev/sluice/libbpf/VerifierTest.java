package dev.sluice.libbpf;

import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VerifierTest {
    @Test
    void aRejectedProgramReportsItsNameAndTheVerifiersReason() {
        Privileged.require();
        try (BpfObject object = BpfObject.openResource(VerifierTest.class, "/bpf/verifier_reject.bpf.o")) {
            VerifierException e = assertThrows(VerifierException.class, object::load);
            assertEquals("unchecked_lookup", e.program());
            assertTrue(e.verifierLog().contains("invalid mem access 'map_value_or_null'"), e.verifierLog());
            assertTrue(e.getMessage().contains("unchecked_lookup") && e.getMessage().contains("invalid mem access"), e.getMessage());
        }
    }

    @Test
    void bytesThatAreNotAnElfObjectAreRefusedByName() {
        Privileged.require();
        BpfException e = assertThrows(BpfException.class, () -> BpfObject.open("garbage", new byte[] {1, 2, 3, 4}));
        assertTrue(e.getMessage().contains("garbage"), e.getMessage());
    }
}
