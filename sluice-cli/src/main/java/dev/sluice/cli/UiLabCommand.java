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
 * {@code sluice ui} for a lab: without --server, the lab's Hubble Relay when it runs, else every node's Observer API
 * socket. A socket not there yet (an agent still starting or restarting) is listed all the same: the UI asks it again
 * every second and says so on the page. Asked again for each stream the page opens, so a relay that starts later is used.
 */
@Command(name = "ui",
        description = "Serve the service-map web UI of the lab's flows (live graph and flows table) on http://127.0.0.1:12000, as Hubble UI.")
final class UiLabCommand extends UiCommand {
    @Mixin
    LabOptions lab;

    @Override
    protected List<String> defaultServers() {
        Lab l = lab.lab();
        // The lab's Hubble Relay when it runs (hubble.relay.enabled), as `sluice observe` and Hubble UI read it.
        var relay = l.relay().filter(r -> r.running() && r.port().isPresent() && java.nio.file.Files.exists(r.socket()));
        if (relay.isPresent()) {
            return List.of("unix://" + relay.get().socket());
        }
        List<String> servers = new ArrayList<>();
        for (LabState.NodeState n : l.state().nodes()) {
            servers.add("unix://" + l.layout(n.name()).observerSocket());
        }
        return servers;
    }
}
