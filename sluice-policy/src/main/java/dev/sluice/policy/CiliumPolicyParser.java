package dev.sluice.policy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import java.util.regex.Pattern;

/**
 * Reads a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy as Cilium does (its
 * {@code ParseToCiliumRule} and rule validation), refusing what Cilium refuses and what Sluice does not enforce
 * yet.
 */
final class CiliumPolicyParser {
    private static final LabelKey NAMESPACE_K8S = LabelKey.k8s(EndpointLabels.NAMESPACE);
    private static final LabelKey NAMESPACE_ANY = new LabelKey(LabelKey.ANY, EndpointLabels.NAMESPACE);
    private static final LabelKey RESERVED_INIT = new LabelKey(Label.RESERVED, "init");

    /** IANA service names, which is what Cilium (and Kubernetes) take a non-numeric port to be. */
    private static final Pattern PORT_NAME = Pattern.compile("[a-z0-9]([a-z0-9-]*[a-z0-9])?");
    private static final Set<String> L7_KINDS = Set.of("http", "kafka", "dns", "l7proto", "l7");

    private static final Map<String, String> UNSUPPORTED_RULE_FIELDS = Map.ofEntries(
            Map.entry("nodeSelector", "host policies (nodeSelector) are not enforced; select pods with endpointSelector"),
            Map.entry("log", "policy logging"));
    private static final Map<String, String> UNSUPPORTED_PEER_FIELDS = Map.ofEntries(
            Map.entry("fromRequires", "Cilium deprecates it; add the requirement to each fromEndpoints selector"),
            Map.entry("toRequires", "Cilium deprecates it; add the requirement to each toEndpoints selector"),
            Map.entry("fromNodes", "node selectors; use fromEntities remote-node or host"),
            Map.entry("toNodes", "node selectors; use toEntities remote-node or host"),
            Map.entry("fromGroups", "cloud provider groups"),
            Map.entry("toGroups", "cloud provider groups"),
            Map.entry("toServices", "select the Service's pods with toEndpoints"),
            Map.entry("toFQDNs", "DNS-based rules need the DNS proxy"),
            Map.entry("icmps", "ICMP rules"),
            Map.entry("authentication", "mutual authentication"));
    private static final Map<String, String> UNSUPPORTED_PORT_RULE_FIELDS = Map.ofEntries(
            Map.entry("terminatingTLS", "TLS interception"),
            Map.entry("originatingTLS", "TLS interception"),
            Map.entry("serverNames", "SNI matching"),
            Map.entry("listener", "custom Envoy listeners"));

    /** The policy's namespace, or null for a clusterwide policy. */
    private final String namespace;
    /** Gets a field's path and a sentence for what Sluice accepts but the user should know. */
    private final BiConsumer<String, String> warnings;

    /**
     * Whether the policy's CIDRs also select pods by address (NetworkPolicy's reading), which the policy asks for
     * with {@link CidrRule#SELECTS_PODS_ANNOTATION}; Cilium's reading (outside addresses only) otherwise.
     */
    private boolean cidrSelectsPods;

    CiliumPolicyParser(String namespace, BiConsumer<String, String> warnings) {
        this.namespace = namespace;
        this.warnings = warnings;
    }

    List<PolicyRule> parse(Field root) {
        root.allowOnly(Set.of("apiVersion", "kind", "metadata", "spec", "specs", "status"), Map.of());
        Field optIn = root.get("metadata").get("annotations").get(CidrRule.SELECTS_PODS_ANNOTATION);
        if (optIn.present()) {
            cidrSelectsPods = switch (optIn.text()) {
                case "true" -> true;
                case "false" -> false;
                default -> throw optIn.error("must be \"true\" or \"false\", got " + Field.show(optIn.node()));
            };
        }
        List<PolicyRule> rules = new ArrayList<>();
        Field spec = root.get("spec");
        if (spec.present()) {
            rules.add(rule(spec));
        }
        for (Field each : root.get("specs").items()) {
            rules.add(rule(each));
        }
        if (rules.isEmpty()) {
            throw spec.error("is required (or specs, a list of rules): a policy without rules is refused by Cilium");
        }
        return rules;
    }

