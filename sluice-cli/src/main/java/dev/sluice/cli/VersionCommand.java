package dev.sluice.cli;

import dev.sluice.libbpf.BpfSystem;
import dev.sluice.linux.Kernel;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

@Command(name = "version", description = "Print Sluice's version and the runtime it runs on.")
final class VersionCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    static String version() {
        Properties p = new Properties();
        try (InputStream in = VersionCommand.class.getResourceAsStream("version.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException ignored) {
            // fall through to "unknown"
        }
        return p.getProperty("version", "unknown");
    }

    @Override
    public void run() {
        var out = spec.commandLine().getOut();
        out.println("sluice " + version());
        out.println("java:   " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")");
        out.println("kernel: " + Kernel.running().release());
        String libbpf;
        try {
            libbpf = BpfSystem.libbpfVersion();
        } catch (RuntimeException | ExceptionInInitializerError e) {
            libbpf = "not found (" + e.getMessage() + ")";
        }
        out.println("libbpf: " + libbpf);
    }

    static final class Provider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"sluice " + version()};
        }
    }
}
