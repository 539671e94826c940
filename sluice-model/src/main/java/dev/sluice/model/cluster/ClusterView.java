package dev.sluice.model.cluster;

import dev.sluice.model.ContainerPort;
import dev.sluice.model.NamespaceSpec;
import dev.sluice.model.OtherObject;
import dev.sluice.model.ServiceSpec;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The cluster as an agent sees it, whatever the source (the lab's state, or Kubernetes informers): the
 * nodes, namespaces, pods, Services with their ClusterIPs, and every other object (policies, L7
 * configuration). Immutable; a source hands out a new view with each change.
 *
 * @param clusterIps each Service's ClusterIP, by {@code namespace/name}
 * @param objects the objects that are neither namespaces, workloads nor Services (policies and the like)
 */
public record ClusterView(List<Node> nodes, List<NamespaceSpec> namespaces, List<Pod> pods, List<ServiceSpec> services,
                          Map<String, String> clusterIps, List<OtherObject> objects) {

    public ClusterView {
        nodes = List.copyOf(nodes);
        namespaces = List.copyOf(namespaces);
        pods = List.copyOf(pods);
        services = List.copyOf(services);
        clusterIps = Map.copyOf(clusterIps);
        objects = List.copyOf(objects);
    }

    public static ClusterView empty() {
        return new ClusterView(List.of(), List.of(), List.of(), List.of(), Map.of(), List.of());
    }

    /**
     * One node.
     *
     * @param address its address on the network between nodes
     * @param podGateway the node's own address as its pods see it (what probes and the node itself send from)
     * @param annotations what agents publish about their node for the others, as Kubernetes node annotations
     *        (e.g. {@code network.sluice.dev/wg-pub-key}, the node's WireGuard public key)
     */
    public record Node(String name, String address, String podCidr, String podGateway, Map<String, String> annotations) {
        public Node {
            annotations = annotations == null ? Map.of() : Map.copyOf(annotations);
        }

        /** A node nothing has been published about. */
        public Node(String name, String address, String podCidr, String podGateway) {
            this(name, address, podCidr, podGateway, Map.of());
        }

        public String annotation(String key) {
            return annotations.getOrDefault(key, "");
        }
    }

    /**
     * One pod.
     *
     * @param hostInterface the node-side end of its veth, where the node's datapath attaches
     * @param cgroup its cgroup (v2) directory, whose inode names its sockets in flow events; empty if unknown
     * @param ports the container ports it declares (named ports resolve against them)
     * @param running its containers are running
     * @param ready it is running and ready, so it may receive Service traffic
     * @param owner the name of the workload (Deployment) in its namespace that made it, "" for a bare pod or
     *              when the source does not know; a Kubernetes source names the Deployment above the ReplicaSet
     * @param mac the MAC of the pod's end of its veth ({@code aa:bb:cc:dd:ee:ff}), as the network plugin made it; ""
     *            when the source does not know (the datapath then does not check frames' source MAC)
     */
    public record Pod(String namespace, String name, String node, String ip, String hostInterface, String cgroup,
                      Map<String, String> labels, List<ContainerPort> ports, boolean running, boolean ready,
                      String owner, String mac) {
        public Pod {
            labels = Map.copyOf(labels);
            ports = List.copyOf(ports);
            owner = owner == null ? "" : owner;
            mac = mac == null ? "" : mac;
        }

        /** A pod whose MAC is not known. */
        public Pod(String namespace, String name, String node, String ip, String hostInterface, String cgroup,
                   Map<String, String> labels, List<ContainerPort> ports, boolean running, boolean ready, String owner) {
            this(namespace, name, node, ip, hostInterface, cgroup, labels, ports, running, ready, owner, "");
        }

        /** A pod whose owner is not known. */
        public Pod(String namespace, String name, String node, String ip, String hostInterface, String cgroup,
                   Map<String, String> labels, List<ContainerPort> ports, boolean running, boolean ready) {
            this(namespace, name, node, ip, hostInterface, cgroup, labels, ports, running, ready, "", "");
        }

        public String key() {
            return namespace + "/" + name;
        }
    }

    public Optional<Node> node(String name) {
        return nodes.stream().filter(n -> n.name().equals(name)).findFirst();
    }

    /** The pods scheduled on {@code node}. */
    public List<Pod> podsOn(String node) {
        return pods.stream().filter(p -> p.node().equals(node)).toList();
    }
}
