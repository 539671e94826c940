package dev.sluice.cni;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

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
                      JsonNode prevResult) {

    public static final String DEFAULT_SOCKET = "/var/run/sluice/cni.sock";
    /** The versions whose configuration and result this plugin reads and writes (1.1 only adds STATUS and GC). */
    public static final List<String> SUPPORTED = List.of("1.0.0", "1.1.0");

    static final ObjectMapper JSON = new ObjectMapper();

    public NetConf {
        labels = Map.copyOf(labels);
    }

    public static NetConf parse(byte[] stdin) {
        JsonNode root;
        try {
            root = JSON.readTree(stdin);
        } catch (JsonProcessingException e) {
            throw new CniError(CniError.DECODING_FAILURE, "the network configuration on stdin is not JSON: "
                    + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw new CniError(CniError.IO_FAILURE, "cannot read the network configuration on stdin: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new CniError(CniError.DECODING_FAILURE, "the network configuration on stdin is not a JSON object");
        }
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
        JsonNode m = root.get("mtu");
        if (m != null && !m.isNull()) {
            if (!m.canConvertToInt() || !m.isIntegralNumber() || m.asInt() < 576 || m.asInt() > 65535) {
                throw new CniError(CniError.INVALID_CONFIG, "mtu " + m + " is not a number from 576 to 65535");
            }
            mtu = m.asInt();
        }
        JsonNode ipam = root.get("ipam");
        if (ipam != null && ipam.isObject() && ipam.has("type")) {
            throw new CniError(CniError.UNSUPPORTED_FIELD, "ipam.type '" + ipam.get("type").asText()
                    + "' is not supported: the Sluice agent allocates pod addresses from the node's PodCIDR; remove the ipam block");
        }
        Map<String, String> labels = new LinkedHashMap<>();
        JsonNode list = root.path("args").path("cni").path("labels");
        if (!list.isMissingNode() && !list.isNull()) {
            if (!list.isArray()) {
                throw new CniError(CniError.INVALID_CONFIG, "args.cni.labels is not a list of {\"key\", \"value\"}");
            }
            for (int i = 0; i < list.size(); i++) {
                JsonNode l = list.get(i);
                if (!l.path("key").isTextual() || l.path("key").asText().isEmpty() || !l.path("value").isTextual()) {
                    throw new CniError(CniError.INVALID_CONFIG, "args.cni.labels[" + i + "] is not {\"key\": string, \"value\": string}");
                }
                labels.put(l.get("key").asText(), l.get("value").asText());
            }
        }
        JsonNode prev = root.get("prevResult");
        if (prev != null && !prev.isNull() && !prev.isObject()) {
            throw new CniError(CniError.INVALID_CONFIG, "prevResult is not an object");
        }
        return new NetConf(version, name, type, socket, mtu, labels, prev == null || prev.isNull() ? null : prev);
    }

    /** A string field; a missing one is error 7 unless it has a fallback. */
    private static String text(JsonNode root, String field, String fallback) {
        JsonNode v = root.get(field);
        if (v == null || v.isNull()) {
            if (fallback == null) {
                throw new CniError(CniError.INVALID_CONFIG, "the network configuration has no '" + field + "'");
            }
            return fallback;
        }
        if (!v.isTextual() || v.asText().isEmpty()) {
            throw new CniError(CniError.INVALID_CONFIG, "'" + field + "' is " + v + ", not a non-empty string");
        }
        return v.asText();
    }
}
