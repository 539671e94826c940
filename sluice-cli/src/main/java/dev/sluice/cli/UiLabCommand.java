package dev.sluice.cli;

import dev.sluice.cli.lab.LabOptions;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.observe.cli.UiCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code sluice ui} for a lab: without --server, every node's Observer API socket. A socket not there yet (an agent
 * still starting or restarting) is listed all the same: the UI asks it again every second and says so on the page.
 */
@Command(name = "ui",
        description = "Serve the service-map web UI of the lab's flows (live graph and flows table) on http://127.0.0.1:12000, as Hubble UI.")
final class UiLabCommand extends UiCommand {
    @Mixin
    LabOptions lab;

    @Override
    protected List<String> defaultServers() {
        Lab l = lab.lab();
        List<String> servers = new ArrayList<>();
        for (LabState.NodeState n : l.state().nodes()) {
            servers.add("unix://" + l.layout(n.name()).observerSocket());
        }
        return servers;
    }
}
