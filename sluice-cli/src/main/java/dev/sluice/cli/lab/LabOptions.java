package dev.sluice.cli.lab;

import dev.sluice.lab.Lab;
import picocli.CommandLine.Option;

/** The option every lab command shares: which lab. */
public final class LabOptions {
    @Option(names = "--lab", paramLabel = "NAME", description = "The lab to act on (default: $SLUICE_LAB, else '" + Lab.DEFAULT_NAME + "').")
    String name;

    public Lab lab() {
        String env = System.getenv("SLUICE_LAB");
        return Lab.named(name != null ? name : env != null && !env.isBlank() ? env : Lab.DEFAULT_NAME);
    }
}
