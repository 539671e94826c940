package dev.sluice.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** One document's tree made into Sluice's model: the kinds Sluice models are checked, any other is kept whole. */
final class ObjectParser {
    /**
     * Kubernetes decodes manifests strictly: {@code replicas: "3"} or a number where a label's string belongs
     * are errors there, while Jackson would quietly convert them. So does Sluice, so that what it accepts the
     * cluster would accept.
     */
    private static final ObjectMapper STRICT = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .withCoercionConfig(LogicalType.Integer, c -> c.setCoercion(CoercionInputShape.String, CoercionAction.Fail))
            .withCoercionConfig(LogicalType.Boolean, c -> c.setCoercion(CoercionInputShape.String, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail))
            .withCoercionConfig(LogicalType.Textual, c -> c.setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
            .build();

    /** Kinds without a namespace; an unknown custom kind is taken to be namespaced, as most are. */
    private static final Set<String> CLUSTER_SCOPED = Set.of(
            "Namespace", "Node", "PersistentVolume", "StorageClass", "PriorityClass", "RuntimeClass", "IngressClass",
            "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "APIService",
            "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "GatewayClass",
            "CiliumClusterwideNetworkPolicy", "CiliumClusterwideEnvoyConfig", "CiliumNode", "CiliumIdentity",
            "CiliumExternalWorkload", "CiliumLoadBalancerIPPool", "CiliumCIDRGroup", "CiliumPodIPPool",
            "CiliumEgressGatewayPolicy", "CiliumL2AnnouncementPolicy", "CiliumBGPPeeringPolicy",
            "CiliumBGPClusterConfig", "CiliumBGPPeerConfig", "CiliumBGPAdvertisement", "CiliumBGPNodeConfig",
            "CiliumBGPNodeConfigOverride");

    private static final String DEFAULT_NAMESPACE = "default";

    private final Source source;
    private final String prefix;
    private final JsonNode tree;
    /** The object as messages name it, once known: "Deployment", then "Deployment default/web". */
    private String object;

    /** @param prefix the path of this object within the document: "" or, inside a List, "items[2]." */
    private ObjectParser(Source source, String prefix, JsonNode tree) {
        this.source = source;
        this.prefix = prefix;
        this.tree = tree;
    }

    /**
     * The objects of one document (several when it is a {@code kind: List}); each problem found goes to
     * {@code problems}, the objects with none are returned.
     */
    static List<Object> parse(Source source, JsonNode tree, List<ManifestException> problems) {
        List<Object> objects = new ArrayList<>();
        collect(source, "", tree, objects, problems);
        return objects;
    }

    private static void collect(Source source, String prefix, JsonNode tree, List<Object> objects,
                                List<ManifestException> problems) {
        ObjectParser parser = new ObjectParser(source, prefix, tree);
        try {
            if (!parser.isList()) {
                objects.add(parser.parse());
                return;
            }
            JsonNode items = tree.path("items");
            if (!items.isArray()) {
                throw new FieldProblem("items", items.isMissingNode() ? "is required in a List" : "must be a list");
            }
            for (int i = 0; i < items.size(); i++) {
                collect(source, prefix + "items[" + i + "].", items.get(i), objects, problems);
            }
        } catch (FieldProblem problem) {
            problems.add(parser.exception(problem));
        }
    }

    /** Checks what every document needs before its kind matters (a mapping with apiVersion and kind); true for a List. */
    private boolean isList() {
        if (!tree.isObject()) {
            throw new FieldProblem("", "must be a mapping with apiVersion, kind and metadata, got " + FieldProblem.show(tree));
        }
        String apiVersion = requiredText(tree, "apiVersion");
        String kind = requiredText(tree, "kind");
        object = kind;
        return kind.equals("List") && apiVersion.equals("v1");
    }

    private Object parse() {
        String apiVersion = tree.get("apiVersion").asText();
        String kind = tree.get("kind").asText();
        JsonNode metadata = tree.path("metadata");
        if (!metadata.isMissingNode() && !metadata.isObject()) {
            throw new FieldProblem("metadata", "must be a mapping, got " + FieldProblem.show(metadata));
        }
        String name = requiredText(metadata, "metadata.name");
        ObjectRef ref = new ObjectRef(CLUSTER_SCOPED.contains(kind) ? null : namespace(metadata), name);
        object = kind + " " + ref;
        return switch (apiVersion + " " + kind) {
            case "v1 Namespace" -> {
                Names.requireDns1123Label("metadata.name", name);
                yield new NamespaceSpec(name, Workloads.labels(convert(Namespace.class).getMetadata()));
            }
            case "apps/v1 Deployment" -> {
                Names.requireDns1123Subdomain("metadata.name", name);
                yield Workloads.deployment(convert(Deployment.class), ref, source);
            }
            case "v1 Pod" -> {
                Names.requireDns1123Subdomain("metadata.name", name);
                yield Workloads.pod(convert(Pod.class), ref, source);
            }
            case "v1 Service" -> {
                Names.requireDns1035Label("metadata.name", name);
                yield Services.service(convert(Service.class), ref, source);
            }
            case "apps/v1beta1 Deployment", "apps/v1beta2 Deployment", "extensions/v1beta1 Deployment" ->
                    throw new FieldProblem("apiVersion", "Deployments are served as apps/v1 since Kubernetes 1.16, got "
                            + FieldProblem.show(apiVersion));
            case "networking.k8s.io/v1 NetworkPolicy" -> {
                // Kept whole like any policy, but read once so that a wrongly typed field is reported here,
                // with its path, rather than when the agent enforces it.
                convert(NetworkPolicy.class);
                yield new OtherObject(apiVersion, kind, ref, source, tree);
            }
            default -> new OtherObject(apiVersion, kind, ref, source, tree);
        };
    }

    /** The namespace the object names, else "default". */
    private String namespace(JsonNode metadata) {
        JsonNode namespace = metadata.path("namespace");
        if (namespace.isMissingNode() || namespace.isNull() || (namespace.isTextual() && namespace.asText().isEmpty())) {
            return DEFAULT_NAMESPACE;
        }
        if (!namespace.isTextual()) {
            throw new FieldProblem("metadata.namespace", "must be a string, got " + FieldProblem.show(namespace));
        }
        Names.requireDns1123Label("metadata.namespace", namespace.asText());
        return namespace.asText();
    }

    private <T> T convert(Class<T> type) {
        try {
            return STRICT.treeToValue(tree, type);
        } catch (JsonMappingException e) {
            throw MappingErrors.problem(e, tree);
        } catch (JsonProcessingException e) {
            throw new FieldProblem("", "cannot be read: " + e.getOriginalMessage());
        }
    }

    private static String requiredText(JsonNode parent, String field) {
        JsonNode value = parent.path(field.substring(field.lastIndexOf('.') + 1));
        if (value.isMissingNode() || value.isNull() || (value.isTextual() && value.asText().isBlank())) {
            throw new FieldProblem(field, "is required");
        }
        if (!value.isTextual()) {
            throw new FieldProblem(field, "must be a string, got " + FieldProblem.show(value));
        }
        return value.asText();
    }

    private ManifestException exception(FieldProblem problem) {
        String field = prefix + problem.field();
        if (problem.field().isEmpty()) {
            field = prefix.isEmpty() ? null : prefix.substring(0, prefix.length() - 1);
        }
        return new ManifestException(source, object, field, problem.getMessage());
    }
}
