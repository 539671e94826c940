package dev.sluice.lab;

import dev.sluice.lab.LabState.AgentState;
import dev.sluice.lab.LabState.ContainerState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.Command;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Removes everything a lab made, whatever state it is in: a lab whose `up` or `apply` was killed half-way
 * (pods made but not yet in the state, processes started but not yet recorded), whose agents are dead, or
 * whose cgroups are busy. It does not trust the state alone; it finds what is the lab's:
 *
 * <ul>
 *   <li>processes: those the state names (the kubelets and agents stopped first), those in the lab's process journal (every process the lab starts is
 *       written there first), every process in one of the lab's network namespaces and in its cgroup tree;
 *       each is stopped by PID after its start time is checked, never by name;</li>
 *   <li>network namespaces: those the state names and every {@code sl-LAB-*} one (not another lab's whose
 *       name begins with this one's);</li>
 *   <li>the cgroup tree {@code sluice-lab-LAB} (killed through cgroup.kill, waited for until empty, removed), and the
 *       pods' cgroup v1 memory and cpu directories of the same name ({@link PodLimits});</li>
 *   <li>the agents' pins, then the lab's directory.</li>
 * </ul>
 *
 * A pass that leaves something is repeated (a process that was forking, a cgroup the kernel still counted); after
 * the last pass, what is still there is named with the command that removes it, and the state is kept.
 */
final class LabTeardown {
    private static final int PASSES = 3;
    private static final long GRACE_MS = 3_000;

    private final String lab;
    private final LabStore store;

    LabTeardown(String lab, LabStore store) {
        this.lab = lab;
        this.store = store;
    }

    /** Whether anything of the lab exists: its directory, a namespace, its cgroups or its pins. */
    boolean anythingLeft() {
        return hasFiles(store.dir()) || !labNetns().isEmpty() || cgroupRoot().map(Files::isDirectory).orElse(false)
                || Files.exists(Lab.pinRoot(lab)) || !PodLimits.labCgroups(lab).isEmpty();
    }

    /** Whether the lab's directory holds more than its lock (which every command takes, `up` too). */
    private static boolean hasFiles(Path dir) {
        try (var files = Files.list(dir)) {
            return files.anyMatch(f -> !f.getFileName().toString().equals("lock"));
        } catch (IOException e) {
            return false;
        }
    }

    /** Removes it all; throws, naming what is left and how to remove it, if a thing could not be removed. */
    void run(Optional<LabState> state) {
        List<String> left = List.of();
        List<String> errors = new ArrayList<>();
        for (int pass = 1; pass <= PASSES; pass++) {
            errors.clear();
            Steps steps = new Steps("");
            pass(state, steps);
            left = leftovers(state);
            if (left.isEmpty()) {
                store.deleteAll();
                try {
                    Files.deleteIfExists(Lab.pinRoot(lab).getParent()); // only if no other lab pins there
                } catch (IOException ignored) {
                    // another lab's pins are still there
                }
                return;
            }
            steps.failures().forEach(e -> errors.add(e.getMessage()));
        }
        StringBuilder message = new StringBuilder("lab '" + lab + "' could not be removed completely after " + PASSES
                + " passes (its state is kept: run 'sluice lab down' again once the cause is gone). Left:");
        left.forEach(l -> message.append("\n  - ").append(l));
        if (!errors.isEmpty()) {
            message.append("\nerrors of the last pass:");
            errors.forEach(e -> message.append("\n  - ").append(e));
        }
        throw new LabException(message.toString());
    }

    private void pass(Optional<LabState> state, Steps steps) {
        // Kubelets and agents first: a running kubelet would start again the containers that are being stopped, a
        // running agent would go on programming pods that are being removed.
        List<LabProcesses.Started> first = new ArrayList<>();
        state.ifPresent(s -> s.kubelets().forEach(k -> first.add(new LabProcesses.Started(k.pid(), k.startTicks()))));
        state.ifPresent(s -> s.agents().forEach(a -> first.add(new LabProcesses.Started(a.pid(), a.startTicks()))));
        steps.run(() -> stopAll(first));
        // Then every other process of the lab at once (a hundred pods stopped one after another would take minutes).
        steps.run(() -> stopAll(processes(state)));
        steps.run(() -> cgroupRoot().ifPresent(Cgroups::remove));
        // The pods' v1 memory and cpu cgroups (resources.limits where v2 lacks those controllers): empty by now.
        steps.run(() -> PodLimits.removeLab(lab));
        for (String ns : netnsNames(state)) {
            steps.run(() -> LabNetwork.deleteNetns(ns));
        }
        // The agents' pinned maps and links: removing the pins releases the cgroup links.
        steps.run(() -> LabStore.deleteTree(Lab.pinRoot(lab)));
    }

    /** SIGTERM to all, then SIGKILL to those still there after the grace period; each by PID and start time. */
    private static void stopAll(List<LabProcesses.Started> processes) {
        List<ProcessHandle> signalled = new ArrayList<>();
        for (LabProcesses.Started p : processes) {
            if (LabProcesses.alive(p.pid(), p.startTicks())) {
                ProcessHandle.of(p.pid()).ifPresent(h -> {
                    h.destroy();
                    signalled.add(h);
                });
            }
        }
        long deadline = System.currentTimeMillis() + GRACE_MS;
        while (System.currentTimeMillis() < deadline && processes.stream().anyMatch(p -> LabProcesses.alive(p.pid(), p.startTicks()))) {
            LabProcesses.sleep(20);
        }
        for (LabProcesses.Started p : processes) {
            LabProcesses.stop(p.pid(), p.startTicks(), 0);
        }
    }

    /** Every process of the lab now: from the state, the journal, the lab's cgroups and its network namespaces. */
    private List<LabProcesses.Started> processes(Optional<LabState> state) {
        Set<LabProcesses.Started> all = new LinkedHashSet<>();
        state.ifPresent(s -> {
            for (PodState p : s.pods()) {
                for (ContainerState c : p.containers()) {
                    all.add(new LabProcesses.Started(c.pid(), c.startTicks()));
                }
            }
            for (AgentState a : s.agents()) {
                all.add(new LabProcesses.Started(a.pid(), a.startTicks()));
            }
            for (LabState.KubeletState k : s.kubelets()) {
                all.add(new LabProcesses.Started(k.pid(), k.startTicks()));
            }
        });
        all.addAll(LabProcesses.journal(store.processJournal()));
        for (long pid : inCgroups()) {
            LabProcesses.startTicks(pid).ifPresent(t -> all.add(new LabProcesses.Started(pid, t)));
        }
        for (long pid : inNetns(netnsNames(state))) {
            LabProcesses.startTicks(pid).ifPresent(t -> all.add(new LabProcesses.Started(pid, t)));
        }
        long self = ProcessHandle.current().pid();
        return all.stream().filter(p -> p.pid() != self).toList();
    }

    private List<Long> inCgroups() {
        Optional<Path> root = cgroupRoot().filter(Files::isDirectory);
        if (root.isEmpty()) {
            return List.of();
        }
        try (var walk = Files.walk(root.get())) {
            return walk.filter(Files::isDirectory).flatMap(d -> Cgroups.procs(d).stream()).toList();
        } catch (IOException | java.io.UncheckedIOException e) {
            return List.of(); // a cgroup went away while we looked: the next pass looks again
        }
    }

    /**
     * The processes whose network namespace is one of {@code names}: found by the namespace's inode, which
     * /proc/PID/ns/net links to as {@code net:[INODE]}. A process of a lab namespace is the lab's.
     */
    static List<Long> inNetns(Set<String> names) {
        Set<String> targets = new TreeSet<>();
        for (String name : names) {
            try {
                targets.add("net:[" + Files.getAttribute(Path.of("/run/netns", name), "unix:ino") + "]");
            } catch (IOException | RuntimeException e) {
                // gone meanwhile
            }
        }
        if (targets.isEmpty()) {
            return List.of();
        }
        List<Long> pids = new ArrayList<>();
        try (DirectoryStream<Path> proc = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
            for (Path p : proc) {
                try {
                    if (targets.contains(Files.readSymbolicLink(p.resolve("ns/net")).toString())) {
                        pids.add(Long.parseLong(p.getFileName().toString()));
                    }
                } catch (IOException | RuntimeException e) {
                    // exited meanwhile, or a kernel thread
                }
            }
        } catch (IOException e) {
            return pids;
        }
        return pids;
    }

    private Optional<Path> cgroupRoot() {
        return Cgroups.v2Root().map(r -> r.resolve("sluice-lab-" + lab));
    }

    /** The namespaces the state names, and every namespace with the lab's prefix that is not another lab's. */
    private Set<String> netnsNames(Optional<LabState> state) {
        Set<String> names = new TreeSet<>(labNetns());
        state.ifPresent(s -> {
            s.nodes().forEach(n -> names.add(n.netns()));
            names.add(s.fabricNetns());
            s.pods().forEach(p -> names.add(p.netns()));
        });
        return names;
    }

    private Set<String> labNetns() {
        String prefix = LabNetwork.netnsPrefix(lab);
        // Lab "a" owns sl-a-*, but lab "a-b"'s namespaces (sl-a-b-*) begin the same way: those are left alone.
        List<String> longer = otherLabs().stream().filter(o -> o.startsWith(lab + "-")).map(LabNetwork::netnsPrefix).toList();
        Set<String> names = new TreeSet<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(Path.of("/run/netns"))) {
            for (Path p : dir) {
                String n = p.getFileName().toString();
                if (n.startsWith(prefix) && longer.stream().noneMatch(n::startsWith)) {
                    names.add(n);
                }
            }
        } catch (IOException e) {
            // no /run/netns: no namespace at all
        }
        return names;
    }

    private List<String> otherLabs() {
        try (var dirs = Files.list(LabStore.root())) {
            return dirs.map(d -> d.getFileName().toString()).filter(n -> !n.equals(lab)).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** What of the lab still exists, each with how to remove it by hand. */
    private List<String> leftovers(Optional<LabState> state) {
        List<String> left = new ArrayList<>();
        Set<String> netns = netnsNames(state);
        for (LabProcesses.Started p : processes(state)) {
            if (LabProcesses.alive(p.pid(), p.startTicks())) {
                left.add("process " + p.pid() + " (" + ProcessHandle.of(p.pid()).flatMap(h -> h.info().command()).orElse("?")
                        + "): remove with 'kill -KILL " + p.pid() + "'");
            }
        }
        for (String ns : netns) {
            if (Files.exists(Path.of("/run/netns", ns))) {
                left.add("network namespace " + ns + ": remove with 'ip netns delete " + ns + "'");
            }
        }
        // The lab makes links only inside its namespaces; a pod veth found in the machine's namespace was moved there.
        state.ifPresent(s -> {
            Set<String> vethNames = new TreeSet<>();
            s.pods().forEach(p -> vethNames.add(p.hostVeth()));
            if (!vethNames.isEmpty()) {
                Command.exec(List.of("ip", "-o", "link", "show")).stdout().lines()
                        .map(l -> l.split(":")[1].strip().split("@")[0])
                        .filter(vethNames::contains)
                        .forEach(l -> left.add("link " + l + " in the machine's namespace: remove with 'ip link delete " + l + "'"));
            }
        });
        cgroupRoot().filter(Files::isDirectory).ifPresent(c -> left.add("cgroup " + c + " (" + Cgroups.describe(c)
                + "): remove with 'echo 1 > " + c + "/cgroup.kill' and 'find " + c + " -depth -type d -exec rmdir {} \\;'"
                + " (umount first what is mounted below it: 'findmnt -R " + c + "')"));
        for (Path v1 : PodLimits.labCgroups(lab)) {
            left.add("cgroup " + v1 + ": remove with 'find " + v1 + " -depth -type d -exec rmdir {} \\;'");
        }
        if (Files.exists(Lab.pinRoot(lab))) {
            left.add("BPF pins " + Lab.pinRoot(lab) + ": remove with 'rm -r " + Lab.pinRoot(lab) + "'");
        }
        return left;
    }
}
