package dev.sluice.observe;

import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.FlowFilter;
import dev.sluice.observe.v1.Layer4;
import dev.sluice.observe.v1.Service;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * Hubble's filter semantics: a flow passes when any allow filter matches (or there are none) and no deny
 * filter matches. Within one filter every set field must match; within one field any value may.
 */
public final class FlowFilters {
    private FlowFilters() {}

    /** @throws IllegalArgumentException for a value that cannot be a filter (a bad regex, a port that is no number) */
    public static Predicate<Flow> compile(List<FlowFilter> allow, List<FlowFilter> deny) {
        Predicate<Flow> anyAllow = allow.isEmpty() ? flow -> true : any(allow);
        Predicate<Flow> anyDeny = any(deny);
        return anyAllow.and(anyDeny.negate());
    }

    private static Predicate<Flow> any(List<FlowFilter> filters) {
        return filters.stream().map(FlowFilters::of).reduce(Predicate::or).orElse(flow -> false);
    }

    /** One filter: the conjunction of its set fields. */
    public static Predicate<Flow> of(FlowFilter filter) {
        List<Predicate<Flow>> fields = new ArrayList<>();
        field(fields, filter.getSourcePodList(), v -> pod(v, Flow::getSource));
        field(fields, filter.getDestinationPodList(), v -> pod(v, Flow::getDestination));
        field(fields, filter.getPodList(), v -> pod(v, Flow::getSource).or(pod(v, Flow::getDestination)));
        field(fields, filter.getSourceLabelList(), v -> labels(v, Flow::getSource));
        field(fields, filter.getDestinationLabelList(), v -> labels(v, Flow::getDestination));
        field(fields, filter.getSourceServiceList(), v -> service(v, Flow::getSourceService));
        field(fields, filter.getDestinationServiceList(), v -> service(v, Flow::getDestinationService));
        field(fields, filter.getNamespaceList(), v -> flow -> flow.getSource().getNamespace().equals(v)
                || flow.getDestination().getNamespace().equals(v));
        field(fields, filter.getVerdictList(), v -> flow -> flow.getVerdict() == v);
        field(fields, filter.getDropReasonDescList(), v -> flow -> flow.getDropReasonDesc().equalsIgnoreCase(v));
        field(fields, filter.getProtocolList(), FlowFilters::protocol);
        field(fields, filter.getPortList(), FlowFilters::port);
        field(fields, filter.getHttpStatusCodeList(), FlowFilters::httpStatus);
        field(fields, filter.getHttpMethodList(), v -> flow -> flow.getL7().hasHttp()
                && flow.getL7().getHttp().getMethod().equalsIgnoreCase(v));
        field(fields, filter.getHttpPathList(), FlowFilters::httpPath);
        field(fields, filter.getDnsQueryList(), FlowFilters::dnsQuery);
        field(fields, filter.getNodeNameList(), FlowFilters::nodeName);
        field(fields, filter.getTrafficDirectionList(), v -> flow -> flow.getTrafficDirection() == v);
        field(fields, filter.getSourceIpList(), v -> ip(v, flow -> flow.getIP().getSource()));
        field(fields, filter.getDestinationIpList(), v -> ip(v, flow -> flow.getIP().getDestination()));
        field(fields, filter.getIpList(), v -> ip(v, flow -> flow.getIP().getSource()).or(ip(v, flow -> flow.getIP().getDestination())));
        field(fields, filter.getSourceIdentityList(), v -> flow -> flow.getSource().getIdentity() == v);
        field(fields, filter.getDestinationIdentityList(), v -> flow -> flow.getDestination().getIdentity() == v);
        field(fields, filter.getIdentityList(), v -> flow -> flow.getSource().getIdentity() == v || flow.getDestination().getIdentity() == v);
        field(fields, filter.getEventTypeList(), v -> flow -> flow.getEventType().equalsIgnoreCase(v));
        field(fields, filter.getSourcePortList(), v -> port(v, true));
        field(fields, filter.getDestinationPortList(), v -> port(v, false));
        field(fields, filter.getReplyList(), v -> flow -> flow.hasIsReply() && flow.getIsReply() == v);
        field(fields, filter.getIpVersionList(), v -> flow -> flow.getIP().getIpVersion() == v);
        field(fields, filter.getDropReasonList(), v -> flow -> flow.getDropReason() == v);
        return fields.stream().reduce(Predicate::and).orElse(flow -> true);
    }

    private static <T> void field(List<Predicate<Flow>> fields, List<T> values, Function<T, Predicate<Flow>> match) {
        if (!values.isEmpty()) {
            fields.add(values.stream().map(match).reduce(Predicate::or).orElseThrow());
        }
    }

