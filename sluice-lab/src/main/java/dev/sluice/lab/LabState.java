package dev.sluice.lab;

import dev.sluice.model.Desired;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Everything a running lab is made of, as kept on disk so that `sluice lab` commands in any shell find
 * it: the nodes, what the user applied, the ClusterIPs handed out, and each pod with its processes.
 */
public record LabState(String name, String cgroupRoot, String fabricNetns, List<NodeState> nodes, Desired desired,
                       Map<String, String> clusterIps, List<PodState> pods, List<AgentState> agents, String valuesFile,
                       long createdEpochMs, List<PendingPods> pending, List<KubeletState> kubelets) {
    public LabState {
        pending = pending == null ? List.of() : List.copyOf(pending); // a state written before pods could be pending
        kubelets = kubelets == null ? List.of() : List.copyOf(kubelets); // a state written before kubelets
    }

    /** A lab before its kubelets run. */
    public LabState(String name, String cgroupRoot, String fabricNetns, List<NodeState> nodes, Desired desired,
                    Map<String, String> clusterIps, List<PodState> pods, List<AgentState> agents, String valuesFile,
                    long createdEpochMs, List<PendingPods> pending) {
        this(name, cgroupRoot, fabricNetns, nodes, desired, clusterIps, pods, agents, valuesFile, createdEpochMs, pending, List.of());
    }

    /** A lab before its kubelets run, with no pod Pending. */
    public LabState(String name, String cgroupRoot, String fabricNetns, List<NodeState> nodes, Desired desired,
                    Map<String, String> clusterIps, List<PodState> pods, List<AgentState> agents, String valuesFile,
                    long createdEpochMs) {
        this(name, cgroupRoot, fabricNetns, nodes, desired, clusterIps, pods, agents, valuesFile, createdEpochMs, List.of(), List.of());
    }

    /**
     * One node: a network namespace on the fabric, with a /24 for its pods and a cgroup for them.
     *
     * @param maxPods how many pods it takes at most (the kubelet's {@code maxPods}, 110 by default)
     * @param annotations what the node's agent published for the other nodes (its WireGuard public key), as
     *        Kubernetes node annotations; written by the agent through {@link LabClusterSource#annotateNode}
     */
    public record NodeState(String name, int index, String netns, String address, String podCidr, String cgroup, int maxPods,
                            Map<String, String> annotations) {
        public static final int DEFAULT_MAX_PODS = 110;

        public NodeState {
            maxPods = maxPods <= 0 ? DEFAULT_MAX_PODS : maxPods; // a state written before the limit existed
            annotations = annotations == null ? Map.of() : Map.copyOf(annotations); // nor annotations
        }

        /** A node its agent has published nothing about yet. */
        public NodeState(String name, int index, String netns, String address, String podCidr, String cgroup, int maxPods) {
            this(name, index, netns, address, podCidr, cgroup, maxPods, Map.of());
        }

        /** This node with {@code key} set to {@code value} (removed when empty). */
        public NodeState annotated(String key, String value) {
            Map<String, String> changed = new TreeMap<>(annotations);
            if (value.isEmpty()) {
                changed.remove(key);
            } else {
                changed.put(key, value);
            }
            return new NodeState(name, index, netns, address, podCidr, cgroup, maxPods, changed);
        }
    }

    /**
     * Pods that were asked for but fit on no node, as the scheduler leaves them {@code Pending}: counted, not made
     * (a Deployment of a million replicas is one entry), with why they do not fit. They are placed when a later
     * change finds room (a pod removed, a limit raised).
     *
     * @param owner the Deployment, or for a bare pod its own name
     */
    public record PendingPods(String namespace, String owner, boolean bare, long count, String reason) {
        public String describe() {
            return count + " pod(s) of " + (bare ? "Pod " : "Deployment ") + namespace + "/" + owner + " Pending: " + reason;
        }
    }

    /**
     * One pod: its namespace, veth, address, cgroup and containers. {@code owner} is its Deployment, if any; {@code mac}
     * the MAC its veth was made with (null in the state of a lab made before it was recorded).
     */
    public record PodState(String namespace, String name, String node, String ip, String netns, String hostVeth,
                           String cgroup, Map<String, String> labels, String owner, String templateHash,
                           List<ContainerState> containers, long createdEpochMs, boolean ready, String mac) {
        public String key() {
            return namespace + "/" + name;
        }

        /** The same pod, ready: its containers answer on their ports, so it may receive traffic. */
        PodState asReady() {
            PodState p = this;
            for (ContainerState c : containers) {
                p = p.withContainer(c.withReady(true));
            }
            return p.withReady(true);
        }

        PodState withReady(boolean r) {
            return new PodState(namespace, name, node, ip, netns, hostVeth, cgroup, labels, owner, templateHash, containers,
                    createdEpochMs, r, mac);
        }

        PodState withContainer(ContainerState c) {
            List<ContainerState> list = new ArrayList<>(containers);
            list.replaceAll(x -> x.name().equals(c.name()) ? c : x);
            return new PodState(namespace, name, node, ip, netns, hostVeth, cgroup, labels, owner, templateHash, List.copyOf(list),
                    createdEpochMs, ready, mac);
        }

        public Optional<ContainerState> container(String containerName) {
            return containers.stream().filter(c -> c.name().equals(containerName)).findFirst();
        }

        /** kubectl's READY column: ready containers / containers. */
        public String readyColumn() {
            long running = ready ? containers.size() : containers.stream().filter(ContainerState::ready).count();
            return running + "/" + containers.size();
        }

        public int restarts() {
            return containers.stream().mapToInt(ContainerState::restartCount).sum();
        }
    }

    /**
     * A container's process, identified by PID and start time so that a reused PID is never mistaken for it, and what
     * the kubelet knows of it.
     *
     * @param startedAtEpochMs when the running process started (0 in states written before the kubelet)
     * @param restartCount     how often the kubelet started it again
     * @param lastExit         how the previous process ended, null if none did
     * @param waiting          why no process runs now ("CrashLoopBackOff"), null while one runs or after a final exit
     * @param waitingUntilEpochMs when the back-off ends
     * @param backOffMs        the back-off the last restart waited (doubles from 10 s to 5 min)
     * @param terminated       the final exit of a container its restartPolicy does not restart, else null
     * @param ready            whether its readiness probe (or its ports, without one) passed for the running process
     */
    public record ContainerState(String name, String image, long pid, long startTicks, String log, List<Integer> ports,
                                 long startedAtEpochMs, int restartCount, ContainerExit lastExit, String waiting,
                                 long waitingUntilEpochMs, long backOffMs, ContainerExit terminated, boolean ready) {
        public ContainerState(String name, String image, long pid, long startTicks, String log, List<Integer> ports) {
            this(name, image, pid, startTicks, log, ports, System.currentTimeMillis(), 0, null, null, 0, 0, null, false);
        }

        /** kubectl's state of a container: Running, Waiting (reason) or Terminated (reason). */
        public String describeState() {
            if (waiting != null) {
                return "Waiting (" + waiting + ")";
            }
            if (terminated != null) {
                return "Terminated (" + terminated.reason() + ", exit code " + terminated.code() + ")";
            }
            return "Running";
        }

        ContainerState withReady(boolean r) {
            return new ContainerState(name, image, pid, startTicks, log, ports, startedAtEpochMs, restartCount, lastExit, waiting,
                    waitingUntilEpochMs, backOffMs, terminated, r);
        }

        /** No process any more: it exited ({@code exit}), and waits {@code backOff} to start again, or never will. */
        ContainerState exited(ContainerExit exit, boolean restarts, long backOff, long now) {
            return new ContainerState(name, image, 0, 0, log, ports, startedAtEpochMs, restartCount, exit,
                    restarts ? "CrashLoopBackOff" : null, restarts ? now + backOff : 0, backOff, restarts ? null : exit, false);
        }

        /** The new process of a restarted container. */
        ContainerState restarted(long newPid, long newTicks, long now) {
            return new ContainerState(name, image, newPid, newTicks, log, ports, now, restartCount + 1, lastExit, null, 0, backOffMs,
                    null, false);
        }
    }

    /**
     * How a container's process ended.
     *
     * @param code   its exit status (128 + signal when a signal ended it; -1 when unknown)
     * @param reason Completed, Error, OOMKilled, or why the kubelet stopped it
     */
    public record ContainerExit(int code, String reason, long startedAtEpochMs, long finishedAtEpochMs) {
    }

    /** A node's kubelet ({@link NodeKubelet}): probes and restarts the node's containers. */
    public record KubeletState(String node, long pid, long startTicks, String log) {
    }

    /** The Sluice agent of one node. */
    /**
     * A node's agent, as the lab runs it: under a supervisor ({@link AgentSupervisor}) that restarts it.
     *
     * @param pid            the supervisor's process (the agent is its child; see {@code supervisorFile} for its PID)
     * @param supervisorFile where the supervisor records the agent's PID, restarts and last exit
     */
    public record AgentState(String node, long pid, long startTicks, String log, String statusFile, String supervisorFile) {
    }

    public Optional<NodeState> node(String name) {
        return nodes.stream().filter(n -> n.name().equals(name)).findFirst();
    }

    public Optional<PodState> pod(String namespace, String name) {
        return pods.stream().filter(p -> p.namespace().equals(namespace) && p.name().equals(name)).findFirst();
    }

    LabState withDesired(Desired d) {
        return new LabState(name, cgroupRoot, fabricNetns, nodes, d, clusterIps, pods, agents, valuesFile, createdEpochMs, pending, kubelets);
    }

    LabState withPods(List<PodState> p) {
        return new LabState(name, cgroupRoot, fabricNetns, nodes, desired, clusterIps, List.copyOf(p), agents, valuesFile, createdEpochMs, pending, kubelets);
    }

    LabState withClusterIps(Map<String, String> ips) {
        return new LabState(name, cgroupRoot, fabricNetns, nodes, desired, new TreeMap<>(ips), pods, agents, valuesFile, createdEpochMs, pending, kubelets);
    }

    LabState withAgents(List<AgentState> a) {
        return new LabState(name, cgroupRoot, fabricNetns, nodes, desired, clusterIps, pods, List.copyOf(a), valuesFile, createdEpochMs, pending, kubelets);
    }

    LabState withPending(List<PendingPods> p) {
        return new LabState(name, cgroupRoot, fabricNetns, nodes, desired, clusterIps, pods, agents, valuesFile, createdEpochMs, p, kubelets);
    }

    /** With {@code n} as its nodes (a node joined or left: `lab node add|remove`). */
    LabState withNodes(List<NodeState> n) {
        return new LabState(name, cgroupRoot, fabricNetns, List.copyOf(n), desired, clusterIps, pods, agents, valuesFile, createdEpochMs, pending, kubelets);
    }

    LabState withKubelets(List<KubeletState> k) {
        return new LabState(name, cgroupRoot, fabricNetns, nodes, desired, clusterIps, pods, agents, valuesFile, createdEpochMs, pending, k);
    }

    /** How many pods are Pending in all. */
    public long pendingCount() {
        return pending.stream().mapToLong(PendingPods::count).sum();
    }

    LabState addPod(PodState pod) {
        List<PodState> p = new ArrayList<>(pods);
        p.add(pod);
        return withPods(p);
    }

    LabState replacePod(PodState pod) {
        List<PodState> p = new ArrayList<>(pods);
        p.replaceAll(x -> x.key().equals(pod.key()) ? pod : x);
        return withPods(p);
    }

    LabState removePod(PodState pod) {
        List<PodState> p = new ArrayList<>(pods);
        p.removeIf(x -> x.key().equals(pod.key()));
        return withPods(p);
    }
}
