package dev.sluice.observe.metrics;

import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Flow;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;

/**
 * Hubble's context options of a metric ({@code http:sourceContext=workload-name|reserved-identity;destinationContext=pod;
 * labelsContext=source_namespace,destination_namespace}): the labels that name a flow's parties. {@code sourceContext}
 * and {@code destinationContext} add a {@code source} and a {@code destination} label, valued by the first of the
 * {@code |}-separated contexts that is not empty for the endpoint; {@code labelsContext} adds one label per name.
 * Other options (exemplars) have nothing to do here. Values Sluice does not know are left out and reported.
 *
 * @param labelNames the extra label names, in order
 */
record ContextOptions(List<String> labelNames, List<Function<Flow, String>> values) {
    static final ContextOptions NONE = new ContextOptions(List.of(), List.of());

    private static final Set<String> CONTEXTS = Set.of("identity", "namespace", "pod", "pod-name", "pod-short", "workload",
            "workload-name", "app", "reserved-identity", "ip");
    private static final List<String> LABELS = List.of("source_ip", "source_namespace", "source_pod", "source_workload",
            "source_workload_kind", "source_app", "destination_ip", "destination_namespace", "destination_pod",
            "destination_workload", "destination_workload_kind", "destination_app", "traffic_direction");

    /**
     * @param entry    a {@code hubble.metrics.enabled} entry, options after the colon
     * @param problems where options Sluice cannot honour are reported (the metric keeps the others)
     */
    static ContextOptions parse(String entry, List<String> problems) {
        int colon = entry.indexOf(':');
        if (colon < 0) {
            return NONE;
        }
        List<String> names = new ArrayList<>();
        List<Function<Flow, String>> values = new ArrayList<>();
        for (String option : entry.substring(colon + 1).split(";")) {
            String o = option.strip();
            if (o.isEmpty()) {
                continue;
            }
            int eq = o.indexOf('=');
            String key = eq < 0 ? o : o.substring(0, eq).strip();
            String value = eq < 0 ? "" : o.substring(eq + 1).strip();
            switch (key) {
                case "sourceContext", "destinationContext" -> {
                    boolean source = key.equals("sourceContext");
                    List<String> chosen = new ArrayList<>();
                    for (String c : value.split("\\|")) {
                        String context = c.strip().toLowerCase(Locale.ROOT);
                        if (CONTEXTS.contains(context)) {
                            chosen.add(context);
                        } else if (!context.isEmpty()) {
                            problems.add(entry + ": " + key + " \"" + context + "\" is not one Sluice has (" + String.join(", ",
                                    CONTEXTS.stream().sorted().toList()) + "); left out");
                        }
                    }
                    if (!chosen.isEmpty()) {
                        names.add(source ? "source" : "destination");
                        values.add(flow -> {
                            Endpoint e = source ? flow.getSource() : flow.getDestination();
                            String ip = source ? flow.getIP().getSource() : flow.getIP().getDestination();
                            for (String context : chosen) {
                                String v = context(context, e, ip);
                                if (!v.isEmpty()) {
                                    return v;
                                }
                            }
                            return "";
                        });
                    }
                }
                case "labelsContext" -> {
                    for (String l : value.split(",")) {
                        String label = l.strip();
                        if (LABELS.contains(label)) {
                            names.add(label);
                            values.add(label(label));
                        } else if (!label.isEmpty()) {
                            problems.add(entry + ": labelsContext \"" + label + "\" is not one Sluice has; left out");
                        }
                    }
                }
                case "exemplars" -> { } // no tracing: nothing to attach
                default -> problems.add(entry + ": option \"" + key + "\" is not one Sluice has; ignored");
            }
        }
        return new ContextOptions(List.copyOf(names), List.copyOf(values));
    }

    /** The label values of a flow; with {@code invert}, its source and destination swapped (a response). */
    List<String> of(Flow flow, boolean invert) {
        if (values.isEmpty()) {
            return List.of();
        }
        Flow f = invert ? flow.toBuilder().setSource(flow.getDestination()).setDestination(flow.getSource())
                .setIP(flow.getIP().toBuilder().setSource(flow.getIP().getDestination()).setDestination(flow.getIP().getSource()))
                .build() : flow;
        List<String> out = new ArrayList<>(values.size());
        values.forEach(v -> out.add(v.apply(f)));
        return out;
    }

    private static String context(String context, Endpoint e, String ip) {
        return switch (context) {
            case "namespace" -> e.getNamespace();
            case "pod" -> e.getPodName().isEmpty() ? "" : e.getNamespace() + "/" + e.getPodName();
            case "pod-name", "pod-short" -> e.getPodName();
            case "workload" -> e.getWorkloadsCount() == 0 ? "" : e.getNamespace() + "/" + e.getWorkloads(0).getName();
            case "workload-name" -> e.getWorkloadsCount() == 0 ? "" : e.getWorkloads(0).getName();
            case "app" -> app(e);
            case "identity" -> e.getIdentity() == 0 ? "" : Integer.toString(e.getIdentity());
            case "reserved-identity" -> e.getIdentity() > 0 && e.getIdentity() < 256 ? "reserved:" + reserved(e.getIdentity()) : "";
            case "ip" -> ip;
            default -> "";
        };
    }

    private static Function<Flow, String> label(String label) {
        if (label.equals("traffic_direction")) {
            return flow -> switch (flow.getTrafficDirection()) {
                case INGRESS -> "ingress";
                case EGRESS -> "egress";
                default -> "unknown";
            };
        }
        boolean source = label.startsWith("source_");
        String what = label.substring(label.indexOf('_') + 1);
        return flow -> {
            Endpoint e = source ? flow.getSource() : flow.getDestination();
            return switch (what) {
                case "ip" -> source ? flow.getIP().getSource() : flow.getIP().getDestination();
                case "namespace" -> e.getNamespace();
                case "pod" -> e.getPodName();
                case "workload" -> e.getWorkloadsCount() == 0 ? "" : e.getWorkloads(0).getName();
                case "workload_kind" -> e.getWorkloadsCount() == 0 ? "" : e.getWorkloads(0).getKind();
                case "app" -> app(e);
                default -> "";
            };
        };
    }

    private static String app(Endpoint e) {
        for (String l : e.getLabelsList()) {
            String kv = l.substring(l.indexOf(':') + 1);
            if (kv.startsWith("app=") || kv.startsWith("app.kubernetes.io/name=")) {
                return kv.substring(kv.indexOf('=') + 1);
            }
        }
        return "";
    }

    private static String reserved(int identity) {
        return switch (identity) {
            case 1 -> "host";
            case 2 -> "world";
            case 3 -> "unmanaged";
            case 4 -> "health";
            case 5 -> "init";
            case 6 -> "remote-node";
            case 7 -> "kube-apiserver";
            case 8 -> "ingress";
            case 9 -> "world-ipv4";
            case 10 -> "world-ipv6";
            default -> Integer.toString(identity);
        };
    }
}