    /** An IPv4 address or prefix as {network, mask}; a bare address is a /32. */
    public static long[] parseCidr(String value) {
        String[] parts = value.split("/", -1);
        if (parts.length > 2) {
            throw new IllegalArgumentException("not an IPv4 address or prefix: \"" + value + "\"");
        }
        String[] octets = parts[0].split("\\.", -1);
        if (octets.length != 4) {
            throw new IllegalArgumentException("not an IPv4 address or prefix: \"" + value + "\"");
        }
        long address = 0;
        try {
            for (String o : octets) {
                int octet = Integer.parseInt(o);
                if (octet < 0 || octet > 255) {
                    throw new NumberFormatException();
                }
                address = address << 8 | octet;
            }
            int bits = parts.length == 2 ? Integer.parseInt(parts[1]) : 32;
            if (bits < 0 || bits > 32) {
                throw new NumberFormatException();
            }
            long mask = bits == 0 ? 0 : (0xffffffffL << (32 - bits)) & 0xffffffffL;
            return new long[] {address & mask, mask};
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an IPv4 address or prefix: \"" + value + "\"");
        }
    }

    /**
     * An IPv6 address or prefix ({@code fe80::1}, {@code fe80::/10}) as {address bytes, prefix length}; null when the
     * value has no ':' (not IPv6).
     *
     * @throws IllegalArgumentException naming the value when it has a ':' but is no IPv6 address or prefix
     */
    public static Object[] parseCidr6(String value) {
        if (value.indexOf(':') < 0) {
            return null;
        }
        String[] parts = value.split("/", -1);
        try {
            if (parts.length > 2 || !com.google.common.net.InetAddresses.isInetAddress(parts[0])) {
                throw new NumberFormatException();
            }
            byte[] address = com.google.common.net.InetAddresses.forString(parts[0]).getAddress();
            int bits = parts.length == 2 ? Integer.parseInt(parts[1]) : 128;
            if (address.length != 16 || bits < 0 || bits > 128) {
                throw new NumberFormatException();
            }
            return new Object[] {address, bits};
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an IPv6 address or prefix: \"" + value + "\"");
        }
    }

    private static boolean inPrefix6(byte[] address, byte[] prefix, int bits) {
        for (int i = 0; i < bits; i++) {
            int mask = 0x80 >>> (i % 8);
            if ((address[i / 8] & mask) != (prefix[i / 8] & mask)) {
                return false;
            }
        }
        return true;
    }

    private static Predicate<Flow> ip(String value, Function<Flow, String> side) {
        Object[] cidr6 = parseCidr6(value);
        if (cidr6 != null) {
            return flow -> {
                String address = side.apply(flow);
                if (address.indexOf(':') < 0 || !com.google.common.net.InetAddresses.isInetAddress(address)) {
                    return false; // an IPv4 address never matches an IPv6 prefix
                }
                return inPrefix6(com.google.common.net.InetAddresses.forString(address).getAddress(), (byte[]) cidr6[0], (int) cidr6[1]);
            };
        }
        long[] cidr = parseCidr(value);
        return flow -> {
            String address = side.apply(flow);
            if (address.isEmpty()) {
                return false;
            }
            try {
                long a = parseCidr(address)[0];
                return (a & cidr[1]) == cidr[0];
            } catch (IllegalArgumentException e) {
                return false; // an IPv6 address never matches an IPv4 prefix
            }
        };
    }

    private static Predicate<Flow> pod(String value, Function<Flow, Endpoint> side) {
        NamePrefix prefix = NamePrefix.parse(value);
        return flow -> {
            Endpoint endpoint = side.apply(flow);
            return !endpoint.getPodName().isEmpty() && prefix.matches(endpoint.getNamespace(), endpoint.getPodName());
        };
    }

    private static Predicate<Flow> service(String value, Function<Flow, Service> side) {
        NamePrefix prefix = NamePrefix.parse(value);
        return flow -> {
            Service service = side.apply(flow);
            return !service.getName().isEmpty() && prefix.matches(service.getNamespace(), service.getName());
        };
    }

    /** {@code [namespace/]name-prefix}; without a namespace any namespace matches. */
    private record NamePrefix(String namespace, String name) {
        static NamePrefix parse(String value) {
            int slash = value.indexOf('/');
            return slash < 0 ? new NamePrefix(null, value) : new NamePrefix(value.substring(0, slash), value.substring(slash + 1));
        }

        boolean matches(String namespace, String name) {
            return (this.namespace == null || this.namespace.equals(namespace)) && name.startsWith(this.name);
        }
    }

    private static Predicate<Flow> labels(String selector, Function<Flow, Endpoint> side) {
        List<Predicate<List<String>>> terms = new ArrayList<>();
        for (String term : selector.split(",")) {
            String trimmed = term.strip();
            if (!trimmed.isEmpty()) {
                terms.add(labelTerm(trimmed));
            }
        }
        return flow -> {
            List<String> labels = side.apply(flow).getLabelsList();
            return terms.stream().allMatch(term -> term.test(labels));
        };
    }

    /** {@code key=value} or {@code key}; a key without a source ("k8s:") matches labels of any source. */
    private static Predicate<List<String>> labelTerm(String term) {
        int eq = term.indexOf('=');
        String key = eq < 0 ? term : term.substring(0, eq);
        String value = eq < 0 ? null : term.substring(eq + 1);
        boolean anySource = !key.contains(":");
        return labels -> labels.stream().anyMatch(label -> {
            int labelEq = label.indexOf('=');
            String labelKey = labelEq < 0 ? label : label.substring(0, labelEq);
            String labelValue = labelEq < 0 ? "" : label.substring(labelEq + 1);
            String comparedKey = anySource ? labelKey.substring(labelKey.indexOf(':') + 1) : labelKey;
            return comparedKey.equals(key) && (value == null || value.equals(labelValue));
        });
    }

    private static Predicate<Flow> protocol(String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "tcp" -> flow -> flow.getL4().getProtocolCase() == Layer4.ProtocolCase.TCP;
            case "udp" -> flow -> flow.getL4().getProtocolCase() == Layer4.ProtocolCase.UDP;
            case "sctp" -> flow -> flow.getL4().getProtocolCase() == Layer4.ProtocolCase.SCTP;
            case "icmp", "icmpv4" -> flow -> flow.getL4().getProtocolCase() == Layer4.ProtocolCase.ICMPV4;
            case "http" -> flow -> flow.getL7().hasHttp();
            case "dns" -> flow -> flow.getL7().hasDns();
            default -> throw new IllegalArgumentException("unknown protocol \"" + value + "\" (tcp, udp, sctp, icmp, http, dns)");
        };
    }

    private static Predicate<Flow> port(String value) {
        int port;
        try {
            port = Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("port must be a number, got \"" + value + "\"");
        }
        return flow -> {
            Layer4 l4 = flow.getL4();
            return switch (l4.getProtocolCase()) {
                case TCP -> l4.getTCP().getSourcePort() == port || l4.getTCP().getDestinationPort() == port;
                case UDP -> l4.getUDP().getSourcePort() == port || l4.getUDP().getDestinationPort() == port;
                case SCTP -> l4.getSCTP().getSourcePort() == port || l4.getSCTP().getDestinationPort() == port;
                default -> false;
            };
        };
    }

    /** One side's L4 port (Hubble's source_port / destination_port). */
    private static Predicate<Flow> port(String value, boolean source) {
        int port;
        try {
            port = Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("port must be a number, got \"" + value + "\"");
        }
        return flow -> {
            Layer4 l4 = flow.getL4();
            return switch (l4.getProtocolCase()) {
                case TCP -> (source ? l4.getTCP().getSourcePort() : l4.getTCP().getDestinationPort()) == port;
                case UDP -> (source ? l4.getUDP().getSourcePort() : l4.getUDP().getDestinationPort()) == port;
                case SCTP -> (source ? l4.getSCTP().getSourcePort() : l4.getSCTP().getDestinationPort()) == port;
                default -> false;
            };
        };
    }

    /** "404" exactly, or "5+" / "40+" for every code with that prefix; requests (code 0) never match. */
    private static Predicate<Flow> httpStatus(String value) {
        boolean prefix = value.endsWith("+");
        String digits = prefix ? value.substring(0, value.length() - 1) : value;
        if (!digits.matches("[1-5][0-9]{0,2}") || (!prefix && digits.length() != 3)) {
            throw new IllegalArgumentException("HTTP status must be a code such as 404 or a prefix such as 5+, got \"" + value + "\"");
        }
        return flow -> {
            int code = flow.getL7().getHttp().getCode();
            String text = Integer.toString(code);
            return code != 0 && (prefix ? text.startsWith(digits) : text.equals(digits));
        };
    }

    /** Hubble's dns_query: a regular expression searched for in the query name of a DNS flow. */
    private static Predicate<Flow> dnsQuery(String regex) {
        java.util.regex.Pattern pattern;
        try {
            pattern = java.util.regex.Pattern.compile(regex);
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new IllegalArgumentException("DNS query must be a regular expression, got \"" + regex + "\": " + e.getDescription());
        }
        return flow -> flow.getL7().hasDns() && pattern.matcher(flow.getL7().getDns().getQuery()).find();
    }

    private static Predicate<Flow> httpPath(String regex) {
        Pattern pattern = Pattern.compile(regex);
        return flow -> flow.getL7().hasHttp() && pattern.matcher(pathOf(flow.getL7().getHttp().getUrl())).find();
    }

    private static String pathOf(String url) {
        try {
            String path = URI.create(url).getRawPath();
            return path == null ? "" : path;
        } catch (IllegalArgumentException e) {
            return url;
        }
    }

    private static Predicate<Flow> nodeName(String glob) {
        String[] parts = glob.split("\\*", -1);
        for (int i = 0; i < parts.length; i++) {
            parts[i] = Pattern.quote(parts[i]);
        }
        Pattern pattern = Pattern.compile(String.join(".*", parts));
        return flow -> pattern.matcher(flow.getNodeName()).matches();
    }
}
