package dev.sluice.policy;

import dev.sluice.model.Desired;
import dev.sluice.model.ManifestException;
import dev.sluice.model.OtherObject;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * Reads policy objects (CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, networking.k8s.io/v1
 * NetworkPolicy) from the manifests' other objects into {@link Policy}s. Every problem is a
 * {@link ManifestException} naming the file, the document, the object and the field; fields Sluice does not
 * know or does not enforce yet are refused rather than skipped, since a policy enforced without part of it
 * allows or denies what the user did not write.
 */
public final class PolicyParser {
    private static final System.Logger LOG = System.getLogger(PolicyParser.class.getName());

    private PolicyParser() {
    }

    /**
     * Whether {@code object} is one of the policy kinds, whatever its version, so that a wrong version is an error
     * and not a policy silently left out. Other groups' kinds of the same name (Calico's NetworkPolicy) are not.
     */
    public static boolean isPolicy(OtherObject object) {
        return switch (object.group()) {
            case "cilium.io" -> object.kind().equals("CiliumNetworkPolicy") || object.kind().equals("CiliumClusterwideNetworkPolicy");
            case "networking.k8s.io", "extensions" -> object.kind().equals("NetworkPolicy");
            default -> false;
        };
    }

    /** Reads one policy, logging warnings through {@link System.Logger}. */
    public static Policy parse(OtherObject object) {
        return parse(object, warning -> LOG.log(System.Logger.Level.WARNING, warning));
    }

    /**
     * @param warnings gets what Sluice accepts but the user should know, each a sentence naming file, document,
     *                 object and field (e.g. an endpointSelector naming another namespace, which Cilium ignores)
     * @throws ManifestException at the first problem
     * @throws IllegalArgumentException if {@code object} is not a policy kind (see {@link #isPolicy})
     */
    public static Policy parse(OtherObject object, Consumer<String> warnings) {
        if (!isPolicy(object)) {
            throw new IllegalArgumentException(object.kind() + " of " + object.apiVersion() + " is not a policy kind");
        }
        Objects.requireNonNull(object.source(), "source");
        PolicyRef ref = new PolicyRef(object.kind(), object.ref().namespace(), object.ref().name());
        BiConsumer<String, String> fieldWarnings = (field, warning) ->
                warnings.accept(object.source() + " (" + ref + "): field " + field + ": " + warning);
        Field root = Field.root(object.body());
        try {
            List<PolicyRule> rules = switch (object.apiVersion() + " " + object.kind()) {
                case "cilium.io/v2 CiliumNetworkPolicy" ->
                        new CiliumPolicyParser(object.ref().namespace(), fieldWarnings).parse(root);
                case "cilium.io/v2 CiliumClusterwideNetworkPolicy" ->
                        new CiliumPolicyParser(null, fieldWarnings).parse(root);
                case "networking.k8s.io/v1 NetworkPolicy" ->
                        List.of(new NetworkPolicyParser(object.ref().namespace(), fieldWarnings).parse(root));
                default -> throw new FieldError("apiVersion", object.kind() + " is served as "
                        + (object.kind().equals("NetworkPolicy") ? "networking.k8s.io/v1" : "cilium.io/v2")
                        + ", got " + Field.show(object.apiVersion()));
            };
            return new Policy(ref, object.source(), rules);
        } catch (FieldError e) {
            throw new ManifestException(object.source(), ref.toString(), e.field(), e.getMessage());
        }
    }

    /**
     * Every policy among {@code objects}, in their order; objects of other kinds are passed over.
     *
     * @throws ManifestException the first problem, the others attached as {@linkplain Throwable#getSuppressed()
     *                           suppressed} exceptions
     */
    public static PolicySet parseAll(Collection<OtherObject> objects, Consumer<String> warnings) {
        List<Policy> policies = new ArrayList<>();
        List<ManifestException> problems = new ArrayList<>();
        for (OtherObject object : objects) {
            if (!isPolicy(object)) {
                continue;
            }
            try {
                policies.add(parse(object, warnings));
            } catch (ManifestException e) {
                problems.add(e);
            }
        }
        if (!problems.isEmpty()) {
            ManifestException first = problems.getFirst();
            problems.subList(1, problems.size()).forEach(first::addSuppressed);
            throw first;
        }
        return new PolicySet(policies);
    }

    /** The policies of the manifests, warnings logged through {@link System.Logger}. */
    public static PolicySet parseAll(Desired desired) {
        return parseAll(desired.others(), warning -> LOG.log(System.Logger.Level.WARNING, warning));
    }
}
