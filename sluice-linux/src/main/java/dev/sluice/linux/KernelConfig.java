package dev.sluice.linux;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.zip.GZIPInputStream;

/**
 * The running kernel's build configuration (/proc/config.gz, or /boot/config-RELEASE), to say why a
 * feature such as WireGuard is unavailable rather than just that it is.
 */
public final class KernelConfig {
    /** How an option is built: into the kernel, as a module, or not at all. */
    public enum Setting { BUILT_IN, MODULE, NOT_SET }

    private final Map<String, String> options;
    private final String source;

    private KernelConfig(Map<String, String> options, String source) {
        this.options = options;
        this.source = source;
    }

    /** The running kernel's configuration, if the kernel exposes it. */
    public static Optional<KernelConfig> running() {
        Path proc = Path.of("/proc/config.gz");
        Path boot = Path.of("/boot/config-" + Kernel.running().release());
        try {
            if (Files.isReadable(proc)) {
                try (InputStream in = new GZIPInputStream(Files.newInputStream(proc))) {
                    return Optional.of(parse(in, proc.toString()));
                }
            }
            if (Files.isReadable(boot)) {
                try (InputStream in = Files.newInputStream(boot)) {
                    return Optional.of(parse(in, boot.toString()));
                }
            }
        } catch (IOException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    static KernelConfig parse(InputStream in, String source) throws IOException {
        Map<String, String> options = new HashMap<>();
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        for (String line; (line = reader.readLine()) != null; ) {
            int eq = line.indexOf('=');
            if (line.startsWith("CONFIG_") && eq > 0) {
                options.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return new KernelConfig(options, source);
    }

    public Setting setting(String option) {
        return switch (options.getOrDefault(option, "n")) {
            case "y" -> Setting.BUILT_IN;
            case "m" -> Setting.MODULE;
            default -> Setting.NOT_SET;
        };
    }

    /** Where this configuration was read from. */
    public String source() {
        return source;
    }
}