    private PolicyRule rule(Field spec) {
        spec.allowOnly(Set.of("endpointSelector", "ingress", "ingressDeny", "egress", "egressDeny", "enableDefaultDeny",
                "description", "labels"), UNSUPPORTED_RULE_FIELDS);
        Field selectorField = spec.get("endpointSelector").require();
        EndpointSelector subject = subject(selectorField);
        // Cilium leaves peer selectors of policies for initializing endpoints without a namespace: such endpoints
        // have no labels yet, their namespace's included.
        boolean forInit = subject.hasKey(RESERVED_INIT);
        if (spec.get("description").present()) {
            spec.get("description").text();
        }
        // Rule labels only name the rule in Cilium's tooling; they select nothing.
        spec.get("labels").items();

        List<PeerRule> peerRules = new ArrayList<>();
        List<Field> ingress = spec.get("ingress").items();
        List<Field> ingressDeny = spec.get("ingressDeny").items();
        List<Field> egress = spec.get("egress").items();
        List<Field> egressDeny = spec.get("egressDeny").items();
        ingress.forEach(f -> peerRules.add(peerRule(f, Direction.INGRESS, Verdict.ALLOW, forInit)));
        ingressDeny.forEach(f -> peerRules.add(peerRule(f, Direction.INGRESS, Verdict.DENY, forInit)));
        egress.forEach(f -> peerRules.add(peerRule(f, Direction.EGRESS, Verdict.ALLOW, forInit)));
        egressDeny.forEach(f -> peerRules.add(peerRule(f, Direction.EGRESS, Verdict.DENY, forInit)));

        // Cilium's default: a rule with any ingress (or ingressDeny) entry puts the endpoints it selects in
        // default deny for ingress, even when the only entry is {} (the documented way to deny all ingress) and
        // even when all its entries are deny rules. enableDefaultDeny overrides that per direction.
        Field enableDefaultDeny = spec.get("enableDefaultDeny");
        boolean denyIngress = !ingress.isEmpty() || !ingressDeny.isEmpty();
        boolean denyEgress = !egress.isEmpty() || !egressDeny.isEmpty();
        if (enableDefaultDeny.present()) {
            enableDefaultDeny.allowOnly(Set.of("ingress", "egress"), Map.of());
            if (enableDefaultDeny.get("ingress").present()) {
                denyIngress = enableDefaultDeny.get("ingress").bool();
            }
            if (enableDefaultDeny.get("egress").present()) {
                denyEgress = enableDefaultDeny.get("egress").bool();
            }
        }
        // HTTP rules are enforced by sending their peers through the node proxy and dropping them on the pod's own
        // address, which is a default deny: without one the peers could skip the rules.
        if (!denyIngress && peerRules.stream().anyMatch(r -> r.direction() == Direction.INGRESS
                && r.toPorts().stream().anyMatch(PortRule::hasHttp))) {
            throw enableDefaultDeny.get("ingress").error("cannot be false in a rule with HTTP rules on ingress: Sluice enforces"
                    + " them by admitting their peers only through the node proxy, which needs the endpoint in default deny");
        }
        return new PolicyRule(selectorField.path(), subject, denyIngress, denyEgress, peerRules);
    }

