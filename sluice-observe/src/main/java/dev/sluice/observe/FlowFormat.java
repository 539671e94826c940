package dev.sluice.observe;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.HTTP;
import dev.sluice.observe.v1.Layer4;
import dev.sluice.observe.v1.Service;
import dev.sluice.observe.v1.TCPFlags;
import dev.sluice.observe.v1.Verdict;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Flows printed as {@code hubble observe} prints them: compact (its default), JSON lines, or a table. */
public final class FlowFormat {
    /** Hubble's {@code Jan _2 15:04:05.000}: the day padded with a space. */
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("MMM ppd HH:mm:ss.SSS", Locale.US);
    private static final JsonFormat.Printer JSON = JsonFormat.printer().omittingInsignificantWhitespace();
    private static final JsonFormat.Parser JSON_PARSER = JsonFormat.parser();
    /** Cilium's reserved identities, printed by name instead of {@code ID:n}. */
    private static final Map<Integer, String> RESERVED = Map.ofEntries(
            Map.entry(1, "host"), Map.entry(2, "world"), Map.entry(3, "unmanaged"), Map.entry(4, "health"),
            Map.entry(5, "init"), Map.entry(6, "remote-node"), Map.entry(7, "kube-apiserver"), Map.entry(8, "ingress"),
            Map.entry(9, "world-ipv4"), Map.entry(10, "world-ipv6"));
    private static final Map<Integer, String> ICMP_TYPES = Map.of(
            0, "EchoReply", 3, "DestinationUnreachable", 5, "Redirect", 8, "EchoRequest", 11, "TimeExceeded");
    private static final List<String> TABLE_HEADER = List.of("TIMESTAMP", "SOURCE", "DESTINATION", "TYPE", "VERDICT", "SUMMARY");

    private final ZoneId zone;

    /** @param zone the zone times print in; Hubble prints local time */
    public FlowFormat(ZoneId zone) {
        this.zone = zone;
    }

    /**
     * e.g. {@code Apr 10 12:34:56.789: default/a:41234 (ID:5012) -> default/b:50051 (ID:7310) to-endpoint FORWARDED (TCP Flags: SYN)};
     * a drop reads as the seed's {@code ... DROPPED (Policy denied on ingress by CiliumNetworkPolicy default/p; TCP Flags: SYN)}:
     * why, where and by which policy, in one place.
     */
    public String compact(Flow flow) {
        return compact(flow, false);
    }

    /** With {@code nodeName}, the node that saw the flow follows the time, as {@code hubble observe --print-node-name}. */
    public String compact(Flow flow, boolean nodeName) {
        Sides sides = Sides.of(flow);
        String type = type(flow);
        return time(flow) + (nodeName ? " [" + flow.getNodeName() + "]" : "") + ": " + sides.left() + " " + sides.arrow() + " "
                + sides.right() + " " + (type.isEmpty() ? "" : type + " ") + verdict(flow) + " (" + summary(flow) + ")";
    }

    /** One line of protobuf JSON; {@link #parseJson} reads it back to the same flow. */
    public static String json(Flow flow) {
        try {
            return JSON.print(flow);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("a Flow always prints as JSON", e);
        }
    }

    public static Flow parseJson(String line) throws InvalidProtocolBufferException {
        Flow.Builder flow = Flow.newBuilder();
        JSON_PARSER.merge(line, flow);
        return flow.build();
    }

    /** Hubble's table: a header and one row per flow, columns padded to their widest cell. */
    public List<String> table(List<Flow> flows) {
        return table(flows, false);
    }

