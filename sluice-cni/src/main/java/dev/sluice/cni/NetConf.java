package dev.sluice.cni;

import com.fasterxml.jackson.core.JsonProcessingException;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The network configuration a runtime passes on stdin (spec, "Section 1"), with Sluice's own keys:
 *
 * <pre>
 * {"cniVersion": "1.0.0", "name": "sluice", "type": "sluice-cni",
 *  "agentSocket": "/var/run/sluice/cni.sock",          // the node agent's CNI socket (this default)
 *  "mtu": 1500,                                         // of both veth ends (optional)
 *  "args": {"cni": {"labels": [{"key": "app", "value": "web"}]}}}   // CNI's convention: the pod's labels
 * </pre>
 *
 * Bad input is the spec's error naming the field: not JSON is 6, a missing or wrongly typed field 7, a version this
 * plugin does not speak 1, an {@code ipam} block 2 (the agent allocates; no IPAM plugin is delegated to).
 *
 * @param labels the pod's labels from {@code args.cni.labels}, for a pod the agent's cluster source does not know
 * @param prevResult the result of ADD, which the runtime passes to CHECK and DEL (null when absent)
 */
public record NetConf(String cniVersion, String name, String type, String agentSocket, int mtu, Map<String, String> labels,
                      Map<String, Object> prevResult) {

    public static final String DEFAULT_SOCKET = "/var/run/sluice/cni.sock";
    /** The versions whose configuration and result this plugin reads and writes (1.1 only adds STATUS and GC). */
    public static final List<String> SUPPORTED = List.of("1.0.0", "1.1.0");

    public NetConf {
        labels = Map.copyOf(labels);
    }

    @SuppressWarnings("unchecked")
    public static NetConf parse(byte[] stdin) {
        Object parsed;
        try {
            parsed = Json.parse(stdin);
        } catch (JsonProcessingException e) {
            throw new CniError(CniError.DECODING_FAILURE, "the network configuration on stdin is not JSON: "
                    + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw new CniError(CniError.IO_FAILURE, "cannot read the network configuration on stdin: " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> m)) {
            throw new CniError(CniError.DECODING_FAILURE, "the network configuration on stdin is not a JSON object");
        }
        Map<String, Object> root = (Map<String, Object>) m;
        String version = text(root, "cniVersion", null);
        if (!SUPPORTED.contains(version)) {
            throw new CniError(CniError.INCOMPATIBLE_VERSION, "cniVersion '" + version + "' is not supported; this plugin speaks "
                    + SUPPORTED, "supported versions: " + String.join(", ", SUPPORTED));
        }
        String name = text(root, "name", null);
        String type = text(root, "type", null);
        String socket = text(root, "agentSocket", DEFAULT_SOCKET);
        if (!socket.startsWith("/")) {
            throw new CniError(CniError.INVALID_CONFIG, "agentSocket '" + socket + "' is not an absolute path");
        }
        int mtu = 0;
        Object mv = root.get("mtu");
        if (mv != null) {
            if (!(mv instanceof Long l) || l < 576 || l > 65535) {
                throw new CniError(CniError.INVALID_CONFIG, "mtu " + Json.writeString(mv) + " is not a number from 576 to 65535");
            }
            mtu = l.intValue();
        }
        if (root.get("ipam") instanceof Map<?, ?> ipam && ipam.containsKey("type")) {
            throw new CniError(CniError.UNSUPPORTED_FIELD, "ipam.type '" + ipam.get("type")
                    + "' is not supported: the Sluice agent allocates pod addresses from the node's PodCIDR; remove the ipam block");
        }
        Map<String, String> labels = new LinkedHashMap<>();
        Object list = Json.at(root, "args", "cni", "labels");
        if (list != null) {
            if (!(list instanceof List<?> l)) {
                throw new CniError(CniError.INVALID_CONFIG, "args.cni.labels is not a list of {\"key\", \"value\"}");
            }
            for (int i = 0; i < l.size(); i++) {
                Object key = Json.at(l.get(i), "key");
                Object value = Json.at(l.get(i), "value");
                if (!(key instanceof String k) || k.isEmpty() || !(value instanceof String v)) {
                    throw new CniError(CniError.INVALID_CONFIG, "args.cni.labels[" + i + "] is not {\"key\": string, \"value\": string}");
                }
                labels.put(k, v);
            }
        }
        Object prev = root.get("prevResult");
        if (prev != null && !(prev instanceof Map)) {
            throw new CniError(CniError.INVALID_CONFIG, "prevResult is not an object");
        }
        return new NetConf(version, name, type, socket, mtu, labels, (Map<String, Object>) prev);
    }

    /** A string field; a missing one is error 7 unless it has a fallback. */
    private static String text(Map<String, Object> root, String field, String fallback) {
        Object v = root.get(field);
        if (v == null) {
            if (fallback == null) {
                throw new CniError(CniError.INVALID_CONFIG, "the network configuration has no '" + field + "'");
            }
            return fallback;
        }
        if (!(v instanceof String s) || s.isEmpty()) {
            throw new CniError(CniError.INVALID_CONFIG, "'" + field + "' is " + Json.writeString(v) + ", not a non-empty string");
        }
        return s;
    }
}
