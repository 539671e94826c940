package dev.sluice.policy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.regex.Pattern;

/**
 * Reads a networking.k8s.io/v1 NetworkPolicy into the same rules as a CiliumNetworkPolicy, the way Cilium
 * translates it ({@code ParseNetworkPolicy}): a peer's podSelector alone means the policy's namespace, a
 * namespaceSelector selects namespaces by their labels ({} for all), the two together must both hold, and an
 * ipBlock is a CIDR set which, unlike Cilium's, also selects the pods whose addresses it covers (upstream's
 * semantics; {@link CidrRule#selectsPods}). Validation is the API server's.
 */
final class NetworkPolicyParser {
    private static final LabelKey NAMESPACE = LabelKey.k8s(EndpointLabels.NAMESPACE);
    private static final Pattern PORT_NAME = Pattern.compile("[a-z0-9]([a-z0-9-]*[a-z0-9])?");

    private final String namespace;
    private final BiConsumer<String, String> warnings;

    NetworkPolicyParser(String namespace, BiConsumer<String, String> warnings) {
        this.namespace = namespace;
        this.warnings = warnings;
    }

    PolicyRule parse(Field root) {
        root.allowOnly(Set.of("apiVersion", "kind", "metadata", "spec", "status"), Map.of());
        Field spec = root.get("spec").require().requireMapping();
        spec.allowOnly(Set.of("podSelector", "policyTypes", "ingress", "egress"), Map.of());

        Field podSelector = spec.get("podSelector");
        if (!podSelector.present()) {
            throw podSelector.error("is required ({} selects every pod of the namespace)");
        }
        EndpointSelector subject = SelectorParser.parse(podSelector.requireMapping(), this::podKey)
                .and(Requirement.equal(NAMESPACE, namespace));

        List<Field> ingress = spec.get("ingress").items();
        List<Field> egress = spec.get("egress").items();
        boolean affectsIngress;
        boolean affectsEgress;
        Field policyTypes = spec.get("policyTypes");
        if (policyTypes.present() && !policyTypes.items().isEmpty()) {
            affectsIngress = false;
            affectsEgress = false;
            for (Field type : policyTypes.items()) {
                switch (type.text()) {
                    case "Ingress" -> affectsIngress = true;
                    case "Egress" -> affectsEgress = true;
                    default -> throw type.error("must be Ingress or Egress, got " + Field.show(type.node()));
                }
            }
        } else {
            // The API server's default: every policy affects ingress, and egress when it has egress rules.
            affectsIngress = true;
            affectsEgress = !egress.isEmpty();
        }
        // Kubernetes ignores the rules of a direction policyTypes leaves out, while Cilium enforces them anyway;
        // rather than pick one of two behaviours the user may not expect, Sluice refuses the contradiction.
        if (!affectsIngress && !ingress.isEmpty()) {
            throw spec.get("ingress").error("has rules, but policyTypes does not list Ingress: Kubernetes would ignore them"
                    + " and Cilium would enforce them; add Ingress to policyTypes or remove the rules");
        }
        if (!affectsEgress && !egress.isEmpty()) {
            throw spec.get("egress").error("has rules, but policyTypes does not list Egress: Kubernetes would ignore them"
                    + " and Cilium would enforce them; add Egress to policyTypes or remove the rules");
        }

        List<PeerRule> peerRules = new ArrayList<>();
        ingress.forEach(rule -> peerRules.add(peerRule(rule, Direction.INGRESS)));
        egress.forEach(rule -> peerRules.add(peerRule(rule, Direction.EGRESS)));
        return new PolicyRule(podSelector.path(), subject, affectsIngress, affectsEgress, peerRules);
    }

    private PeerRule peerRule(Field rule, Direction direction) {
        String peersName = direction == Direction.INGRESS ? "from" : "to";
        rule.allowOnly(Set.of(peersName, "ports"), Map.of());
        List<PeerMatch> peers = new ArrayList<>();
        for (Field peer : rule.get(peersName).items()) {
            peers.add(peer(peer));
        }
        // "If this field is empty or missing, this rule matches all sources": Cilium uses its wildcard selector,
        // which takes in the world and the host as well as every pod.
        if (peers.isEmpty()) {
            peers.add(EndpointSelector.ALL);
        }
        List<PortMatch> ports = new ArrayList<>();
        for (Field port : rule.get("ports").items()) {
            ports.add(port(port));
        }
        List<PortRule> toPorts = ports.isEmpty() ? List.of() : List.of(new PortRule(ports, null));
        return new PeerRule(rule.path(), direction, Verdict.ALLOW, peers, toPorts);
    }

