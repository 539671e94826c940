package dev.sluice.cli.lab;

import dev.sluice.lab.Lab;
import dev.sluice.lab.LabException;
import dev.sluice.lab.LabStore;
import dev.sluice.model.Desired;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Commands on a lab that does not exist say so (lab down: nothing to remove) and leave nothing behind (not even a lock file). */
class MissingLabTest {
    @Test
    void downApplyDeleteAndRestartOfAMissingLabCreateNothing() {
        String name = "nolab" + Long.toString(System.nanoTime() & 0xffffffL, 36);
        Lab lab = Lab.named(name);
        assertFalse(lab.down(), "lab down of a lab that does not exist has nothing to remove (and is no error: it is idempotent)");
        assertThrows(LabException.class, () -> lab.apply(Desired.empty()));
        assertThrows(LabException.class, () -> lab.delete(Desired.empty()));
        assertThrows(LabException.class, () -> lab.restartAgent("node-1"));
        assertFalse(Files.exists(LabStore.of(name).dir()), LabStore.of(name).dir() + " was created");
    }
}
