package dev.sluice.observe.cli;

import com.google.protobuf.Timestamp;
import dev.sluice.observe.FlowFormat;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.FlowFilter;
import dev.sluice.observe.v1.GetFlowsRequest;
import dev.sluice.observe.v1.GetFlowsResponse;
import dev.sluice.observe.v1.ObserverGrpc;
import dev.sluice.observe.v1.Verdict;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.time.Clock;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/** {@code sluice observe}: flows from a node's Observer API, with {@code hubble observe}'s flags and output. */
@Command(name = "observe", mixinStandardHelpOptions = true,
        description = "Show flows from a node's flow ring, as hubble observe does.")
public final class ObserveCommand implements Callable<Integer> {
    /** Where the agent serves the Observer API, as Cilium's agent serves Hubble's. */
    public static final String DEFAULT_SERVER = "unix:///var/run/sluice/hubble.sock";

    public enum Output { compact, json, table }

    @Spec
    private CommandSpec spec;

    @Option(names = "--server", description = "unix:///PATH or HOST:PORT (default: ${DEFAULT-VALUE})")
    private String server = DEFAULT_SERVER;
    @Option(names = {"-f", "--follow"}, description = "Keep printing flows as they arrive.")
    private boolean follow;
    @Option(names = "--last", paramLabel = "N", description = "The last N matching flows (default 20, or all with --since/--until).")
    private long last;
    @Option(names = "--since", paramLabel = "DURATION|TIME", description = "Flows since a time ago (5m, 1h30m) or an RFC 3339 time.")
    private String since;
    @Option(names = "--until", paramLabel = "DURATION|TIME", description = "Flows until a time ago or an RFC 3339 time.")
    private String until;
    @Option(names = "--from-pod", paramLabel = "[NS/]POD", description = "Source pod name prefix.")
    private List<String> fromPods = new ArrayList<>();
    @Option(names = "--to-pod", paramLabel = "[NS/]POD", description = "Destination pod name prefix.")
    private List<String> toPods = new ArrayList<>();
    @Option(names = "--pod", paramLabel = "[NS/]POD", description = "Pod name prefix on either side.")
    private List<String> pods = new ArrayList<>();
    @Option(names = "--from-label", paramLabel = "K=V", description = "Source label selector.")
    private List<String> fromLabels = new ArrayList<>();
    @Option(names = "--to-label", paramLabel = "K=V", description = "Destination label selector.")
    private List<String> toLabels = new ArrayList<>();
    @Option(names = "--from-service", paramLabel = "[NS/]SVC", description = "Source service name prefix.")
    private List<String> fromServices = new ArrayList<>();
    @Option(names = "--to-service", paramLabel = "[NS/]SVC", description = "Destination service name prefix.")
    private List<String> toServices = new ArrayList<>();
    @Option(names = {"-n", "--namespace"}, paramLabel = "NS",
            description = "Namespace of pods and services given without one; alone, flows from or to the namespace.")
    private List<String> namespaces = new ArrayList<>();
    @Option(names = "--verdict", description = "FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, TRACED or TRANSLATED.")
    private List<String> verdicts = new ArrayList<>();
    @Option(names = "--drop-reason", paramLabel = "DESC", description = "Drop reason, e.g. \"Policy denied\".")
    private List<String> dropReasons = new ArrayList<>();
    @Option(names = "--protocol", description = "tcp, udp, icmp or http.")
    private List<String> protocols = new ArrayList<>();
    @Option(names = "--port", description = "L4 port on either side.")
    private List<String> ports = new ArrayList<>();
    @Option(names = "--http-status", paramLabel = "CODE", description = "HTTP status code or prefix (404, 5+).")
    private List<String> httpStatuses = new ArrayList<>();
    @Option(names = "--http-method", paramLabel = "METHOD")
    private List<String> httpMethods = new ArrayList<>();
    @Option(names = "--http-path", paramLabel = "REGEX")
    private List<String> httpPaths = new ArrayList<>();
    @Option(names = "--node", paramLabel = "NAME", description = "Node name; * matches anything.")
    private List<String> nodes = new ArrayList<>();
    @Option(names = {"-o", "--output"}, description = "compact, json or table (default: ${DEFAULT-VALUE})")
    private Output output = Output.compact;

    private final FlowFormat format;
    private final Clock clock;

    public ObserveCommand() {
        this(ZoneId.systemDefault(), Clock.systemUTC());
    }

    /** @param zone the zone compact and table times print in; @param clock what "5m ago" counts back from */
    public ObserveCommand(ZoneId zone, Clock clock) {
        this.format = new FlowFormat(zone);
        this.clock = clock;
    }

