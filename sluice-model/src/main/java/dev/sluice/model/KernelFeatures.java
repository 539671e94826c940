package dev.sluice.model;

import dev.sluice.linux.Kernel;
import dev.sluice.linux.KernelConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Function;

/**
 * Whether the kernel has a feature Sluice would use (WireGuard, IPsec ESP). An interface so that tests can pose
 * as a kernel with or without it.
 */
@FunctionalInterface
public interface KernelFeatures {
    /**
     * @param option the kernel configuration option, e.g. {@code CONFIG_WIREGUARD}
     * @param module the module that provides it, e.g. {@code wireguard}
     * @return empty when the kernel has it (built in, loaded, or a module it can load); otherwise why not, as a
     *         clause: {@code CONFIG_WIREGUARD is not set in this kernel}
     */
    Optional<String> missing(String option, String module);

    /**
     * Whether WireGuard can run in user space here ({@code wireguard-go} on the PATH, a TUN device), for a kernel
     * without the module. False unless a machine is asked.
     */
    default boolean userspaceWireGuard() {
        return false;
    }

    /** The running kernel: a loaded module, else its build configuration and whether /lib/modules has its modules. */
    static KernelFeatures running() {
        KernelFeatures kernel = (option, module) -> {
            if (Files.isDirectory(Path.of("/sys/module", module))) {
                return Optional.empty();
            }
            Optional<KernelConfig> config = KernelConfig.running();
            if (config.isEmpty()) {
                return Optional.of("module " + module + " is not loaded and the kernel exposes no configuration"
                        + " (/proc/config.gz) to tell whether it has " + option);
            }
            String release = Kernel.running().release();
            return switch (config.get().setting(option)) {
                case BUILT_IN -> Optional.empty();
                case MODULE -> Files.isDirectory(Path.of("/lib/modules", release)) ? Optional.empty()
                        : Optional.of(option + " is built as a module but this machine has no /lib/modules/" + release);
                case NOT_SET -> Optional.of(option + " is not set in this kernel");
            };
        };
        return new KernelFeatures() {
            @Override
            public Optional<String> missing(String option, String module) {
                return kernel.missing(option, module);
            }

            @Override
            public boolean userspaceWireGuard() {
                return Files.exists(Path.of("/dev/net/tun")) && java.util.Arrays.stream(
                                System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":"))
                        .anyMatch(dir -> Files.isExecutable(Path.of(dir, "wireguard-go")));
            }
        };
    }

    /** A kernel built with {@code settings}, whose modules can be loaded. */
    static KernelFeatures of(Function<String, KernelConfig.Setting> settings) {
        return (option, module) -> settings.apply(option) == KernelConfig.Setting.NOT_SET
                ? Optional.of(option + " is not set in this kernel")
                : Optional.empty();
    }
}
