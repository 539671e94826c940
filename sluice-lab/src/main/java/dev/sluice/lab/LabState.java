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
                       long createdEpochMs, List<PendingPods> pending) {

    public LabState {
        pending = pending == null ? List.of() : List.copyOf(pending); // a state written before pods could be pending
    }

    /**
     * One node: a network namespace on the fabric, with a /24 for its pods and a cgroup for them.
     *
     * @param maxPods how many pods it takes at most (the kubelet's {@code maxPods}, 110 by default)
     */
    public record NodeState(String name, int index, String netns, String address, String podCidr, String cgroup, int maxPods) {
        public static final int DEFAULT_MAX_PODS = 110;

        public NodeState {
            maxPods = maxPods <= 0 ? DEFAULT_MAX_PODS : maxPods; // a state written before the limit existed
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

    /** One pod: its namespace, veth, address, cgroup and containers. {@code owner} is its Deployment, if any. */
    public record PodState(String namespace, String name, String node, String ip, String netns, String hostVeth,
                           String cgroup, Map<String, String> labels, String owner, String templateHash,
                           List<ContainerState> containers, long createdEpochMs, boolean ready) {
        public String key() {
            return namespace + "/" + name;
        }

        /** The same pod, ready: its containers answer on their ports, so it may receive traffic. */
        PodState asReady() {
            return new PodState(namespace, name, node, ip, netns, hostVeth, cgroup, labels, owner, templateHash, containers,
                    createdEpochMs, true);
        }
    }

    /** A container's process, identified by PID and start time so that a reused PID is never mistaken for it. */
    public record ContainerState(String name, String image, long pid, long startTicks, String log, List<Integer> ports) {
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
        return new LabState(name, cgroupRoot, fabricNetns, nodes, d, clusterIps, pods, agents, valuesFile, createdEpochMs, pending);
    }

    LabState withPods(List<PodState> p) {
        return new LabState(name, cgroupRoot, fabricNetns, nodes, desired, clusterIps, List.copyOf(p), agents, valuesFile, createdEpochMs, pending);
    }

    LabState withClusterIps(Map<String, String> ips) {
        return new LabState(name, cgroupRoot, fabricNetns, nodes, desired, new TreeMap<>(ips), pods, agents, valuesFile, createdEpochMs, pending);
    }

    LabState withAgents(List<AgentState> a) {
        return new LabState(name, cgroupRoot, fabricNetns, nodes, desired, clusterIps, pods, List.copyOf(a), valuesFile, createdEpochMs, pending);
    }

    LabState withPending(List<PendingPods> p) {
        return new LabState(name, cgroupRoot, fabricNetns, nodes, desired, clusterIps, pods, agents, valuesFile, createdEpochMs, p);
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
