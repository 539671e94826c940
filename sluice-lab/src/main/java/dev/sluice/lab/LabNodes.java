package dev.sluice.lab;

import dev.sluice.agent.api.NodeLayout;
import dev.sluice.lab.LabState.NodeState;
import dev.sluice.linux.Cgroups;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What a node joining or leaving a running lab ({@code sluice lab node add|remove}) needs beyond what {@code lab up}
 * does: the new node's name and place in the address plan checked against the nodes there, and a leaving node's
 * parts removed one by one (its cgroups, what still runs in its network namespace, the namespace with its fabric
 * port, its pins and agent files), where {@link LabTeardown} removes a whole lab at once.
 */
final class LabNodes {
    /** A Kubernetes node name as the lab uses it: a DNS label, short enough for the lab's namespace names. */
    private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?");
    /** node N is 10.254.0.N/24 on the fabric: .255 is the broadcast address. */
    static final int MAX_INDEX = 254;

    private LabNodes() {
    }

    /** The index a new node gets: one above the highest in use, so a removed node's addresses are not handed out again at once. */
    static int nextIndex(LabState state) {
        return state.nodes().stream().mapToInt(NodeState::index).max().orElse(0) + 1;
    }

    /** Refuses a name that is not a DNS label or already a node's, and an index beyond the address plan. */
    static void checkNew(LabState state, String node, int index) {
        if (!NAME.matcher(node).matches()) {
            throw new LabException("--name: '" + node + "' is not a node name (lower-case letters, digits and '-', at most 40,"
                    + " beginning and ending with a letter or digit)");
        }
        if (state.node(node).isPresent()) {
            throw new LabException("--name: lab '" + state.name() + "' already has a node named '" + node + "'");
        }
        if (index > MAX_INDEX) {
            throw new LabException("lab '" + state.name() + "' has used every node address of " + AddressPlan.DEFAULT.nodeSubnet()
                    + " (the next node would be number " + index + ")");
        }
    }

    /** The running lab's node {@code name}, or an error naming the nodes it has. */
    static NodeState existing(LabState state, String name) {
        return state.node(name).orElseThrow(() -> new LabException("lab '" + state.name() + "' has no node named '" + name
                + "' (its nodes: " + state.nodes().stream().map(NodeState::name).toList() + ")"));
    }

    /**
     * Removes what the lab made for {@code node}, once its pods are gone and its kubelet and agent stopped: every
     * cgroup of the node (killing what is left in them: wireguard-go runs in its agent's, the echo host in its
     * own), every other process still in its network namespace (by PID, after its start time is read), the namespace
     * (its {@code eth0} and the fabric port are one veth pair, so both go), its pins, agent status and WireGuard key,
     * and its echo host's directory. Every step is tried; the failures are reported together.
     */
    static void dismantle(LabStore store, LabState state, NodeState node, NodeLayout layout) {
        Steps steps = new Steps("node " + node.name() + " could not be removed completely (run 'sluice lab down' to remove the whole lab)");
        Path root = Path.of(state.cgroupRoot());
        for (Path cgroup : List.of(root.resolve("kubelets").resolve(node.name()), root.resolve("agents").resolve(node.name()),
                root.resolve("echo").resolve(node.name()), Path.of(node.cgroup()))) {
            steps.run(() -> Cgroups.remove(cgroup));
        }
        steps.run(() -> {
            for (long pid : LabTeardown.inNetns(java.util.Set.of(node.netns()))) {
                LabProcesses.startTicks(pid).ifPresent(t -> LabProcesses.stop(pid, t, 1_000));
            }
        });
        steps.run(() -> LabNetwork.deleteNetns(node.netns()));
        // The pods' v1 cpu and memory cgroups (PodLimits) keep an empty directory for the node.
        steps.run(() -> PodLimits.labCgroups(state.name()).forEach(v1 -> rmdirTree(v1.resolve(node.name()))));
        steps.run(() -> LabStore.deleteTree(layout.pinDir()));
        steps.run(() -> LabStore.deleteTree(layout.wireguardDir()));
        steps.run(() -> LabStore.deleteTree(store.dir().resolve("echo").resolve(node.name())));
        steps.run(() -> {
            try {
                Files.deleteIfExists(store.dir().resolve("echo").resolve(node.name() + ".pid"));
                Files.deleteIfExists(layout.statusFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        steps.throwIfFailed();
    }

    private static void rmdirTree(Path dir) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            List<Path> dirs = new ArrayList<>(walk.filter(Files::isDirectory).toList());
            java.util.Collections.reverse(dirs);
            for (Path d : dirs) {
                Files.delete(d);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + dir, e);
        }
    }
}
