package dev.sluice.model;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * The Helm-style values (a Cilium values file, typically) Sluice takes its settings from, with what it made of
 * them: a warning for each key it ignores and the state of each feature the file touches.
 *
 * @param proxyMode {@code serviceMesh.proxy}; Sluice has one mode, {@value #SIDECAR_FREE}: one proxy per node
 * @param ctMapMax the connection-tracking map's size ({@code bpf.ctGlobalTcpMax}, or the chart's {@code bpf.ctTcpMax})
 * @param maglevTableSize entries of each Service's Maglev table ({@code maglev.tableSize}, a prime)
 * @param warnings each a sentence naming the file and the key
 * @param features one per feature the file touches, in a fixed order
 * @param prefilter the XDP prefilter on each node's uplink ({@code prefilter.*})
 * @param sockops the same-node socket bypass ({@code sockops.enabled}, the key of Cilium's former sockmap acceleration):
 *        true by default; each agent still turns it off where the kernel lacks sockops, sk_msg or sockhash
 * @param routing how pod traffic reaches other nodes ({@code routingMode}, {@code tunnelProtocol}, {@code tunnelPort})
 */
public record SluiceValues(KubeProxyReplacement kubeProxyReplacement, boolean socketLb, Hubble hubble,
                           boolean serviceMesh, String proxyMode, Encryption encryption, boolean preallocateMaps,
                           int ctMapMax, int maglevTableSize, List<String> warnings, List<Feature> features,
                           Prefilter prefilter, boolean sockops, Routing routing) {
    public static final String SIDECAR_FREE = "sidecar-free";
    /**
     * Cilium defaults to 16381 entries (64 KiB a Service); a lab with thousands of Services would spend
     * hundreds of MiB on that, so Sluice starts at 1021, fair to within 1 % for up to ~10 backends.
     */
    public static final int DEFAULT_MAGLEV_TABLE_SIZE = 1021;

    /** How much of kube-proxy's work Sluice takes over. */
    public enum KubeProxyReplacement {
        /** All of it: Sluice load-balances every Service and kube-proxy is not needed (Cilium: true, "strict"). */
        STRICT,
        /** ClusterIP Services only, the rest left to kube-proxy (Cilium before 1.14: "partial"). */
        PARTIAL,
        /** None: Services are left to kube-proxy (Cilium: false, "disabled"). */
        DISABLED
    }

    /**
     * Flow observability.
     *
     * @param relay whether flows are gathered from every node
     * @param ui {@code hubble.ui.enabled}: the lab runs `sluice ui`, the service-map web UI
     * @param metrics {@code hubble.metrics.enabled} as written, e.g. {@code dns:query}
     * @param monitorAggregation {@code bpf.monitorAggregation} (Cilium's key): what the datapath reports about
     *        packets of tracked flows: none (every packet), low, medium (the default: start, end and drops) or maximum
     * @param eventsRingBytes {@code bpf.eventsRingBytes} (Sluice's): the size of each node's flow-event ring
     *        buffer in the kernel, a power of two from 4 KiB to 256 MiB; events that find it full are counted as lost
     * @param listenPort the TCP port of {@code hubble.listenAddress} (Cilium's {@code ":4244"} by default), served on
     *        127.0.0.1 of the node only, whatever host the address names; 0 when the address is empty (no TCP)
     */
    public record Hubble(boolean enabled, boolean relay, boolean ui, int eventBufferCapacity, List<String> metrics,
                         String monitorAggregation, int eventsRingBytes, int listenPort) {
        public static final int DEFAULT_EVENTS_RING_BYTES = 4 * 1024 * 1024;
        public static final List<String> AGGREGATION_LEVELS = List.of("none", "low", "medium", "maximum");
        /** The {@code hubble.metrics.enabled} names Sluice has metrics for (options after a colon aside). */
        public static final List<String> METRIC_FAMILIES = List.of("flow", "drop", "tcp", "policy", "http", "httpV2");

        /** The {@code hubble.metrics.enabled} entries Sluice has no metrics for. */
        public List<String> unsupportedMetrics() {
            return unsupported(metrics);
        }

        /** Of {@code enabled}, as {@code hubble.metrics.enabled} writes them, those Sluice has no metrics for. */
        public static List<String> unsupported(java.util.Collection<String> enabled) {
            return enabled.stream().filter(m -> !METRIC_FAMILIES.contains(family(m))).toList();
        }

        /** The family an entry names: {@code "httpV2:exemplars=true"} is httpV2. */
        public static String family(String entry) {
            return entry.split(":", 2)[0].strip();
        }

        public Hubble {
            metrics = Copies.list(metrics);
            Objects.requireNonNull(monitorAggregation, "monitorAggregation");
        }
    }

    /**
     * Transparent encryption of traffic between nodes.
     *
     * @param strictMode {@code encryption.strictMode.enabled} (Cilium's name): pod traffic to another node that cannot
     *        be encrypted is dropped (and counted), never sent in the clear
     */
    public record Encryption(boolean enabled, Type type, boolean strictMode) {
        public enum Type { WIREGUARD, IPSEC }

        public Encryption {
            Objects.requireNonNull(type, "type");
        }

        /** Without strict mode (Cilium's default). */
        public Encryption(boolean enabled, Type type) {
            this(enabled, type, false);
        }
    }

    /**
     * The XDP prefilter (Cilium's agent options {@code prefilter-device} and {@code prefilter-mode}, as its older charts
     * wrote them under {@code prefilter}): IPv4 sources in a blocked CIDR are dropped on each node's uplink.
     *
     * @param enabled {@code prefilter.enabled} (false by default, as in Cilium)
     * @param mode    {@code prefilter.mode}: {@code native} (the driver's XDP, falling back to generic where the driver
     *                has none; Cilium's default) or {@code generic}
     * @param cidrs   {@code prefilter.cidrs} (Sluice's): CIDRs each agent blocks at start, in addition to what
     *                {@code sluice prefilter add} blocked (Cilium takes them only through {@code cilium prefilter update})
     */
    public record Prefilter(boolean enabled, String mode, List<String> cidrs) {
        public static final List<String> MODES = List.of("native", "generic");

        public Prefilter {
            Objects.requireNonNull(mode, "mode");
            cidrs = Copies.list(cidrs);
        }
    }

    /**
     * Routing between nodes, with Cilium's keys and values.
     *
     * @param mode     {@code routingMode}: {@code native} (the default here: each other node's pod CIDR is routed via that
     *                 node's address, so nodes must share a network that carries pod addresses) or {@code tunnel}
     *                 (pod packets between nodes are encapsulated, so the network between nodes sees only node addresses)
     * @param protocol {@code tunnelProtocol}: {@code vxlan} (Cilium's default); {@code geneve} is not built (VXLAN is used,
     *                 with a warning)
     * @param port     {@code tunnelPort}: the UDP port of the tunnel, 8472 by default (Cilium's and the Linux kernel's
     *                 VXLAN port; IANA's is 4789)
     */
    public record Routing(Mode mode, String protocol, int port) {
        public enum Mode { NATIVE, TUNNEL }

        public static final int DEFAULT_VXLAN_PORT = 8472;

        public Routing {
            Objects.requireNonNull(mode, "mode");
            Objects.requireNonNull(protocol, "protocol");
        }

        public static Routing nativeRouting() {
            return new Routing(Mode.NATIVE, "vxlan", DEFAULT_VXLAN_PORT);
        }

        /** As status prints it: {@code native}, or {@code tunnel (vxlan, port 8472)}. */
        public String describe() {
            return mode == Mode.NATIVE ? "native" : "tunnel (" + protocol + ", UDP port " + port + ")";
        }
    }

    public SluiceValues {
        Objects.requireNonNull(kubeProxyReplacement, "kubeProxyReplacement");
        Objects.requireNonNull(routing, "routing");
        Objects.requireNonNull(hubble, "hubble");
        Objects.requireNonNull(proxyMode, "proxyMode");
        Objects.requireNonNull(encryption, "encryption");
        Objects.requireNonNull(prefilter, "prefilter");
        warnings = Copies.list(warnings);
        features = Copies.list(features);
    }

    /**
     * Cilium's chart defaults, except kubeProxyReplacement: Sluice is the only thing load-balancing Services in
     * the lab (there is no kube-proxy to leave them to), so it replaces kube-proxy unless told otherwise.
     */
    public static SluiceValues defaults() {
        return new SluiceValues(KubeProxyReplacement.STRICT, true, new Hubble(true, false, false, 4095, List.of(), "medium",
                Hubble.DEFAULT_EVENTS_RING_BYTES, 4244),
                false, SIDECAR_FREE, new Encryption(false, Encryption.Type.IPSEC), false, 524288, DEFAULT_MAGLEV_TABLE_SIZE,
                List.of(), List.of(), new Prefilter(false, "native", List.of()), true, Routing.nativeRouting());
    }

    /**
     * @throws ValuesException when the file cannot be read, is not YAML, or gives a key a value of the wrong type
     */
    public static SluiceValues load(Path file) {
        return load(file, KernelFeatures.running());
    }

    /** @param kernel what the kernel has, consulted only when the file asks for encryption */
    public static SluiceValues load(Path file, KernelFeatures kernel) {
        ValuesFile values = ValuesFile.load(file);
        SluiceValues fallback = defaults();
        List<String> warnings = new ArrayList<>();
        Hubble hubble = new Hubble(
                values.bool("hubble.enabled", fallback.hubble.enabled),
                values.bool("hubble.relay.enabled", fallback.hubble.relay),
                values.bool("hubble.ui.enabled", fallback.hubble.ui),
                eventBufferCapacity(values, fallback.hubble.eventBufferCapacity),
                values.strings("hubble.metrics.enabled"),
                monitorAggregation(values, fallback.hubble.monitorAggregation),
                eventsRingBytes(values, fallback.hubble.eventsRingBytes),
                listenPort(values, fallback.hubble.listenPort));
        SluiceValues read = new SluiceValues(
                kubeProxyReplacement(values, fallback.kubeProxyReplacement),
                values.bool("socketLB.enabled", fallback.socketLb),
                hubble,
                values.bool("serviceMesh.enabled", fallback.serviceMesh),
                values.string("serviceMesh.proxy", fallback.proxyMode),
                new Encryption(values.bool("encryption.enabled", fallback.encryption.enabled),
                        encryptionType(values, fallback.encryption.type),
                        values.bool("encryption.strictMode.enabled", fallback.encryption.strictMode)),
                values.bool("bpf.preallocateMaps", fallback.preallocateMaps),
                ctMapMax(values, fallback.ctMapMax),
                maglevTableSize(values, fallback.maglevTableSize),
                List.of(), List.of(), prefilter(values, fallback.prefilter), values.bool("sockops.enabled", fallback.sockops),
                routing(values, warnings));
        warnings.addAll(UnusedValues.report(values));
        List<Feature> features = ValueFeatures.of(values, read, kernel, warnings);
        warnings.addAll(values.warnings());
        return new SluiceValues(read.kubeProxyReplacement, read.socketLb, read.hubble, read.serviceMesh,
                read.proxyMode, read.encryption, read.preallocateMaps, read.ctMapMax, read.maglevTableSize, warnings, features, read.prefilter,
                read.sockops, read.routing);
    }

    /**
     * {@code routingMode}, {@code tunnelProtocol}, {@code tunnelPort} as Cilium reads them. Cilium before 1.14 wrote
     * {@code tunnel: vxlan|geneve|disabled} instead; that key is read too when {@code routingMode} is absent.
     */
    private static Routing routing(ValuesFile values, List<String> warnings) {
        String legacy = values.string("tunnel", "").toLowerCase(Locale.ROOT);
        String modeKey = "routingMode";
        String mode = values.string(modeKey, legacy.isEmpty() ? "native" : legacy.equals("disabled") ? "native" : "tunnel")
                .toLowerCase(Locale.ROOT);
        Routing.Mode parsed = switch (mode) {
            case "native" -> Routing.Mode.NATIVE;
            case "tunnel" -> Routing.Mode.TUNNEL;
            default -> throw values.error(modeKey, "must be native or tunnel, got " + FieldProblem.show(mode));
        };
        String protocolKey = "tunnelProtocol";
        String protocol = values.string(protocolKey, legacy.equals("geneve") ? "geneve" : "vxlan").toLowerCase(Locale.ROOT);
        if (!protocol.equals("vxlan") && !protocol.equals("geneve")) {
            throw values.error(protocolKey, "must be vxlan or geneve, got " + FieldProblem.show(protocol));
        }
        if (protocol.equals("geneve")) {
            warnings.add(values.file() + ": " + protocolKey + ": geneve is not built in Sluice; VXLAN is used instead");
            protocol = "vxlan";
        }
        String portKey = "tunnelPort";
        int port = values.integer(portKey, Routing.DEFAULT_VXLAN_PORT);
        if (port < 1 || port > 65535) {
            throw values.error(portKey, "must be a UDP port from 1 to 65535 (e.g. 8472, or IANA's 4789), got " + port);
        }
        return new Routing(parsed, protocol, port);
    }

    /** prefilter.device is accepted and ignored: the prefilter runs on each node's uplink, whatever the file names. */
    private static Prefilter prefilter(ValuesFile values, Prefilter fallback) {
        String mode = values.string("prefilter.mode", fallback.mode()).toLowerCase(Locale.ROOT);
        if (!Prefilter.MODES.contains(mode)) {
            throw values.error("prefilter.mode", "must be one of " + Prefilter.MODES + ", got '" + mode + "'");
        }
        values.take("prefilter.device");
        List<String> cidrs = values.strings("prefilter.cidrs");
        for (String c : cidrs) {
            if (!c.strip().matches("\\d{1,3}(\\.\\d{1,3}){3}(/\\d{1,2})?")) {
                throw values.error("prefilter.cidrs", "'" + c + "' is not an IPv4 CIDR (a.b.c.d/n)");
            }
        }
        return new Prefilter(values.bool("prefilter.enabled", fallback.enabled()), mode, cidrs);
    }

    /** Maglev needs a prime table size (the permutation's skip must be coprime with it); Cilium's bounds. */
    private static int maglevTableSize(ValuesFile values, int fallback) {
        String key = "maglev.tableSize";
        int size = values.integer(key, fallback);
        boolean prime = size > 1 && java.util.stream.IntStream.rangeClosed(2, (int) Math.sqrt(size)).noneMatch(d -> size % d == 0);
        if (!prime || size < 251 || size > 131071) {
            throw values.error(key, "must be a prime from 251 to 131071 (e.g. 1021 or Cilium's 16381), got " + size);
        }
        return size;
    }

    /** Cilium has taken true/false since 1.14 and strict/partial/disabled before; both are still in use. */
    private static KubeProxyReplacement kubeProxyReplacement(ValuesFile values, KubeProxyReplacement fallback) {
        String key = "kubeProxyReplacement";
        return values.value(key).map(v -> switch (v.isBoolean() || v.isTextual() ? v.asText().toLowerCase(Locale.ROOT) : "") {
            case "true", "strict" -> KubeProxyReplacement.STRICT;
            case "partial" -> KubeProxyReplacement.PARTIAL;
            case "false", "disabled" -> KubeProxyReplacement.DISABLED;
            default -> throw values.error(key, "must be true, false, \"strict\", \"partial\" or \"disabled\", got "
                    + FieldProblem.show(v));
        }).orElse(fallback);
    }

    private static Encryption.Type encryptionType(ValuesFile values, Encryption.Type fallback) {
        String key = "encryption.type";
        return switch (values.string(key, fallback.name().toLowerCase(Locale.ROOT))) {
            case "wireguard" -> Encryption.Type.WIREGUARD;
            case "ipsec" -> Encryption.Type.IPSEC;
            case String other -> throw values.error(key, "must be wireguard or ipsec, got " + FieldProblem.show(other));
        };
    }

    private static String monitorAggregation(ValuesFile values, String fallback) {
        String key = "bpf.monitorAggregation";
        String level = values.string(key, fallback).toLowerCase(Locale.ROOT);
        if (!Hubble.AGGREGATION_LEVELS.contains(level)) {
            throw values.error(key, "must be one of " + String.join(", ", Hubble.AGGREGATION_LEVELS) + ", got " + FieldProblem.show(level));
        }
        return level;
    }

    /** Cilium's form, {@code [HOST]:PORT}; an empty string turns the TCP listener off. */
    private static int listenPort(ValuesFile values, int fallback) {
        String key = "hubble.listenAddress";
        String address = values.string(key, ":" + fallback).strip();
        if (address.isEmpty()) {
            return 0;
        }
        int colon = address.lastIndexOf(':');
        try {
            int port = Integer.parseInt(address.substring(colon + 1));
            if (colon >= 0 && port >= 1 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw values.error(key, "must be [HOST]:PORT with a port from 1 to 65535 (e.g. \":4244\"), or \"\" for none, got "
                + FieldProblem.show(address));
    }

    /** The kernel takes a ring buffer of a power of two pages. */
    private static int eventsRingBytes(ValuesFile values, int fallback) {
        String key = "bpf.eventsRingBytes";
        int bytes = values.integer(key, fallback);
        if (bytes < 4096 || bytes > 256 << 20 || Integer.bitCount(bytes) != 1) {
            throw values.error(key, "must be a power of two from 4096 to 268435456 (e.g. 4194304), got " + bytes);
        }
        return bytes;
    }

    /** Hubble's ring indexes events with a mask, hence Cilium's rule of one less than a power of two. */
    private static int eventBufferCapacity(ValuesFile values, int fallback) {
        String key = "hubble.eventBufferCapacity";
        int capacity = values.integer(key, fallback);
        if (capacity < 1 || capacity > 65535 || (capacity & (capacity + 1)) != 0) {
            throw values.error(key, "must be one less than a power of two, from 1 to 65535 (e.g. 4095), got " + capacity);
        }
        return capacity;
    }

    /**
     * The chart calls it bpf.ctTcpMax and the agent's flag bpf-ct-global-tcp-max; either is taken. The bounds
     * are Cilium's, so that a file valid there is valid here.
     */
    private static int ctMapMax(ValuesFile values, int fallback) {
        String flagName = "bpf.ctGlobalTcpMax";
        String chartName = "bpf.ctTcpMax";
        int byFlag = values.integer(flagName, fallback);
        int byChart = values.integer(chartName, byFlag);
        if (values.sets(flagName) && values.sets(chartName) && byFlag != byChart) {
            throw values.error(chartName, "says " + byChart + " but " + flagName + " says " + byFlag + "; set one of them");
        }
        if (byChart < 1 << 10 || byChart > 1 << 24) {
            throw values.error(values.sets(chartName) ? chartName : flagName,
                    "must be from " + (1 << 10) + " to " + (1 << 24) + ", got " + byChart);
        }
        return byChart;
    }
}
