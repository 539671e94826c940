package dev.sluice.cli;

import dev.sluice.cli.lab.LabOptions;
import dev.sluice.lab.Lab;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** The node-local L7 proxy, as it sees itself. */
final class ProxyCommand {
    private ProxyCommand() {
    }

    @Command(name = "proxy", description = "The node-local L7 proxy.", subcommands = Config.class)
    static final class Group extends GroupCommand {
    }

    /**
     * The xDS the proxy holds, from the proxy itself: its xDS client writes it (Envoy's config dump JSON) to the
     * node's run directory whenever what it holds changes, so this reads what the proxy has, not what the agent
     * meant to send.
     */
    @Command(name = "config", description = "The xDS resources the node's proxy holds, as `envoy admin /config_dump` prints them "
            + "(ListenersConfigDump, RoutesConfigDump, ClustersConfigDump, EndpointsConfigDump with version_info).")
    static final class Config implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @Option(names = "--node", description = "This node's proxy (default: the first node).")
        String node;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            Lab l = lab.lab();
            String n = node != null ? node : l.state().nodes().getFirst().name();
            if (l.state().nodes().stream().noneMatch(x -> x.name().equals(n))) {
                throw new IllegalArgumentException("no node " + n + " in the lab");
            }
            Path dump = l.layout(n).proxyConfigDump();
            if (!Files.isRegularFile(dump)) {
                throw new IllegalStateException("node " + n + "'s proxy holds no xDS yet (" + dump + " does not exist): it starts with "
                        + "the first envoy configuration that names a Service, with serviceMesh.enabled in the values");
            }
            try {
                spec.commandLine().getOut().println(Files.readString(dump));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + dump + ": " + e.getMessage(), e);
            }
            return 0;
        }
    }
}
