package dev.sluice.l7.envoy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.TypeRegistry;
import com.google.protobuf.util.JsonFormat;
import dev.sluice.model.ManifestException;
import dev.sluice.model.OtherObject;
import dev.sluice.model.Source;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Reads CiliumEnvoyConfig and CiliumClusterwideEnvoyConfig ({@code cilium.io/v2} and {@code v2alpha1}) from the
 * manifests' other objects into Envoy v3 protos, with protobuf's JSON mapping (so field names are Envoy's, in
 * lowerCamelCase or snake_case, and unknown fields are refused).
 *
 * <p>A resource names its type in one of three ways:
 * <ul>
 * <li>{@code "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration}, Envoy's own form;</li>
 * <li>{@code type: "@type/envoy.config.route.v3.RouteConfiguration"}, as the seed's canary configuration writes it
 * (accepted, with a warning);</li>
 * <li>not at all, when a second {@code type:} key of the same mapping (a Cluster's {@code type: EDS}) overwrote
 * the first: the resource is then recognised by its fields, with a warning saying so.</li>
 * </ul>
 * Every problem is a {@link ManifestException} naming file, document, object and field.
 */
public final class EnvoyConfigParser {
    private static final System.Logger LOG = System.getLogger(EnvoyConfigParser.class.getName());
    static final String TYPE_PREFIX = "type.googleapis.com/";

    /** The types a resource may be, by full name. */
    private static final Map<String, Supplier<Message.Builder>> RESOURCE_TYPES = Map.of(
            Listener.getDescriptor().getFullName(), Listener::newBuilder,
            RouteConfiguration.getDescriptor().getFullName(), RouteConfiguration::newBuilder,
            Cluster.getDescriptor().getFullName(), Cluster::newBuilder,
            ClusterLoadAssignment.getDescriptor().getFullName(), ClusterLoadAssignment::newBuilder);

    /** What {@code typed_config} fields inside resources may hold. */
    private static final TypeRegistry REGISTRY = TypeRegistry.newBuilder()
            .add(Listener.getDescriptor()).add(RouteConfiguration.getDescriptor()).add(Cluster.getDescriptor())
            .add(ClusterLoadAssignment.getDescriptor()).add(HttpConnectionManager.getDescriptor())
            .add(Router.getDescriptor()).add(HttpProtocolOptions.getDescriptor())
            .build();

    private static final JsonFormat.Parser PARSER = JsonFormat.parser().usingTypeRegistry(REGISTRY);

    /** Values of a Cluster's own {@code type} field (its discovery type), which are not type URLs. */
    private static final Set<String> CLUSTER_DISCOVERY_TYPES = Set.of("STATIC", "STRICT_DNS", "LOGICAL_DNS", "EDS", "ORIGINAL_DST");

    private EnvoyConfigParser() {
    }

    /** Whether {@code object} is an envoy configuration kind, in any version (a wrong version is then an error). */
    public static boolean isEnvoyConfig(OtherObject object) {
        return object.group().equals("cilium.io")
                && (object.kind().equals("CiliumEnvoyConfig") || object.kind().equals("CiliumClusterwideEnvoyConfig"));
    }

    public static EnvoyConfig parse(OtherObject object) {
        return parse(object, warning -> LOG.log(System.Logger.Level.WARNING, warning));
    }

    /**
     * @param warnings what Sluice accepts but the user should know, each naming file, document, object and field
     * @throws ManifestException at the first problem
     */
    public static EnvoyConfig parse(OtherObject object, Consumer<String> warnings) {
        if (!isEnvoyConfig(object)) {
            throw new IllegalArgumentException(object.kind() + " of " + object.apiVersion() + " is not an envoy configuration");
        }
        boolean clusterwide = object.kind().equals("CiliumClusterwideEnvoyConfig");
        String kindAndName = object.kind() + " " + object.ref();
        Problems problems = new Problems(object, kindAndName, warnings);
        if (!object.apiVersion().equals("cilium.io/v2") && !object.apiVersion().equals("cilium.io/v2alpha1")) {
            throw problems.error("apiVersion", object.kind() + " is served as cilium.io/v2 or cilium.io/v2alpha1, got \""
                    + object.apiVersion() + "\"");
        }
        JsonNode spec = object.body().path("spec");
        if (!spec.isObject()) {
            throw problems.error("spec", "must be a mapping");
        }
        for (var it = spec.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            switch (field) {
                case "services", "resources" -> {
                }
                case "backendServices", "nodeSelector" ->
                        problems.warn("spec." + field, "not used by Sluice yet: the configuration applies on every node, "
                                + "and clusters are resolved from the cluster view");
                default -> throw problems.error("spec." + field, "unknown field");
            }
        }
        List<EnvoyConfig.ServiceRef> services = new ArrayList<>();
        JsonNode servicesNode = spec.path("services");
        if (!servicesNode.isMissingNode() && !servicesNode.isArray()) {
            throw problems.error("spec.services", "must be a list");
        }
        for (int i = 0; i < servicesNode.size(); i++) {
            String field = "spec.services[" + i + "]";
            JsonNode s = servicesNode.get(i);
            String name = s.path("name").asText("");
            if (name.isEmpty()) {
                throw problems.error(field + ".name", "a Service name is required");
            }
            String namespace = s.path("namespace").asText("");
            if (namespace.isEmpty()) {
                if (clusterwide) {
                    throw problems.error(field + ".namespace", "a clusterwide configuration must name the Service's namespace");
                }
                namespace = object.ref().namespace();
            } else if (!clusterwide && !namespace.equals(object.ref().namespace())) {
                throw problems.error(field + ".namespace", "a CiliumEnvoyConfig takes only Services of its own namespace \""
                        + object.ref().namespace() + "\", got \"" + namespace + "\"");
            }
            List<Integer> ports = new ArrayList<>();
            for (JsonNode port : s.path("ports")) {
                if (!port.canConvertToInt() || port.asInt() < 1 || port.asInt() > 65535) {
                    throw problems.error(field + ".ports", "must be port numbers 1..65535, got " + port);
                }
                ports.add(port.asInt());
            }
            services.add(new EnvoyConfig.ServiceRef(namespace, name, ports));
        }
        JsonNode resources = spec.path("resources");
        if (!resources.isArray() || resources.isEmpty()) {
            throw problems.error("spec.resources", "must be a list of Envoy resources");
        }
        List<Listener> listeners = new ArrayList<>();
        List<RouteConfiguration> routes = new ArrayList<>();
        List<Cluster> clusters = new ArrayList<>();
        List<ClusterLoadAssignment> assignments = new ArrayList<>();
        for (int i = 0; i < resources.size(); i++) {
            Message message = resource(resources.get(i), "spec.resources[" + i + "]", problems);
            switch (message) {
                case Listener l -> listeners.add(l);
                case RouteConfiguration r -> routes.add(r);
                case Cluster c -> clusters.add(c);
                case ClusterLoadAssignment a -> assignments.add(a);
                default -> throw new IllegalStateException(message.getClass().getName());
            }
        }
        return new EnvoyConfig(kindAndName, object.ref().namespace(), object.ref().name(), object.source(), services,
                listeners, routes, clusters, assignments);
    }

    /** Every envoy configuration among {@code objects}; other kinds are passed over. */
    public static List<EnvoyConfig> parseAll(Collection<OtherObject> objects, Consumer<String> warnings) {
        List<EnvoyConfig> configs = new ArrayList<>();
        List<ManifestException> problems = new ArrayList<>();
        for (OtherObject object : objects) {
            if (isEnvoyConfig(object)) {
                try {
                    configs.add(parse(object, warnings));
                } catch (ManifestException e) {
                    problems.add(e);
                }
            }
        }
        if (!problems.isEmpty()) {
            ManifestException first = problems.getFirst();
            problems.subList(1, problems.size()).forEach(first::addSuppressed);
            throw first;
        }
        return configs;
    }

    private static Message resource(JsonNode node, String field, Problems problems) {
        if (!node.isObject()) {
            throw problems.error(field, "must be a mapping (an Envoy resource)");
        }
        ObjectNode json = (ObjectNode) node.deepCopy();
        String typeName;
        JsonNode atType = json.get("@type");
        JsonNode type = json.get("type");
        if (atType != null) {
            String url = atType.asText();
            if (!url.startsWith(TYPE_PREFIX)) {
                throw problems.error(field + ".@type", "must be " + TYPE_PREFIX + "<message>, got \"" + url + "\"");
            }
            typeName = url.substring(TYPE_PREFIX.length());
            json.remove("@type");
        } else if (type != null && type.isTextual() && (type.asText().startsWith("@type/") || type.asText().startsWith(TYPE_PREFIX))) {
            String text = type.asText();
            typeName = text.substring(text.indexOf('/') + 1);
            json.remove("type");
            problems.warn(field + ".type", "read \"" + text + "\" as the resource's type URL (Envoy writes it as \"@type\": "
                    + TYPE_PREFIX + typeName + ")");
        } else {
            typeName = byFields(json);
            if (typeName == null) {
                throw problems.error(field, "has no type URL (\"@type\": " + TYPE_PREFIX
                        + "envoy.config...) and its fields are not those of a Listener, RouteConfiguration, Cluster or ClusterLoadAssignment");
            }
            problems.warn(field, "has no type URL" + (type != null ? " (a second \"type\" key, " + type
                    + ", overwrote it if the manifest wrote one)" : "") + "; read as " + typeName + " by its fields");
        }
        Supplier<Message.Builder> builder = RESOURCE_TYPES.get(typeName);
        if (builder == null) {
            throw problems.error(field, "Sluice takes Listener, RouteConfiguration, Cluster and ClusterLoadAssignment "
                    + "resources (envoy.config.*.v3), got " + typeName);
        }
        Message.Builder b = builder.get();
        try {
            PARSER.merge(json.toString(), b);
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            throw problems.error(field, "not a valid " + typeName + ": " + e.getMessage());
        }
        return b.build();
    }

    /** The resource type whose fields {@code json} has, or null. */
    private static String byFields(ObjectNode json) {
        if (json.has("virtualHosts") || json.has("virtual_hosts") || json.has("vhds")) {
            return RouteConfiguration.getDescriptor().getFullName();
        }
        if (json.has("filterChains") || json.has("filter_chains") || json.has("address")) {
            return Listener.getDescriptor().getFullName();
        }
        if ((json.has("clusterName") || json.has("cluster_name")) && json.has("endpoints")) {
            return ClusterLoadAssignment.getDescriptor().getFullName();
        }
        JsonNode type = json.get("type");
        if (json.has("connectTimeout") || json.has("connect_timeout") || json.has("edsClusterConfig")
                || json.has("eds_cluster_config") || json.has("loadAssignment") || json.has("load_assignment")
                || json.has("lbPolicy") || json.has("lb_policy")
                || (type != null && CLUSTER_DISCOVERY_TYPES.contains(type.asText()))) {
            return Cluster.getDescriptor().getFullName();
        }
        return null;
    }

    /** Builds messages that name the object's file, document, kind and name, and the field. */
    record Problems(OtherObject object, String kindAndName, Consumer<String> warnings) {
        ManifestException error(String field, String problem) {
            return new ManifestException(source(), kindAndName, field, problem);
        }

        void warn(String field, String warning) {
            warnings.accept(source() + " (" + kindAndName + "): field " + field + ": " + warning);
        }

        /** Objects from a live cluster have no file: they are named by the cluster. */
        private Source source() {
            return object.source() != null ? object.source() : new Source(Path.of("cluster"), 0);
        }
    }
}
