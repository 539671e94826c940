package dev.sluice.cli;

import dev.sluice.cli.lab.LabCommand;
import dev.sluice.workload.cli.CallCommand;
import dev.sluice.workload.cli.EchoServerCommand;
import dev.sluice.workload.cli.LoadCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code sluice} command. */
@Command(name = "sluice",
        mixinStandardHelpOptions = true,
        versionProvider = VersionCommand.Provider.class,
        description = "Sidecar-less service mesh with an eBPF datapath.",
        subcommands = {VersionCommand.class, DoctorCommand.class, DemoCommand.class, LabCommand.class, StatusCommand.class,
                ServiceCommand.Group.class, ServiceCommand.Bpf.class, PolicyCommands.Identity.class, PolicyCommands.Endpoint.class,
                PolicyCommands.PolicyGroup.class, PrefilterCommands.Group.class, EncryptCommands.Group.class, ObservabilityCommands.Observe.class, dev.sluice.observe.relay.RelayCommand.class,
                ObservabilityCommands.Metrics.class, UiLabCommand.class, ProxyCommand.Group.class, InstallCommand.class, BenchCommand.class, EchoServerCommand.class, CallCommand.class, dev.sluice.workload.cli.StreamCommand.class, LoadCommand.class, dev.sluice.workload.cli.TransferCommand.class,
                dev.sluice.workload.cli.TransferServerCommand.class, AotTrainingCommand.class,
                CommandLine.HelpCommand.class})
public final class Main extends GroupCommand {
    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The `sluice` command line, for embedding (the end-to-end tests run commands in-process through it). */
    public static CommandLine commandLine() {
        return new CommandLine(new Main())
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    // Errors that users can act on are printed as sentences, not stack traces.
                    cmd.getErr().println("sluice: " + e.getMessage());
                    if (System.getenv("SLUICE_DEBUG") != null) {
                        e.printStackTrace(cmd.getErr());
                    }
                    return 1;
                });
    }
}
