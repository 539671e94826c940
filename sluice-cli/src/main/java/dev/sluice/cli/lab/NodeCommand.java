package dev.sluice.cli.lab;

import dev.sluice.cli.GroupCommand;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** {@code sluice lab node add|remove}: a node joining or leaving the running lab. */
@Command(name = "node", description = "Add a node to the running lab, or remove one (its pods drained first).",
        subcommands = {NodeCommand.Add.class, NodeCommand.Remove.class})
public final class NodeCommand extends GroupCommand {

    @Command(name = "add", description = "Add a node (namespace on the fabric, next address and pod CIDR, agent, kubelet);"
            + " returns once every agent routes to it.")
    static final class Add implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Option(names = "--name", paramLabel = "NAME", description = "The node's name (default: node-N, N its number).")
        String name;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Lab l = lab.lab();
            long start = System.currentTimeMillis();
            LabState.NodeState node;
            try (Progress progress = Progress.on(spec.commandLine().getErr())) {
                node = l.onProgress(progress.listener()).addNode(name);
            }
            out.printf("node %s added to lab %s in %.1f s: %s, pods %s%n", node.name(), l.name(),
                    (System.currentTimeMillis() - start) / 1000.0, node.address(), node.podCidr());
            return 0;
        }
    }

    @Command(name = "remove", description = "Remove a node as kubectl drain and delete would: its Deployments' pods are made"
            + " again on the other nodes, bare pods deleted; then its processes, namespace, cgroups and pins go.")
    static final class Remove implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Parameters(paramLabel = "NAME", description = "The node to remove.")
        String name;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Lab l = lab.lab();
            Lab.Changes changes;
            try (Progress progress = Progress.on(spec.commandLine().getErr())) {
                changes = l.onProgress(progress.listener()).removeNode(name);
            }
            out.printf("node %s removed from lab %s in %.1f s%n", name, l.name(), changes.millis() / 1000.0);
            LabCommand.printChanges(out, changes);
            return 0;
        }
    }
}