    /**
     * The endpoints a rule applies to. In a namespaced policy the selector is confined to the policy's namespace,
     * as Cilium does: it sets {@code k8s:io.kubernetes.pod.namespace} in matchLabels to the policy's namespace,
     * replacing what the user wrote there, and keeps every other requirement.
     */
    private EndpointSelector subject(Field field) {
        EndpointSelector written = SelectorParser.parse(field.requireMapping(), this::labelKey);
        if (namespace == null) {
            return written;
        }
        List<Requirement> requirements = new ArrayList<>(written.requirements());
        Field namespaceLabel = field.get("matchLabels").get(NAMESPACE_K8S.toString());
        if (namespaceLabel.present() && !namespaceLabel.node().asText().equals(namespace)) {
            requirements.remove(Requirement.equal(NAMESPACE_K8S, namespaceLabel.node().asText()));
            warnings.accept(namespaceLabel.path(), "names namespace " + namespaceLabel.node().asText() + ", but a"
                    + " CiliumNetworkPolicy only selects pods of its own namespace (" + namespace + "); it is replaced by "
                    + namespace + ", as Cilium does");
        }
        requirements.remove(Requirement.equal(NAMESPACE_K8S, namespace));
        requirements.add(Requirement.equal(NAMESPACE_K8S, namespace));
        EndpointSelector subject = new EndpointSelector(requirements);
        boolean contradicts = requirements.stream().anyMatch(r -> r.key().key().equals(EndpointLabels.NAMESPACE)
                && !r.matches(Labels.of(Label.k8s(EndpointLabels.NAMESPACE, namespace))));
        if (contradicts) {
            warnings.accept(field.path(), "selects no pod: it requires a namespace other than the policy's own ("
                    + namespace + "), and a CiliumNetworkPolicy only selects pods of its own namespace");
        }
        return subject;
    }

    private PeerRule peerRule(Field rule, Direction direction, Verdict verdict, boolean forInit) {
        String from = direction == Direction.INGRESS ? "from" : "to";
        Set<String> known = Set.of(from + "Endpoints", from + "CIDR", from + "CIDRSet", from + "Entities", "toPorts");
        rule.allowOnly(known, UNSUPPORTED_PEER_FIELDS);

        Map<String, List<Field>> l3 = new LinkedHashMap<>();
        for (String kind : List.of("Endpoints", "CIDR", "CIDRSet", "Entities")) {
            Field list = rule.get(from + kind);
            if (list.present()) {
                List<Field> items = list.items();
                // An explicitly empty list means "no peer" in some Cilium versions and "any peer" (with toPorts)
                // in others; neither reading is safe to guess.
                if (items.isEmpty()) {
                    throw list.error("is an empty list, which Cilium versions read differently (no peer, or any peer);"
                            + " list the peers, or remove the field");
                }
                l3.put(from + kind, items);
            }
        }
        if (l3.size() > 1) {
            Iterator<String> kinds = l3.keySet().iterator();
            String first = kinds.next();
            String second = kinds.next();
            throw rule.get(second).error("cannot be combined with " + first + " in one rule (Cilium refuses it too);"
                    + " write them as two rules, which allow either");
        }

        List<PortRule> toPorts = new ArrayList<>();
        for (Field portRule : rule.get("toPorts").items()) {
            toPorts.add(portRule(portRule, direction, verdict));
        }

        List<PeerMatch> peers = new ArrayList<>();
        l3.forEach((kind, items) -> {
            for (Field item : items) {
                peers.add(switch (kind.substring(from.length())) {
                    case "Endpoints" -> peerSelector(item, forInit);
                    case "CIDR" -> new CidrRule(cidr(item, true), List.of(), cidrSelectsPods);
                    case "CIDRSet" -> cidrSet(item);
                    case "Entities" -> entity(item);
                    default -> throw new IllegalStateException(kind);
                });
            }
        });
        // Cilium's reading of a rule without peers: with toPorts it allows those ports from any peer at all
        // (the L3 wildcard, world and host included; "to any layer 3 destination" in Cilium's L4 examples), and
        // without toPorts it allows nothing, which is why `ingress: [{}]` is the documented way to deny all
        // ingress: the rule still puts the endpoint in default deny.
        if (l3.isEmpty() && !toPorts.isEmpty()) {
            peers.add(EndpointSelector.ALL);
        }
        return new PeerRule(rule.path(), direction, verdict, peers, toPorts);
    }

