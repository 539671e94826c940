package dev.sluice.linux;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KernelTest {
    @Test
    void releasesCompareByNumbersNotText() {
        Kernel k = Kernel.parse("6.18.44-fc-v657");
        assertEquals(6, k.major());
        assertEquals(18, k.minor());
        assertEquals(44, k.patch());
        assertTrue(k.atLeast(6, 6));
        assertTrue(k.atLeast(5, 10));
        assertFalse(Kernel.parse("6.1.0-13-amd64").atLeast(6, 6));
        assertTrue(Kernel.parse("6.10.0").compareTo(Kernel.parse("6.9.12")) > 0);
    }

    @Test
    void kernelConfigTellsBuiltInModuleAndUnset() throws Exception {
        String config = """
                CONFIG_BPF_JIT=y
                CONFIG_TLS=m
                # CONFIG_WIREGUARD is not set
                """;
        KernelConfig c = KernelConfig.parse(new ByteArrayInputStream(config.getBytes(StandardCharsets.UTF_8)), "test");
        assertEquals(KernelConfig.Setting.BUILT_IN, c.setting("CONFIG_BPF_JIT"));
        assertEquals(KernelConfig.Setting.MODULE, c.setting("CONFIG_TLS"));
        assertEquals(KernelConfig.Setting.NOT_SET, c.setting("CONFIG_WIREGUARD"));
        assertEquals(KernelConfig.Setting.NOT_SET, c.setting("CONFIG_ABSENT"));
    }

    @Test
    void mountTableFindsTheCgroup2Mount() {
        // Every Linux machine this runs on has /proc mounted; cgroup2 may be anywhere (or absent).
        assertTrue(Mounts.list().stream().anyMatch(m -> m.type().equals("proc")));
        Cgroups.v2Root().ifPresent(root -> assertTrue(java.nio.file.Files.isDirectory(root)));
    }
}
