package dev.sluice.workload.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The two commands registered under a parent, as the sluice CLI does; tests run it as a process. */
@Command(name = "sluice", subcommands = {EchoServerCommand.class, CallCommand.class})
public final class WorkloadCli {
    public static void main(String[] args) {
        System.exit(new CommandLine(new WorkloadCli()).execute(args));
    }
}
