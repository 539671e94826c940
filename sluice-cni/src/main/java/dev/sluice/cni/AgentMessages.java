package dev.sluice.cni;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.Map;

/**
 * What the plugin and the node's agent say on the agent's CNI socket: one JSON request line, one JSON reply line,
 * then the connection closes. A small exchange of the JDK's own unix socket channel and Jackson rather than the
 * agent's gRPC: the plugin is a process per call that kubelet waits for, and gRPC's classes would dominate its start.
 */
public final class AgentMessages {
    private AgentMessages() {
    }

    /** What the plugin asks. */
    public enum Op {
        /** An address for the container's interface (the same one again for the same container and interface). */
        ALLOCATE,
        /** The pod's interface exists: the agent adds the endpoint and attaches its programs; answered once applied. */
        REGISTER,
        /** The container is gone: its endpoint and address are released (nothing to release is not an error). */
        RELEASE,
        /** The endpoint the agent holds for the container's interface (for CHECK). */
        GET,
        /** Whether the agent can add pods (for STATUS). */
        STATUS
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Request(Op op, Endpoint endpoint) {
        /** As the plugin writes it ({@link Json}); the agent reads it with databind into this record. */
        public Map<String, Object> toMap() {
            return Json.object("op", op.name(), "endpoint", endpoint == null ? null : endpoint.toMap());
        }
    }

    /**
     * One pod interface as the agent records it.
     *
     * @param hostVeth the node's end of its veth, where the datapath attaches; empty until REGISTER
     * @param labels   the pod's labels for a pod the agent's cluster source does not know (CNI's args.cni.labels)
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Endpoint(String containerId, String ifname, String namespace, String pod, String netns, String ip,
                           String hostVeth, String mac, Map<String, String> labels) {
        public Endpoint {
            labels = labels == null ? Map.of() : Map.copyOf(labels);
        }

        public String owner() {
            return containerId + "/" + ifname;
        }

        public Map<String, Object> toMap() {
            return Json.object("containerId", containerId, "ifname", ifname, "namespace", namespace, "pod", pod, "netns", netns,
                    "ip", ip, "hostVeth", hostVeth, "mac", mac, "labels", labels);
        }

        @SuppressWarnings("unchecked")
        static Endpoint fromMap(Object o) {
            if (!(o instanceof Map<?, ?> m)) {
                return null;
            }
            Map<String, String> labels = new java.util.LinkedHashMap<>();
            if (m.get("labels") instanceof Map<?, ?> l) {
                l.forEach((k, v) -> labels.put(String.valueOf(k), String.valueOf(v)));
            }
            return new Endpoint(str(m, "containerId"), str(m, "ifname"), str(m, "namespace"), str(m, "pod"), str(m, "netns"),
                    str(m, "ip"), str(m, "hostVeth"), str(m, "mac"), labels);
        }

        private static String str(Map<?, ?> m, String key) {
            return m.get(key) instanceof String s ? s : null;
        }

        public Endpoint withIp(String ip) {
            return new Endpoint(containerId, ifname, namespace, pod, netns, ip, hostVeth, mac, labels);
        }
    }

    /**
     * The agent's answer: {@code ok}, or a CNI error code (11: no address free, or not ready yet) and message.
     *
     * @param endpoint what the agent holds for the interface (null: nothing)
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Reply(boolean ok, int code, String msg, Endpoint endpoint) {
        public static Reply ok(Endpoint endpoint, String msg) {
            return new Reply(true, 0, msg, endpoint);
        }

        public static Reply error(int code, String msg) {
            return new Reply(false, code, msg, null);
        }

        /** As the plugin reads what the agent wrote. */
        static Reply fromMap(Object o) {
            return new Reply(Json.at(o, "ok") instanceof Boolean b && b, Json.at(o, "code") instanceof Long c ? c.intValue() : 0,
                    Json.text(o, "msg"), Endpoint.fromMap(Json.at(o, "endpoint")));
        }
    }
}
