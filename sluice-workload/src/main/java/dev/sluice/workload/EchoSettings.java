package dev.sluice.workload;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What an echo workload serves and where: read from the environment a lab pod is started with. */
public record EchoSettings(Identity identity, InetAddress bindAddress, List<Integer> ports, List<Integer> udpPorts) {
    public static final String POD = "SLUICE_POD";
    public static final String NAMESPACE = "SLUICE_NAMESPACE";
    public static final String NODE = "SLUICE_NODE";
    public static final String LABELS = "SLUICE_LABELS";
    public static final String PORTS = "SLUICE_PORTS";
    /** UDP ports answered by {@link UdpEchoServer}; none unless set. */
    public static final String UDP_PORTS = "SLUICE_UDP_PORTS";
    /** Where to listen; all interfaces unless set (tests bind loopback). */
    public static final String BIND = "SLUICE_BIND";

    public EchoSettings {
        ports = List.copyOf(ports);
        udpPorts = List.copyOf(udpPorts);
    }

    public EchoSettings(Identity identity, InetAddress bindAddress, List<Integer> ports) {
        this(identity, bindAddress, ports, List.of());
    }

    /**
     * Reads {@code SLUICE_POD} (else {@code HOSTNAME}, which container runtimes set to the pod's name, else "echo"),
     * {@code SLUICE_NAMESPACE} ("default"), {@code SLUICE_NODE} (""), {@code SLUICE_LABELS} ("k=v,k2=v2"),
     * {@code SLUICE_PORTS} ("50051,8080"; 8080) and {@code SLUICE_BIND} (0.0.0.0).
     *
     * @throws IllegalArgumentException when a value cannot be read
     */
    public static EchoSettings fromEnvironment(Map<String, String> env) {
        String pod = env.getOrDefault(POD, env.getOrDefault("HOSTNAME", "echo"));
        Identity identity = new Identity(pod, env.getOrDefault(NAMESPACE, "default"), env.getOrDefault(NODE, ""),
                parseLabels(env.getOrDefault(LABELS, "")));
        return new EchoSettings(identity, parseAddress(env.getOrDefault(BIND, "0.0.0.0")),
                parsePorts(env.getOrDefault(PORTS, "8080")), udpPorts(env.getOrDefault(UDP_PORTS, "")));
    }

    private static List<Integer> udpPorts(String text) {
        return text.isBlank() ? List.of() : parsePorts(text);
    }

    /** "app=product,version=v1" as a map; blank means no labels. */
    public static Map<String, String> parseLabels(String text) {
        Map<String, String> labels = new LinkedHashMap<>();
        for (String entry : items(text)) {
            int eq = entry.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("label \"" + entry + "\" is not key=value");
            }
            labels.put(entry.substring(0, eq).strip(), entry.substring(eq + 1).strip());
        }
        return labels;
    }

    /** "50051,8080" as a list; 0 asks for a free port. */
    public static List<Integer> parsePorts(String text) {
        List<Integer> ports = new ArrayList<>();
        for (String item : items(text)) {
            try {
                int port = Integer.parseInt(item);
                if (port < 0 || port > 65535) {
                    throw new NumberFormatException();
                }
                ports.add(port);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("\"" + item + "\" is not a port (0-65535)");
            }
        }
        if (ports.isEmpty()) {
            throw new IllegalArgumentException("no port given");
        }
        return ports;
    }

    /** An IP literal; never a host name, so that start-up does no DNS lookup. */
    public static InetAddress parseAddress(String text) {
        try {
            return InetAddress.ofLiteral(text.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("\"" + text + "\" is not an IP address");
        }
    }

    private static List<String> items(String commaSeparated) {
        return commaSeparated.isBlank() ? List.of() : List.of(commaSeparated.strip().split("\\s*,\\s*"));
    }
}
