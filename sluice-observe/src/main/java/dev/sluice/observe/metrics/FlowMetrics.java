package dev.sluice.observe.metrics;

import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.HTTP;
import dev.sluice.observe.v1.IP;
import dev.sluice.observe.v1.Layer4;
import dev.sluice.observe.v1.TCPFlags;
import dev.sluice.observe.v1.TrafficDirection;
import dev.sluice.observe.v1.Verdict;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Hubble's flow metrics, counted from every flow the agent adds to its ring, under Hubble's names and labels
 * so that Hubble's dashboards and alerts work against Sluice unchanged.
 *
 * <ul>
 *   <li>{@code hubble_flows_processed_total{type,subtype,verdict}}: every flow. {@code type} is Hubble's name
 *       for the event type (Drop, Trace, PolicyVerdict, L7, SockTrace; any other event type as it is),
 *       {@code subtype} the observation point of a trace or "HTTP" for an HTTP L7 event, else empty.</li>
 *   <li>{@code hubble_drop_total{reason,protocol}}: dropped flows, by Hubble's drop reason name (codes Hubble
 *       does not name become {@code DROP_REASON_<code>}) and TCP, UDP, ICMPv4 or Unknown.</li>
 *   <li>{@code hubble_policy_verdicts_total{direction,match,action}}: policy-verdict events, and drops by
 *       policy (reasons 133 and 181). {@code match} is "l3-l4" when a rule decided (an allow rule of a named
 *       policy, or a deny rule), "all" when nothing enforced policy, "none" when default deny dropped it.</li>
 *   <li>{@code hubble_tcp_flags_total{flag,family}}: SYN, SYN-ACK, FIN and RST of forwarded or redirected TCP
 *       flows, as Hubble counts them (a dropped SYN is a drop, not a handshake step).</li>
 *   <li>{@code hubble_http_requests_total{method,protocol,reporter}},
 *       {@code hubble_http_responses_total{method,status,reporter}} and the histogram
 *       {@code hubble_http_request_duration_seconds{method,reporter}}: HTTP L7 events; code 0 is a request,
 *       any other code a response, which carries the latency. The reporter is "server" on ingress, else
 *       "client".</li>
 *   <li>{@code hubble_lost_events_total{source}}: events lost before they became flows or while they were
 *       passed on, fed through {@link #lostEvents}.</li>
 * </ul>
 *
 * Which of them exist is Hubble's {@code hubble.metrics.enabled} list (flow, drop, tcp, policy, http or
 * httpV2; options after a colon are ignored): an empty list enables them all. Lost events are always counted.
 *
 * Every method is safe to call from several threads at once.
 */
public final class FlowMetrics {
    private static final int POLICY_DENIED = 133;
    private static final int POLICY_DENY = 181;

    /** Hubble's LostEventSource values, exported at zero from the start so that rate() sees the first loss. */
    private static final String[] LOST_EVENT_SOURCES = {"perf_event_ring_buffer", "observer_events_queue", "hubble_ring_buffer"};

    private record Processed(String eventType, String subtype, Verdict verdict) {}
    private record Drop(int reason, Layer4.ProtocolCase protocol) {}
    private record PolicyVerdict(TrafficDirection direction, String match, Verdict verdict) {}
    private record TcpFlag(String flag, String family) {}
    private record HttpRequest(List<String> context, String method, String protocol, String status, String reporter) {}
    private record HttpResponse(List<String> context, String method, int status, String reporter) {}
    private record HttpDuration(List<String> context, String method, String reporter) {}

    private final DataPoints<Processed, CounterDataPoint> processed;
    private final DataPoints<Drop, CounterDataPoint> drops;
    private final DataPoints<PolicyVerdict, CounterDataPoint> policyVerdicts;
    private final DataPoints<TcpFlag, CounterDataPoint> tcpFlags;
    private final DataPoints<HttpRequest, CounterDataPoint> httpRequests;
    private final DataPoints<HttpResponse, CounterDataPoint> httpResponses;
    private final DataPoints<HttpDuration, DistributionDataPoint> httpDurations;
    private final Counter lostEvents;
    private final boolean httpV2;
    private final ContextOptions httpContext;
    private final List<String> problems = new ArrayList<>();

    /** Every family. */
    public FlowMetrics(PrometheusRegistry registry) {
        this(registry, java.util.List.of());
    }