    /**
     * A fromEndpoints/toEndpoints selector. As in Cilium, one that does not name a namespace means the policy's
     * own namespace, or, in a clusterwide policy, any namespace (but only pods: the wildcard {} there does not
     * reach the world or the host). Selectors on reserved labels, or on namespace labels, are left as written.
     */
    private EndpointSelector peerSelector(Field field, boolean forInit) {
        EndpointSelector selector = SelectorParser.parse(field.requireMapping(), this::labelKey);
        if (selector.hasSource(Label.RESERVED) || selector.hasKey(NAMESPACE_K8S) || selector.hasKey(NAMESPACE_ANY)) {
            return selector;
        }
        if (namespace == null) {
            return forInit ? selector : selector.and(Requirement.exists(NAMESPACE_K8S));
        }
        if (selector.hasKeyPrefix(Label.K8S, EndpointLabels.NAMESPACE_LABELS_PREFIX)
                || selector.hasKeyPrefix(LabelKey.ANY, EndpointLabels.NAMESPACE_LABELS_PREFIX)) {
            return selector;
        }
        return selector.and(Requirement.equal(NAMESPACE_K8S, namespace));
    }

    private LabelKey labelKey(String written) {
        LabelKey key = LabelKey.parse(written);
        if (!LabelKey.SELECTABLE_SOURCES.contains(key.source())) {
            throw new IllegalArgumentException("label source " + Field.show(key.source()) + " is not one Sluice selects on"
                    + " (k8s, any or reserved), got " + Field.show(written));
        }
        if (key.key().isEmpty()) {
            throw new IllegalArgumentException("names no label after its source, got " + Field.show(written));
        }
        return key;
    }

    private Cidr cidr(Field field, boolean bareAddress) {
        String text = field.text();
        try {
            Cidr cidr = Cidr.parse(text, bareAddress);
            if (Cidr.hasHostBits(text)) {
                warnings.accept(field.path(), Field.show(text) + " has host bits set; it is read as " + cidr);
            }
            return cidr;
        } catch (IllegalArgumentException e) {
            throw field.error(e.getMessage() + ", got " + Field.show(text));
        }
    }

    private CidrRule cidrSet(Field field) {
        field.allowOnly(Set.of("cidr", "except"), Map.of(
                "cidrGroupRef", "CiliumCIDRGroup references",
                "cidrGroupSelector", "CiliumCIDRGroup selectors"));
        Cidr cidr = cidr(field.get("cidr").require(), false);
        List<Cidr> except = new ArrayList<>();
        for (Field item : field.get("except").items()) {
            Cidr excluded = cidr(item, false);
            if (!cidr.contains(excluded)) {
                throw item.error(excluded + " is not within " + cidr + ": an exception must be part of the CIDR it narrows");
            }
            except.add(excluded);
        }
        return new CidrRule(cidr, except, cidrSelectsPods);
    }

    private static Entity entity(Field field) {
        String text = field.text();
        if (text.equals("world-ipv4") || text.equals("world-ipv6")) {
            throw field.error("only matches in dual-stack clusters, and the lab is IPv4-only: write world, got "
                    + Field.show(text));
        }
        return Entity.parse(text).orElseThrow(() -> field.error("must be one of all, world, cluster, host, remote-node,"
                + " kube-apiserver, health, init, unmanaged, ingress or none, got " + Field.show(text)));
    }

    private PortRule portRule(Field field, Direction direction, Verdict verdict) {
        Set<String> known = verdict == Verdict.DENY ? Set.of("ports") : Set.of("ports", "rules");
        Map<String, String> unsupported = new LinkedHashMap<>(UNSUPPORTED_PORT_RULE_FIELDS);
        if (verdict == Verdict.DENY) {
            unsupported.put("rules", "deny rules stop connections at L4 and carry no L7 rules");
        }
        field.allowOnly(known, unsupported);
        Field portsField = field.get("ports");
        List<Field> items = portsField.items();
        if (items.isEmpty()) {
            throw portsField.error("must list at least one port");
        }
        List<PortMatch> ports = new ArrayList<>();
        for (Field item : items) {
            ports.add(port(item));
        }
        JsonNode l7 = l7Rules(field.get("rules"), direction, ports);
        List<HttpRule> http = l7 == null ? List.of() : http(field.get("rules").get("http"));
        return new PortRule(ports, l7, http);
    }

