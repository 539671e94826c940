package dev.sluice.bench.flow;

import dev.sluice.agent.flow.FlowDirectory;
import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.datapath.policy.PolicyStructs;
import dev.sluice.datapath.policy.PolicyStructs.IpcacheKey;
import dev.sluice.datapath.policy.PolicyStructs.IpcacheValue;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.TypedMap;
import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Policy;
import dev.sluice.observe.v1.Service;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static dev.sluice.datapath.abi.Protocol.TCP;
import static dev.sluice.datapath.abi.Protocol.UDP;

/**
 * The made-up cluster the flow benchmark names its events from, as the agent's {@link FlowDirectory} would
 * hold it after a sync: {@value #PODS} pods in 4 namespaces on documentation addresses (pod k is
 * 198.51.100.(10+k) for k &lt; 100, else 203.0.113.(10+k-100)), one identity per 10 pods (app label + namespace),
 * {@value #RULES} policy rules, and one Service whose backend is pod 0 on port {@value #SERVICE_PORT}. The same
 * pods get their identities in the datapath's ipcache, so the events carry real identities.
 */
final class BenchCluster {
    static final int PODS = 200;
    static final int RULES = 50;
    static final int IDENTITY_BASE = 10_000;
    /** The rule a default-deny drop is attributed to (endpoint_info.default_deny_ingress_rule). */
    static final int DEFAULT_DENY_RULE = 9_001;
    /** The allow rule of the latency benchmark's server. */
    static final int ALLOW_RULE = 9_002;
    static final int SERVICE_PORT = 8080;
    static final String NODE = "bench-node";

    private BenchCluster() {
    }

    /** Pod k's address, dotted. */
    static String podAddress(int k) {
        if (k < 0 || k >= PODS) {
            throw new IllegalArgumentException("no pod " + k);
        }
        return k < 100 ? "198.51.100." + (10 + k) : "203.0.113." + (10 + k - 100);
    }

    static int identity(int k) {
        return IDENTITY_BASE + k / 10;
    }

    static String namespace(int k) {
        return "bench-" + (char) ('a' + k % 4);
    }

    static Inet4Address ip(String dotted) {
        try {
            return (Inet4Address) InetAddress.getByName(dotted);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(dotted, e);
        }
    }

    private static List<String> labels(int k) {
        return List.of("k8s:app=app-" + k / 10, "k8s:io.kubernetes.pod.namespace=" + namespace(k));
    }

    /** Who is who, built with the directory's canonical constructor, as FlowDirectory.of would. */
    static FlowDirectory directory() {
        Map<Integer, Endpoint> pods = new HashMap<>();
        Map<Integer, List<String>> identityLabels = new HashMap<>();
        for (int k = 0; k < PODS; k++) {
            pods.put(FlowStructs.ipv4(ip(podAddress(k))), Endpoint.newBuilder().setNamespace(namespace(k)).setPodName("pod-" + k)
                    .setNode(NODE).setIdentity(identity(k)).addAllLabels(labels(k)).build());
            identityLabels.put(identity(k), labels(k));
        }
        Map<Integer, Policy> rules = new HashMap<>();
        for (int r = 0; r < RULES; r++) {
            rules.put(1000 + r, Policy.newBuilder().setKind("CiliumNetworkPolicy").setNamespace(namespace(r)).setName("policy-" + r)
                    .setRule("ingress[0]").build());
        }
        rules.put(DEFAULT_DENY_RULE, Policy.newBuilder().setKind("CiliumNetworkPolicy").setNamespace(namespace(0)).setName("default-deny")
                .setRule("ingress").build());
        rules.put(ALLOW_RULE, Policy.newBuilder().setKind("CiliumNetworkPolicy").setNamespace(namespace(0)).setName("allow-clients")
                .setRule("ingress[0]").build());
        Service service = Service.newBuilder().setNamespace(namespace(0)).setName("pod-0-svc").build();
        Map<Long, Service> backends = new HashMap<>();
        for (int proto : List.of(TCP.value(), UDP.value())) {
            backends.put(FlowDirectory.key(FlowStructs.ipv4(ip(podAddress(0))), SERVICE_PORT, proto), service);
        }
        return new FlowDirectory(NODE, Map.copyOf(pods), Map.of(), Map.copyOf(identityLabels), Map.of(), Map.copyOf(backends),
                Map.copyOf(rules));
    }

    /** Every pod's /32 with its identity in the object's ipcache. */
    static void fillIpcache(BpfObject object) {
        TypedMap<IpcacheKey, IpcacheValue> ipcache = object.map(PolicyStructs.MAP_IPCACHE).typed(IpcacheKey.CODEC, IpcacheValue.CODEC);
        for (int k = 0; k < PODS; k++) {
            ipcache.update(new IpcacheKey(32, ip(podAddress(k))), new IpcacheValue(identity(k)));
        }
    }

    /** The pods that send the ingest benchmark's frames: {@code count} of them, spread over the cluster, never pod 0. */
    static List<Integer> senders(int count) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(1 + (i * 3) % (PODS - 1));
        }
        return out;
    }
}