    /** With {@code nodeName}, a NODE column after the time. */
    public List<String> table(List<Flow> flows, boolean nodeName) {
        List<List<String>> rows = new ArrayList<>();
        List<String> header = new ArrayList<>(TABLE_HEADER);
        if (nodeName) {
            header.add(1, "NODE");
        }
        rows.add(header);
        for (Flow flow : flows) {
            Sides sides = Sides.of(flow);
            List<String> row = new ArrayList<>(List.of(time(flow), sides.left(), sides.right(), type(flow), verdict(flow), summary(flow)));
            if (nodeName) {
                row.add(1, flow.getNodeName());
            }
            rows.add(row);
        }
        int[] widths = new int[header.size()];
        for (List<String> row : rows) {
            for (int i = 0; i < widths.length; i++) {
                widths[i] = Math.max(widths[i], row.get(i).length());
            }
        }
        List<String> lines = new ArrayList<>();
        for (List<String> row : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < widths.length; i++) {
                line.append(i == widths.length - 1 ? row.get(i) : pad(row.get(i), widths[i] + 3));
            }
            lines.add(line.toString());
        }
        return lines;
    }

    /** Hubble's {@code dict}: one {@code KEY: value} line per field, keys right-aligned, a rule after each flow. */
    public List<String> dict(Flow flow, boolean nodeName) {
        Sides sides = Sides.of(flow);
        List<String[]> fields = new ArrayList<>();
        fields.add(new String[] {"TIMESTAMP", time(flow)});
        if (nodeName) {
            fields.add(new String[] {"NODE", flow.getNodeName()});
        }
        fields.add(new String[] {"SOURCE", sides.left()});
        fields.add(new String[] {"DESTINATION", sides.right()});
        fields.add(new String[] {"TYPE", flow.getVerdict() == Verdict.DROPPED ? flow.getDropReasonDesc() : type(flow)});
        fields.add(new String[] {"VERDICT", verdict(flow)});
        fields.add(new String[] {"SUMMARY", summary(flow)});
        List<String> lines = new ArrayList<>();
        for (String[] f : fields) {
            lines.add(" ".repeat("DESTINATION".length() - f[0].length()) + f[0] + ": " + f[1]);
        }
        lines.add("------------");
        return lines;
    }

    private static String pad(String cell, int width) {
        return cell + " ".repeat(width - cell.length());
    }

    private String time(Flow flow) {
        return TIME.format(Instant.ofEpochSecond(flow.getTime().getSeconds(), flow.getTime().getNanos()).atZone(zone));
    }

    /** Replies are printed from the client's side, so that both halves of a connection read the same way. */
    private record Sides(String left, String arrow, String right) {
        static Sides of(Flow flow) {
            String source = endpoint(flow.getSource(), flow.getSourceService(), flow.getIP().getSource(), sourcePort(flow.getL4()));
            String destination = endpoint(flow.getDestination(), flow.getDestinationService(), flow.getIP().getDestination(),
                    destinationPort(flow.getL4()));
            if (!flow.hasIsReply()) {
                return new Sides(source, "<>", destination);
            }
            return flow.getIsReply() ? new Sides(destination, "<-", source) : new Sides(source, "->", destination);
        }
    }

    private static String endpoint(Endpoint endpoint, Service service, String ip, int port) {
        String host;
        if (!endpoint.getPodName().isEmpty()) {
            host = endpoint.getNamespace() + "/" + endpoint.getPodName();
        } else if (!service.getName().isEmpty()) {
            host = service.getNamespace().isEmpty() ? service.getName() : service.getNamespace() + "/" + service.getName();
        } else {
            host = ip.indexOf(':') >= 0 && port != 0 ? "[" + ip + "]" : ip; // IPv6 with a port, as Hubble prints it
        }
        String address = port == 0 ? host : host + ":" + port;
        int identity = endpoint.getIdentity();
        if (identity == 0) {
            return address;
        }
        String name = RESERVED.get(identity);
        return address + " (" + (name != null ? name : "ID:" + identity) + ")";
    }

    private static int sourcePort(Layer4 l4) {
        return switch (l4.getProtocolCase()) {
            case TCP -> l4.getTCP().getSourcePort();
            case UDP -> l4.getUDP().getSourcePort();
            case SCTP -> l4.getSCTP().getSourcePort();
            default -> 0;
        };
    }

    private static int destinationPort(Layer4 l4) {
        return switch (l4.getProtocolCase()) {
            case TCP -> l4.getTCP().getDestinationPort();
            case UDP -> l4.getUDP().getDestinationPort();
            case SCTP -> l4.getSCTP().getDestinationPort();
            default -> 0;
        };
    }

    /** What Hubble calls the flow's type: the L7 record, or where the datapath saw it (a drop's reason is in its summary). */
    private static String type(Flow flow) {
        if (flow.getL7().hasHttp()) {
            // As Hubble: a denied L7 request still reads "http-request DROPPED (...)".
            return response(flow) ? "http-response" : "http-request";
        }
        if (flow.getL7().hasDns()) {
            return flow.getL7().getType() == dev.sluice.observe.v1.L7FlowType.RESPONSE ? "dns-response" : "dns-request";
        }
        if (flow.getVerdict() == Verdict.DROPPED) {
            return "";
        }
        if (!flow.getTraceObservationPoint().isEmpty()) {
            return flow.getTraceObservationPoint();
        }
        return flow.getEventType();
    }

    private static String verdict(Flow flow) {
        return flow.getVerdict() == Verdict.UNRECOGNIZED ? "UNKNOWN" : flow.getVerdict().name();
    }

    /** The L7 type when the flow has one, else by its code (0 on a request). */
    private static boolean response(Flow flow) {
        return switch (flow.getL7().getType()) {
            case REQUEST -> false;
            case RESPONSE -> true;
            default -> flow.getL7().getHttp().getCode() != 0;
        };
    }

    /** The summary column of a flow, as every output prints it (also Hubble's {@code Summary} on the wire). */
    public static String summaryOf(Flow flow) {
        return summary(flow);
    }

    private static String summary(Flow flow) {
        if (flow.getL7().hasDns()) {
            return dnsSummary(flow);
        }
        if (flow.getL7().hasHttp()) {
            String http = httpSummary(flow);
            if (flow.getVerdict() == Verdict.FORWARDED) {
                return http;
            }
            // Why the proxy refused or failed it, in its own words.
            String reason = flow.getL7().getHttp().getHeadersList().stream().filter(h -> h.getKey().equals("x-sluice-reason"))
                    .map(h -> h.getValue()).findFirst().orElse("");
            String drop = flow.getVerdict() == Verdict.DROPPED && !flow.getDropReasonDesc().isEmpty() ? flow.getDropReasonDesc() : "";
            String why = drop.isEmpty() || reason.startsWith(drop) ? reason : reason.isEmpty() ? drop : drop + ": " + reason;
            return why.isEmpty() ? http : http + "; " + why;
        }
        if (flow.getVerdict() == Verdict.DROPPED) {
            String l4 = l4Summary(flow.getL4());
            return dropSummary(flow) + (l4.isEmpty() ? "" : "; " + l4);
        }
        return l4Summary(flow.getL4());
    }

    /**
     * As Hubble prints DNS: {@code DNS Query product-service.default.svc.cluster.local. A} for a query,
     * {@code DNS Answer "10.96.0.11" TTL: 5 (Query product-service.default.svc.cluster.local. A)} for an answer, and
     * {@code DNS Answer RCode: NXDOMAIN TTL: 5 (Query ...)} for one without addresses because the name failed.
     */
    private static String dnsSummary(Flow flow) {
        dev.sluice.observe.v1.DNS dns = flow.getL7().getDns();
        String qtypes = String.join(",", dns.getQtypesList());
        if (flow.getL7().getType() != dev.sluice.observe.v1.L7FlowType.RESPONSE) {
            return "DNS Query " + dns.getQuery() + " " + qtypes;
        }
        java.util.List<String> parts = new java.util.ArrayList<>();
        if (dns.getRcode() != 0) {
            parts.add("RCode: " + rcodeName(dns.getRcode()));
        }
        if (dns.getIpsCount() > 0) {
            parts.add("\"" + String.join(",", dns.getIpsList()) + "\"");
        }
        if (dns.getCnamesCount() > 0) {
            parts.add("CNAMEs: \"" + String.join(",", dns.getCnamesList()) + "\"");
        }
        if (parts.isEmpty()) {
            parts.add(dns.getRrtypesCount() > 0 ? "RRs: " + String.join(",", dns.getRrtypesList()) : "no records");
        }
        return "DNS Answer " + String.join(" ", parts) + " TTL: " + Integer.toUnsignedString(dns.getTtl()) + " (Query " + dns.getQuery()
                + " " + qtypes + ")";
    }

    /** RFC 1035/2136's names of response codes, as dig prints them. */
    static String rcodeName(int rcode) {
        return switch (rcode) {
            case 0 -> "NOERROR";
            case 1 -> "FORMERR";
            case 2 -> "SERVFAIL";
            case 3 -> "NXDOMAIN";
            case 4 -> "NOTIMP";
            case 5 -> "REFUSED";
            default -> "RCODE" + rcode;
        };
    }

    /** Hubble's {@code HTTP/2 POST http://...} for a request, {@code HTTP/2 200 3ms (POST http://...)} for a response. */
    private static String httpSummary(Flow flow) {
        HTTP http = flow.getL7().getHttp();
        String protocol = http.getProtocol().isEmpty() ? "HTTP/1.1" : http.getProtocol();
        if (!response(flow)) {
            return protocol + " " + http.getMethod() + " " + http.getUrl();
        }
        return protocol + " " + http.getCode() + " " + flow.getL7().getLatencyNs() / 1_000_000 + "ms ("
                + http.getMethod() + " " + http.getUrl() + ")";
    }

    /** "Policy denied on ingress by CiliumNetworkPolicy default/p" */
    private static String dropSummary(Flow flow) {
        String reason = flow.getDropReasonDesc().isEmpty() ? "Dropped" : flow.getDropReasonDesc();
        String direction = switch (flow.getTrafficDirection()) {
            case INGRESS -> " on ingress";
            case EGRESS -> " on egress";
            default -> "";
        };
        dev.sluice.observe.v1.Policy policy = flow.getPolicy();
        String by = policy.getName().isEmpty() ? ""
                : " by " + policy.getKind() + " " + (policy.getNamespace().isEmpty() ? "" : policy.getNamespace() + "/") + policy.getName();
        return reason + direction + by;
    }

    private static String l4Summary(Layer4 l4) {
        return switch (l4.getProtocolCase()) {
            // A socket-level translation happens before any packet: there are no flags to show.
            case TCP -> l4.getTCP().getFlags().equals(TCPFlags.getDefaultInstance()) ? "TCP" : "TCP Flags: " + flags(l4.getTCP().getFlags());
            case UDP -> "UDP";
            case SCTP -> "SCTP";
            case ICMPV4 -> "ICMPv4 " + ICMP_TYPES.getOrDefault(l4.getICMPv4().getType(), "Type " + l4.getICMPv4().getType());
            case PROTOCOL_NOT_SET -> "";
        };
    }

    private static String flags(TCPFlags flags) {
        List<String> set = new ArrayList<>();
        if (flags.getSYN()) set.add("SYN");
        if (flags.getACK()) set.add("ACK");
        if (flags.getRST()) set.add("RST");
        if (flags.getFIN()) set.add("FIN");
        if (flags.getPSH()) set.add("PSH");
        return String.join(", ", set);
    }
}