    private static PortMatch port(Field field) {
        field.allowOnly(Set.of("port", "endPort", "protocol"), Map.of());
        Field portField = field.get("port").require();
        if (portField.node().isNumber()) {
            throw portField.error("must be a string, as Cilium's schema says: write \"" + portField.node().asText()
                    + "\", got " + Field.show(portField.node()));
        }
        String written = portField.text();
        PortProtocol protocol = PortProtocol.ANY;
        Field protocolField = field.get("protocol");
        if (protocolField.present()) {
            protocol = switch (protocolField.text()) {
                case "TCP" -> PortProtocol.TCP;
                case "UDP" -> PortProtocol.UDP;
                case "SCTP" -> PortProtocol.SCTP;
                case "ANY" -> PortProtocol.ANY;
                case "ICMP", "ICMPV6", "VRRP", "IGMP" -> throw protocolField.error("is not supported by Sluice yet:"
                        + " only TCP, UDP, SCTP and ANY ports are enforced, got " + Field.show(protocolField.node()));
                default -> throw protocolField.error("must be TCP, UDP, SCTP or ANY, got " + Field.show(protocolField.node()));
            };
        }
        Field endPortField = field.get("endPort");
        if (written.chars().allMatch(c -> c >= '0' && c <= '9') && !written.isEmpty()) {
            if (written.length() > 5 || (written.length() > 1 && written.charAt(0) == '0') || Integer.parseInt(written) > 65535) {
                throw portField.error("must be a port number 0..65535 (0 for every port) or a port name, got "
                        + Field.show(written));
            }
            int port = Integer.parseInt(written);
            if (!endPortField.present()) {
                return PortMatch.number(port, protocol);
            }
            int endPort = endPortField.integer();
            if (port == 0) {
                throw endPortField.error("cannot be used with port \"0\", which already means every port");
            }
            if (endPort < port || endPort > 65535) {
                throw endPortField.error("must be " + port + "..65535 (at least port), got " + endPort);
            }
            return endPort == port ? PortMatch.number(port, protocol) : PortMatch.range(port, endPort, protocol);
        }
        // Cilium compares names without regard to case.
        String name = written.toLowerCase(Locale.ROOT);
        if (name.length() > 15 || !PORT_NAME.matcher(name).matches() || name.contains("--")
                || name.chars().noneMatch(Character::isLetter)) {
            throw portField.error("must be a port number 0..65535 or a port name (at most 15 letters, digits and '-',"
                    + " with a letter), got " + Field.show(written));
        }
        if (endPortField.present()) {
            throw endPortField.error("needs a numeric port: a range cannot start at named port " + Field.show(written));
        }
        return PortMatch.named(name, protocol);
    }