    private PeerMatch peer(Field peer) {
        peer.allowOnly(Set.of("podSelector", "namespaceSelector", "ipBlock"), Map.of());
        Field pods = peer.get("podSelector");
        Field namespaces = peer.get("namespaceSelector");
        Field ipBlock = peer.get("ipBlock");
        if (ipBlock.present()) {
            if (pods.present() || namespaces.present()) {
                throw ipBlock.error("cannot be combined with podSelector or namespaceSelector in one peer; write two peers");
            }
            return ipBlock(ipBlock);
        }
        if (!pods.present() && !namespaces.present()) {
            throw peer.error("must have podSelector, namespaceSelector or ipBlock");
        }
        if (!namespaces.present()) {
            return SelectorParser.parse(pods.requireMapping(), this::podKey).and(Requirement.equal(NAMESPACE, namespace));
        }
        List<Requirement> requirements = new ArrayList<>(
                SelectorParser.parse(namespaces.requireMapping(), this::namespaceKey).requirements());
        if (requirements.isEmpty()) {
            // An empty namespaceSelector selects every namespace: any pod, but still only pods.
            requirements.add(Requirement.exists(NAMESPACE));
        }
        if (pods.present()) {
            requirements.addAll(SelectorParser.parse(pods.requireMapping(), this::podKey).requirements());
        }
        return new EndpointSelector(requirements);
    }

    private CidrRule ipBlock(Field ipBlock) {
        ipBlock.allowOnly(Set.of("cidr", "except"), Map.of());
        Cidr cidr = cidr(ipBlock.get("cidr").require());
        List<Cidr> except = new ArrayList<>();
        for (Field item : ipBlock.get("except").items()) {
            Cidr excluded = cidr(item);
            if (!cidr.contains(excluded) || excluded.equals(cidr)) {
                throw item.error(excluded + " must be strictly within " + cidr + ", as the API server requires");
            }
            except.add(excluded);
        }
        // Upstream semantics: an ipBlock selects by address, pods included (Cilium's reading would not).
        return new CidrRule(cidr, except, true);
    }

    private Cidr cidr(Field field) {
        String text = field.text();
        try {
            Cidr cidr = Cidr.parse(text, false);
            if (Cidr.hasHostBits(text)) {
                warnings.accept(field.path(), Field.show(text) + " has host bits set; it is read as " + cidr);
            }
            return cidr;
        } catch (IllegalArgumentException e) {
            throw field.error(e.getMessage() + ", got " + Field.show(text));
        }
    }

    private static PortMatch port(Field port) {
        port.allowOnly(Set.of("port", "endPort", "protocol"), Map.of());
        PortProtocol protocol = PortProtocol.TCP;
        Field protocolField = port.get("protocol");
        if (protocolField.present()) {
            protocol = switch (protocolField.text()) {
                case "TCP" -> PortProtocol.TCP;
                case "UDP" -> PortProtocol.UDP;
                case "SCTP" -> PortProtocol.SCTP;
                default -> throw protocolField.error("must be TCP, UDP or SCTP, got " + Field.show(protocolField.node()));
            };
        }
        Field portField = port.get("port");
        Field endPortField = port.get("endPort");
        if (!portField.present()) {
            if (endPortField.present()) {
                throw endPortField.error("needs port, the start of the range");
            }
            // No port: every port of the protocol.
            return PortMatch.number(0, protocol);
        }
        if (portField.node().isTextual()) {
            String name = portField.text();
            if (name.length() > 15 || !PORT_NAME.matcher(name).matches() || name.contains("--")
                    || name.chars().noneMatch(Character::isLetter)) {
                throw portField.error("must be a port number 1..65535 (written without quotes) or a port name (at most"
                        + " 15 lowercase letters, digits and '-', with a letter), got " + Field.show(name));
            }
            if (endPortField.present()) {
                throw endPortField.error("needs a numeric port: a range cannot start at named port " + Field.show(name));
            }
            return PortMatch.named(name, protocol);
        }
        int number = portField.integer();
        if (number < 1 || number > 65535) {
            throw portField.error("must be a port number 1..65535, got " + number);
        }
        if (!endPortField.present()) {
            return PortMatch.number(number, protocol);
        }
        int endPort = endPortField.integer();
        if (endPort < number || endPort > 65535) {
            throw endPortField.error("must be " + number + "..65535 (at least port), got " + endPort);
        }
        return endPort == number ? PortMatch.number(number, protocol) : PortMatch.range(number, endPort, protocol);
    }

    private LabelKey podKey(String written) {
        SelectorParser.requireLabelKey(written);
        return LabelKey.k8s(written);
    }

    /** Cilium carries namespace labels on each pod under a prefix, so a namespaceSelector selects pods by them. */
    private LabelKey namespaceKey(String written) {
        SelectorParser.requireLabelKey(written);
        return LabelKey.k8s(EndpointLabels.NAMESPACE_LABELS_PREFIX + written);
    }
}
