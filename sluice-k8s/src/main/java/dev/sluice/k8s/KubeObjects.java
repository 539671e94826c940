package dev.sluice.k8s;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.agent.api.PodInterfaces;
import dev.sluice.model.ContainerPort;
import dev.sluice.model.NamespaceSpec;
import dev.sluice.model.ObjectRef;
import dev.sluice.model.OtherObject;
import dev.sluice.model.Protocol;
import dev.sluice.model.ServicePort;
import dev.sluice.model.ServiceSpec;
import dev.sluice.model.Source;
import dev.sluice.model.TargetPort;
import dev.sluice.model.cluster.ClusterView;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Kubernetes objects as the cluster view holds them. The API server has validated them already, so this
 * reads leniently (a field Sluice cannot use leaves the object out, or the field, and is never an error):
 * what the lab's manifest reader refuses would never reach an informer.
 */
final class KubeObjects {
    /** The pods' gateway, as the lab and the CNI plugin address pods: a /32 routed via this link-local address. */
    static final String POD_GATEWAY = "169.254.1.1";
    private static final Pattern IPV4 = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})");
    private static final ObjectMapper JSON = new ObjectMapper();

    private KubeObjects() {
    }

    /** Where the objects of the view came from, in messages about them ("kubernetes/CiliumNetworkPolicy/ns/name"). */
    static Source source(String kind, ObjectRef ref) {
        return new Source(Path.of("kubernetes", kind, ref.toString()), 0);
    }

    static String key(HasMetadata o) {
        String ns = o.getMetadata().getNamespace();
        return ns == null || ns.isEmpty() ? o.getMetadata().getName() : ns + "/" + o.getMetadata().getName();
    }

    static ClusterView.Node node(Node n) {
        String address = "";
        if (n.getStatus() != null && n.getStatus().getAddresses() != null) {
            address = n.getStatus().getAddresses().stream().filter(a -> "InternalIP".equals(a.getType()))
                    .map(NodeAddress::getAddress).filter(KubeObjects::isIpv4).findFirst().orElse("");
        }
        String cidr = n.getSpec() == null || n.getSpec().getPodCIDR() == null ? "" : n.getSpec().getPodCIDR();
        return new ClusterView.Node(n.getMetadata().getName(), address, cidr, POD_GATEWAY, sluiceAnnotations(n));
    }

    /** The prefix of the node annotations agents publish for each other (the WireGuard public key). */
    static final String ANNOTATION_PREFIX = "network.sluice.dev/";

    /**
     * The node's annotations under {@link #ANNOTATION_PREFIX} only: a real node carries many others (kubeadm's,
     * the volume controller's) that no agent reads, and each change of one would be a node event for every agent.
     */
    static Map<String, String> sluiceAnnotations(Node n) {
        Map<String, String> all = n.getMetadata().getAnnotations();
        if (all == null || all.isEmpty()) {
            return Map.of();
        }
        Map<String, String> ours = new java.util.TreeMap<>();
        all.forEach((k, v) -> {
            if (k.startsWith(ANNOTATION_PREFIX) && v != null) {
                ours.put(k, v);
            }
        });
        return ours;
    }

    static NamespaceSpec namespace(Namespace n) {
        return new NamespaceSpec(n.getMetadata().getName(), labels(n));
    }

    /**
     * The pod as an endpoint, or empty while it has no address of its own: not yet given one, on the host's
     * network (the node's identity covers it), or finished.
     *
     * @param sliceReady whether the EndpointSlices listing the pod call it ready, or null if none lists it
     */
    static Optional<ClusterView.Pod> pod(Pod p, Boolean sliceReady) {
        var spec = p.getSpec();
        var status = p.getStatus();
        if (spec == null || status == null || Boolean.TRUE.equals(spec.getHostNetwork()) || !isIpv4(status.getPodIP())
                || spec.getNodeName() == null) {
            return Optional.empty();
        }
        String phase = status.getPhase() == null ? "" : status.getPhase();
        if (phase.equals("Succeeded") || phase.equals("Failed")) {
            return Optional.empty();
        }
        boolean running = phase.equals("Running") && p.getMetadata().getDeletionTimestamp() == null;
        boolean podReady = status.getConditions() != null && status.getConditions().stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
        // Service endpoints are what the EndpointSlices say, as kube-proxy has them; a pod no slice lists
        // (it backs no Service, or the slices are not written yet) is ready when its Ready condition says so.
        boolean ready = running && (sliceReady != null ? sliceReady : podReady);
        List<ContainerPort> ports = new ArrayList<>();
        if (spec.getContainers() != null) {
            spec.getContainers().stream().filter(c -> c.getPorts() != null).flatMap(c -> c.getPorts().stream())
                    .filter(cp -> cp.getContainerPort() != null)
                    .forEach(cp -> protocol(cp.getProtocol()).ifPresent(proto -> ports.add(new ContainerPort(
                            cp.getName() == null || cp.getName().isEmpty() ? null : cp.getName(), cp.getContainerPort(), proto))));
        }
        String namespace = p.getMetadata().getNamespace();
        String name = p.getMetadata().getName();
        return Optional.of(new ClusterView.Pod(namespace, name, spec.getNodeName(), status.getPodIP(),
                PodInterfaces.hostInterface(namespace, name), "", labels(p), ports, running, ready, owner(p), ""));
    }

    /** The workload that made the pod: the Deployment above its ReplicaSet, or the controller itself; "" for a bare pod. */
    static String owner(Pod p) {
        List<OwnerReference> owners = p.getMetadata().getOwnerReferences();
        if (owners == null) {
            return "";
        }
        return owners.stream().filter(o -> Boolean.TRUE.equals(o.getController())).findFirst().map(o -> {
            String hash = labels(p).get("pod-template-hash");
            if (o.getKind().equals("ReplicaSet") && hash != null && o.getName().endsWith("-" + hash)) {
                return o.getName().substring(0, o.getName().length() - hash.length() - 1);
            }
            return o.getName();
        }).orElse("");
    }

    static ServiceSpec service(Service s) {
        ObjectRef ref = new ObjectRef(s.getMetadata().getNamespace(), s.getMetadata().getName());
        var spec = s.getSpec();
        List<ServicePort> ports = new ArrayList<>();
        if (spec.getPorts() != null) {
            for (var p : spec.getPorts()) {
                Optional<Protocol> proto = protocol(p.getProtocol());
                if (p.getPort() == null || proto.isEmpty()) {
                    continue;
                }
                ports.add(new ServicePort(p.getName() == null || p.getName().isEmpty() ? null : p.getName(), p.getPort(),
                        targetPort(p.getTargetPort(), p.getPort()), proto.get()));
            }
        }
        String clusterIp = spec.getClusterIP();
        if (!ServiceSpec.HEADLESS.equals(clusterIp) && !isIpv4(clusterIp)) {
            clusterIp = null; // ExternalName, or an IPv6-only Service: nothing this datapath balances
        }
        Map<String, String> selector = spec.getSelector() == null ? Map.of() : new LinkedHashMap<>(spec.getSelector());
        return new ServiceSpec(ref, spec.getType() == null ? "ClusterIP" : spec.getType(), clusterIp, ports, selector,
                "ClientIP".equals(spec.getSessionAffinity()), source("Service", ref));
    }

    private static TargetPort targetPort(IntOrString target, int port) {
        if (target == null || (target.getIntVal() == null && (target.getStrVal() == null || target.getStrVal().isEmpty()))) {
            return TargetPort.of(port);
        }
        if (target.getIntVal() != null) {
            return target.getIntVal() >= 1 && target.getIntVal() <= 65535 ? TargetPort.of(target.getIntVal()) : TargetPort.of(port);
        }
        return TargetPort.of(target.getStrVal());
    }

    /**
     * Any other watched object, kept whole as the lab keeps it, without what changes on every write and
     * means nothing to an agent (resourceVersion, managedFields) or what agents themselves write (status):
     * so that an unchanged object is equal to its last version and makes no event.
     */
    static OtherObject other(String apiVersion, String kind, boolean clusterScoped, HasMetadata o) {
        ObjectRef ref = new ObjectRef(clusterScoped ? null : o.getMetadata().getNamespace(), o.getMetadata().getName());
        ObjectNode body = JSON.valueToTree(o);
        body.put("apiVersion", apiVersion);
        body.put("kind", kind);
        body.remove("status");
        JsonNode metadata = body.path("metadata");
        if (metadata instanceof ObjectNode m) {
            m.remove(List.of("resourceVersion", "managedFields", "uid", "creationTimestamp", "generation"));
        }
        return new OtherObject(apiVersion, kind, ref, source(kind, ref), body);
    }

    static Map<String, String> labels(HasMetadata o) {
        Map<String, String> labels = o.getMetadata().getLabels();
        return labels == null ? Map.of() : new LinkedHashMap<>(labels);
    }

    private static Optional<Protocol> protocol(String name) {
        if (name == null || name.isEmpty()) {
            return Optional.of(Protocol.TCP);
        }
        try {
            return Optional.of(Protocol.valueOf(name));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    static boolean isIpv4(String s) {
        if (s == null) {
            return false;
        }
        var m = IPV4.matcher(s);
        if (!m.matches()) {
            return false;
        }
        for (int i = 1; i <= 4; i++) {
            if (Integer.parseInt(m.group(i)) > 255) {
                return false;
            }
        }
        return true;
    }

}