    /**
     * @param enabled {@code hubble.metrics.enabled} as written (e.g. {@code "drop:sourceContext=pod"}); empty for
     *        every family; names Sluice does not have ({@code SluiceValues.Hubble.unsupported}) are left out
     */
    public FlowMetrics(PrometheusRegistry registry, java.util.Collection<String> enabled) {
        Objects.requireNonNull(registry, "registry");
        java.util.Set<String> on = new java.util.HashSet<>();
        enabled.forEach(e -> on.add(dev.sluice.model.SluiceValues.Hubble.family(e)));
        java.util.function.Predicate<String> wanted = family -> enabled.isEmpty() || on.contains(family);

        Counter processedCounter = wanted.test("flow") ? counter(registry, "hubble_flows_processed_total",
                "Total number of flows processed", "type", "subtype", "verdict") : null;
        processed = processedCounter == null ? null
                : new DataPoints<>(k -> processedCounter.labelValues(typeName(k.eventType()), k.subtype(), k.verdict().name()));

        Counter dropCounter = wanted.test("drop") ? counter(registry, "hubble_drop_total", "Number of drops", "reason", "protocol") : null;
        drops = dropCounter == null ? null
                : new DataPoints<>(k -> dropCounter.labelValues(DropReasons.name(k.reason()), protocolName(k.protocol())));

        Counter policyCounter = wanted.test("policy") ? counter(registry, "hubble_policy_verdicts_total",
                "Number of flows a network policy decided, or let through for want of one", "direction", "match", "action") : null;
        policyVerdicts = policyCounter == null ? null
                : new DataPoints<>(k -> policyCounter.labelValues(lower(k.direction().name()), k.match(), lower(k.verdict().name())));

        Counter tcpCounter = wanted.test("tcp") ? counter(registry, "hubble_tcp_flags_total", "TCP flag occurrences", "flag", "family") : null;
        tcpFlags = tcpCounter == null ? null : new DataPoints<>(k -> tcpCounter.labelValues(k.flag(), k.family()));

        httpV2 = on.contains("httpV2");
        String httpEntry = enabled.stream().map(String::strip)
                .filter(e -> dev.sluice.model.SluiceValues.Hubble.family(e).equals(httpV2 ? "httpV2" : "http")).findFirst().orElse("http");
        httpContext = ContextOptions.parse(httpEntry, problems);
        List<String> ctx = httpContext.labelNames();
        if (wanted.test("http") || httpV2) {
            if (httpV2) {
                // httpV2: one counter, of responses, with the status among its labels; no responses counter.
                Counter requestCounter = counter(registry, "hubble_http_requests_total", "Count of HTTP requests",
                        labels(ctx, "method", "protocol", "status", "reporter"));
                httpRequests = new DataPoints<>(k -> requestCounter.labelValues(values(k.context(), k.method(), k.protocol(), k.status(), k.reporter())));
                httpResponses = null;
            } else {
                Counter requestCounter = counter(registry, "hubble_http_requests_total", "Count of HTTP requests",
                        labels(ctx, "method", "protocol", "reporter"));
                httpRequests = new DataPoints<>(k -> requestCounter.labelValues(values(k.context(), k.method(), k.protocol(), k.reporter())));
                Counter responseCounter = counter(registry, "hubble_http_responses_total", "Count of HTTP responses",
                        labels(ctx, "method", "status", "reporter"));
                httpResponses = new DataPoints<>(k -> responseCounter.labelValues(values(k.context(), k.method(),
                        Integer.toUnsignedString(k.status()), k.reporter())));
            }

            // Classic buckets only: they are what the text format shows, and Hubble's defaults (Prometheus' DefBuckets)
            // are the library's defaults; native histograms would add bookkeeping on every observation.
            Histogram durationHistogram = Histogram.builder().name("hubble_http_request_duration_seconds").unit(Unit.SECONDS)
                    .help("Quantiles of HTTP request duration in seconds").labelNames(labels(ctx, "method", "reporter"))
                    .classicOnly().withoutExemplars().register(registry);
            httpDurations = new DataPoints<>(k -> durationHistogram.labelValues(values(k.context(), k.method(), k.reporter())));
        } else {
            httpRequests = null;
            httpResponses = null;
            httpDurations = null;
        }

        lostEvents = counter(registry, "hubble_lost_events_total", "Number of lost events", "source");
        for (String source : LOST_EVENT_SOURCES) {
            lostEvents.initLabelValues(source);
        }
    }

    /** The context's label names, then the metric's own (Hubble's order). */
    private static String[] labels(List<String> context, String... own) {
        List<String> all = new ArrayList<>(context);
        all.addAll(List.of(own));
        return all.toArray(String[]::new);
    }

    private static String[] values(List<String> context, String... own) {
        return labels(context, own);
    }

    /** Options of {@code hubble.metrics.enabled} that Sluice could not honour, for the status line. */
    public List<String> problems() {
        return List.copyOf(problems);
    }

    private static Counter counter(PrometheusRegistry registry, String name, String help, String... labelNames) {
        // No exemplars: nothing traces flows, and sampling them would cost on every increment.
        return Counter.builder().name(name).help(help).labelNames(labelNames).withoutExemplars().register(registry);
    }

    /** Counts one flow in every (enabled) metric it belongs to. */
    public void record(Flow flow) {
        String eventType = flow.getEventType();
        Verdict verdict = flow.getVerdict();
        if (processed != null) {
            processed.get(new Processed(eventType, subtype(flow, eventType), verdict)).inc();
        }
        if (verdict == Verdict.DROPPED && drops != null) {
            drops.get(new Drop(flow.getDropReason(), flow.getL4().getProtocolCase())).inc();
        }
        if (policyVerdicts != null) {
            recordPolicyVerdict(flow, eventType, verdict);
        }
        if ((verdict == Verdict.FORWARDED || verdict == Verdict.REDIRECTED) && tcpFlags != null) {
            recordTcpFlags(flow);
        }
        if (flow.getL7().hasHttp() && httpRequests != null) {
            recordHttp(flow);
        }
    }