    @Override
    public Integer call() {
        GetFlowsRequest request = request();
        PrintWriter out = spec.commandLine().getOut();
        ManagedChannel channel = Grpc.newChannelBuilder(target(server), InsecureChannelCredentials.create()).build();
        try {
            Iterator<GetFlowsResponse> responses = ObserverGrpc.newBlockingStub(channel).getFlows(request);
            List<Flow> tableRows = new ArrayList<>();
            boolean headerPrinted = false;
            while (responses.hasNext()) {
                Flow flow = responses.next().getFlow();
                switch (output) {
                    case compact -> out.println(format.compact(flow));
                    case json -> out.println(FlowFormat.json(flow));
                    case table -> {
                        if (follow) {
                            // Rows cannot wait for the widest cell of a stream with no end; each is aligned alone.
                            List<String> lines = format.table(List.of(flow));
                            lines.subList(headerPrinted ? 1 : 0, lines.size()).forEach(out::println);
                            headerPrinted = true;
                        } else {
                            tableRows.add(flow);
                        }
                    }
                }
                out.flush();
            }
            if (output == Output.table && !follow) {
                format.table(tableRows).forEach(out::println);
            }
            out.flush();
            return 0;
        } catch (StatusRuntimeException e) {
            spec.commandLine().getErr().println("observe: " + server + ": " + e.getStatus().getCode()
                    + (e.getStatus().getDescription() == null ? "" : ": " + e.getStatus().getDescription()));
            return 1;
        } finally {
            channel.shutdownNow();
            try {
                channel.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** grpc-java resolves {@code unix:///path} itself; a bare HOST:PORT needs the dns scheme spelled out. */
    private static String target(String server) {
        return server.startsWith("unix:") || server.contains("://") ? server : "dns:///" + server;
    }

    GetFlowsRequest request() {
        GetFlowsRequest.Builder request = GetFlowsRequest.newBuilder().setNumber(last).setFollow(follow);
        if (since != null) {
            request.setSince(time("--since", since));
        }
        if (until != null) {
            request.setUntil(time("--until", until));
        }
        FlowFilter filter = filter();
        if (!filter.equals(FlowFilter.getDefaultInstance())) {
            request.addWhitelist(filter);
        }
        return request.build();
    }

    /** One allow filter: flags of different kinds must all match, repeated flags of one kind are alternatives. */
    private FlowFilter filter() {
        boolean namesSomething = !(fromPods.isEmpty() && toPods.isEmpty() && pods.isEmpty()
                && fromServices.isEmpty() && toServices.isEmpty());
        FlowFilter.Builder filter = FlowFilter.newBuilder()
                .addAllSourcePod(qualified(fromPods))
                .addAllDestinationPod(qualified(toPods))
                .addAllPod(qualified(pods))
                .addAllSourceService(qualified(fromServices))
                .addAllDestinationService(qualified(toServices))
                .addAllSourceLabel(fromLabels)
                .addAllDestinationLabel(toLabels)
                .addAllVerdict(verdicts())
                .addAllDropReasonDesc(dropReasons)
                .addAllProtocol(protocols)
                .addAllPort(ports)
                .addAllHttpStatusCode(httpStatuses)
                .addAllHttpMethod(httpMethods)
                .addAllHttpPath(httpPaths)
                .addAllNodeName(nodes);
        if (!namesSomething) {
            filter.addAllNamespace(namespaces);
        }
        return filter.build();
    }

    private List<Verdict> verdicts() {
        List<Verdict> parsed = new ArrayList<>();
        for (String verdict : verdicts) {
            parsed.add(Arrays.stream(Verdict.values())
                    .filter(v -> v != Verdict.VERDICT_UNKNOWN && v != Verdict.UNRECOGNIZED && v.name().equalsIgnoreCase(verdict))
                    .findFirst()
                    .orElseThrow(() -> usage("--verdict: unknown verdict \"" + verdict + "\"")));
        }
        return parsed;
    }

    private Timestamp time(String option, String value) {
        try {
            return TimeArgument.parse(value, clock);
        } catch (IllegalArgumentException e) {
            throw usage(option + ": " + e.getMessage());
        }
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    /** Hubble's rule: a pod or service given without a namespace is in --namespace, or else in "default". */
    private List<String> qualified(List<String> names) {
        List<String> inNamespaces = namespaces.isEmpty() ? List.of("default") : namespaces;
        List<String> qualified = new ArrayList<>();
        for (String name : names) {
            if (name.contains("/")) {
                qualified.add(name);
            } else {
                inNamespaces.forEach(namespace -> qualified.add(namespace + "/" + name));
            }
        }
        return qualified;
    }
}