    /**
     * The L7 rules of a port entry, kept as written for the proxy. Checked as far as Cilium checks them before
     * anything is enforced, since a policy Cilium would refuse must not half-apply here.
     */
    private static JsonNode l7Rules(Field rules, Direction direction, List<PortMatch> ports) {
        if (!rules.present() || (rules.node().isObject() && rules.node().isEmpty())) {
            return null;
        }
        rules.allowOnly(L7_KINDS, Map.of());
        Set<String> kinds = new TreeSet<>();
        rules.node().fieldNames().forEachRemaining(kind -> kinds.add(kind.equals("l7") ? "l7proto" : kind));
        if (kinds.size() > 1) {
            throw rules.error("names more than one L7 protocol (" + String.join(", ", kinds) + "); write one per port rule");
        }
        if (rules.get("l7").present() && !rules.get("l7proto").present()) {
            throw rules.get("l7").error("needs l7proto beside it");
        }
        boolean dns = kinds.contains("dns");
        for (String kind : List.of("kafka", "l7proto", "l7")) {
            if (rules.get(kind).present()) {
                throw rules.get(kind).error("is not supported by Sluice yet: the node proxy enforces HTTP rules only (and"
                        + " allowing the port without them would let through what the rules forbid)");
            }
        }
        if (kinds.contains("http") && direction == Direction.EGRESS) {
            throw rules.get("http").error("is not supported by Sluice yet on egress: HTTP rules are enforced on ingress"
                    + " (the destination's policy), where the node proxy sees every request to the port");
        }
        if (dns && direction == Direction.INGRESS) {
            throw rules.get("dns").error("DNS rules apply to egress only (Cilium refuses them on ingress)");
        }
        for (int i = 0; i < ports.size(); i++) {
            PortMatch port = ports.get(i);
            String at = rules.path().substring(0, rules.path().length() - "rules".length()) + "ports[" + i + "]";
            if (port.port() == 0 && port.name() == null) {
                throw new FieldError(at + ".port", "cannot be \"0\" (every port) in a port rule with L7 rules");
            }
            if (!dns && port.protocol() != PortProtocol.TCP) {
                throw new FieldError(at + ".protocol", "must be TCP in a port rule with L7 rules (only DNS rules may"
                        + " use UDP or ANY), got " + port.protocol());
            }
        }
        return rules.node();
    }

    /** {@code rules.http}: Cilium's PortRuleHTTP entries, any of which allows a request. */
    private static List<HttpRule> http(Field list) {
        if (!list.present()) {
            return List.of();
        }
        List<Field> items = list.items();
        if (items.isEmpty()) {
            throw list.error("is an empty list; write [{}] to allow every request, or list the requests to allow");
        }
        List<HttpRule> rules = new ArrayList<>();
        for (Field item : items) {
            item.allowOnly(Set.of("method", "path", "host", "headers", "headerMatches"), Map.of());
            List<HttpRule.HeaderRule> headers = new ArrayList<>();
            for (Field header : item.get("headers").items()) {
                // Cilium's form: "Name" (present) or "Name: value" (split at the first space, ':' dropped).
                String text = header.text().strip();
                int space = text.indexOf(' ');
                String name = (space < 0 ? text : text.substring(0, space)).replaceAll(":+$", "");
                if (name.isEmpty()) {
                    throw header.error("names no header, got " + Field.show(header.node()));
                }
                headers.add(new HttpRule.HeaderRule(name, space < 0 ? null : text.substring(space + 1).strip()));
            }
            for (Field match : item.get("headerMatches").items()) {
                match.allowOnly(Set.of("name", "value", "mismatch"), Map.of("secret", "header values from Kubernetes Secrets"));
                if (match.get("mismatch").present()) {
                    throw match.get("mismatch").error("is not supported by Sluice yet: a mismatch action (LOG, ADD, DELETE,"
                            + " REPLACE) lets the request through with the header changed; Sluice only denies requests"
                            + " whose header does not match (leave mismatch out)");
                }
                String name = match.get("name").require().text();
                if (name.isEmpty()) {
                    throw match.get("name").error("must name a header");
                }
                headers.add(new HttpRule.HeaderRule(name, match.get("value").present() ? match.get("value").text() : null));
            }
            rules.add(new HttpRule(item.path(), regex(item.get("method")), regex(item.get("path")), regex(item.get("host")),
                    headers));
        }
        return rules;
    }

    /** An extended regular expression matched against the whole value, or null when the field is left out. */
    private static Pattern regex(Field field) {
        if (!field.present()) {
            return null;
        }
        String text = field.text();
        try {
            return Pattern.compile(text);
        } catch (java.util.regex.PatternSyntaxException e) {
            throw field.error("is not a valid regular expression: " + e.getDescription() + " near index " + e.getIndex()
                    + ", got " + Field.show(text));
        }
    }
}