    /**
     * Adds {@code count} events lost at {@code source}, named as Hubble names it: "perf_event_ring_buffer" (the
     * datapath overran its ring), "observer_events_queue", "hubble_ring_buffer".
     */
    public void lostEvents(String source, long count) {
        Objects.requireNonNull(source, "source");
        if (count < 0) {
            throw new IllegalArgumentException("lost events cannot be negative, got " + count);
        }
        lostEvents.labelValues(source).inc(count);
    }

    private static String subtype(Flow flow, String eventType) {
        return switch (eventType) {
            case "trace" -> flow.getTraceObservationPoint();
            case "l7" -> flow.getL7().hasHttp() ? "HTTP" : flow.getL7().hasDns() ? "DNS" : "";
            default -> "";
        };
    }

    private void recordPolicyVerdict(Flow flow, String eventType, Verdict verdict) {
        int reason = flow.getDropReason();
        boolean droppedByPolicy = eventType.equals("drop") && (reason == POLICY_DENIED || reason == POLICY_DENY);
        if (!droppedByPolicy && !eventType.equals("policy-verdict")) {
            return;
        }
        String match;
        if (verdict == Verdict.DROPPED) {
            // A deny rule is a rule that matched; a default deny is the absence of any.
            match = reason == POLICY_DENY ? "l3-l4" : "none";
        } else {
            match = flow.getPolicy().getName().isEmpty() ? "all" : "l3-l4";
        }
        policyVerdicts.get(new PolicyVerdict(flow.getTrafficDirection(), match, verdict)).inc();
    }

    private void recordTcpFlags(Flow flow) {
        // As Hubble: without an IP header there is no family to name.
        if (flow.getL4().getProtocolCase() != Layer4.ProtocolCase.TCP || !flow.hasIP()) {
            return;
        }
        TCPFlags flags = flow.getL4().getTCP().getFlags();
        String family = family(flow.getIP());
        if (flags.getFIN()) {
            tcpFlags.get(new TcpFlag("FIN", family)).inc();
        }
        if (flags.getSYN()) {
            tcpFlags.get(new TcpFlag(flags.getACK() ? "SYN-ACK" : "SYN", family)).inc();
        }
        if (flags.getRST()) {
            tcpFlags.get(new TcpFlag("RST", family)).inc();
        }
    }

    private void recordHttp(Flow flow) {
        HTTP http = flow.getL7().getHttp();
        String reporter = switch (flow.getTrafficDirection()) {
            case INGRESS -> "server";
            case EGRESS -> "client";
            default -> "unknown";
        };
        boolean response = switch (flow.getL7().getType()) {
            case REQUEST -> false;
            case RESPONSE -> true;
            default -> http.getCode() != 0;
        };
        // As Hubble: a response's parties are named the other way round, so that both halves of a call share labels.
        List<String> context = httpContext.of(flow, response);
        if (httpV2) {
            if (response) {
                httpRequests.get(new HttpRequest(context, http.getMethod(), http.getProtocol(), Integer.toUnsignedString(http.getCode()),
                        reporter)).inc();
                httpDurations.get(new HttpDuration(context, http.getMethod(), reporter)).observe(flow.getL7().getLatencyNs() / 1e9);
            }
        } else if (!response) {
            httpRequests.get(new HttpRequest(context, http.getMethod(), http.getProtocol(), "", reporter)).inc();
        } else {
            httpResponses.get(new HttpResponse(context, http.getMethod(), http.getCode(), reporter)).inc();
            httpDurations.get(new HttpDuration(context, http.getMethod(), reporter)).observe(flow.getL7().getLatencyNs() / 1e9);
        }
    }

    /** Hubble's name for the event type; event types Hubble does not know keep their own. */
    private static String typeName(String eventType) {
        return switch (eventType) {
            case "drop" -> "Drop";
            case "trace" -> "Trace";
            case "policy-verdict" -> "PolicyVerdict";
            case "l7" -> "L7";
            case "trace-sock" -> "SockTrace";
            default -> eventType;
        };
    }

    private static String protocolName(Layer4.ProtocolCase protocol) {
        // Exhaustive on purpose: a protocol added to Layer4 should get its own label, not fall into Unknown.
        return switch (protocol) {
            case TCP -> "TCP";
            case UDP -> "UDP";
            case ICMPV4 -> "ICMPv4";
            case SCTP -> "SCTP";
            case PROTOCOL_NOT_SET -> "Unknown";
        };
    }

    /** The flow carries addresses as text; only IPv6 ones contain a colon. */
    private static String family(IP ip) {
        return ip.getSource().indexOf(':') >= 0 || ip.getDestination().indexOf(':') >= 0 ? "IPv6" : "IPv4";
    }

    private static String lower(String name) {
        return name.toLowerCase(Locale.ROOT);
    }
}
