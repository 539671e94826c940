package dev.sluice.observe.cli;

import com.google.protobuf.Timestamp;
import dev.sluice.observe.FlowFormat;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.FlowFilter;
import dev.sluice.observe.v1.GetFlowsRequest;
import dev.sluice.hubble.observer.ObserverGrpc;
import dev.sluice.observe.hubble.DropReasonNames;
import dev.sluice.observe.hubble.HubbleFilters;
import dev.sluice.observe.hubble.HubbleFlows;
import dev.sluice.observe.v1.TrafficDirection;
import dev.sluice.observe.v1.Verdict;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import picocli.CommandLine.Command;
import picocli.CommandLine.IParameterConsumer;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.time.Clock;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Stack;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * {@code sluice observe}: flows from the Observer API of one node or of several at once (a relay view: their
 * flows merged in time order, each line naming its node), with {@code hubble observe}'s flags and output.
 */
@Command(name = "observe",
        description = "Show flows from the nodes' flow rings, as hubble observe does.")
public class ObserveCommand implements Callable<Integer> {
    /** How long a followed flow waits for an older one from another node before it is printed (Hubble Relay's sort window). */
    private static final long SORT_WINDOW_NS = 100_000_000L;
    /**
     * grpc-java sets SO_KEEPALIVE on every Netty channel and Netty warns that a unix socket has no such option;
     * held here because java.util.logging keeps loggers only weakly.
     */
    private static final java.util.logging.Logger NETTY_BOOTSTRAP = quiet("io.grpc.netty.shaded.io.netty.bootstrap");

    private static java.util.logging.Logger quiet(String name) {
        java.util.logging.Logger logger = java.util.logging.Logger.getLogger(name);
        logger.setLevel(java.util.logging.Level.SEVERE);
        return logger;
    }

    /** Where the agent serves the Observer API, as Cilium's agent serves Hubble's. */
    public static final String DEFAULT_SERVER = "unix:///var/run/sluice/hubble.sock";

    public enum Output { compact, dict, json, table }

    @Spec
    private CommandSpec spec;
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    private boolean help;

    @Option(names = "--server", paramLabel = "unix:///PATH|HOST:PORT",
            description = "An Observer API to read; repeat it to merge several nodes (default: every node of the lab, or "
                    + DEFAULT_SERVER + ").")
    private List<String> servers = new ArrayList<>();
    @Option(names = "--print-node-name", description = "Name the node on each line (always on with several nodes).")
    private boolean printNodeName;
    @Option(names = {"-f", "--follow"}, description = "Keep printing flows as they arrive.")
    private boolean follow;
    @Option(names = "--last", paramLabel = "N", description = "The last N matching flows (default 20, or all with --since/--until).")
    private long last;
    @Option(names = "--since", paramLabel = "DURATION|TIME", description = "Flows since a time ago (5m, 1h30m) or an RFC 3339 time.")
    private String since;
    @Option(names = "--until", paramLabel = "DURATION|TIME", description = "Flows until a time ago or an RFC 3339 time.")
    private String until;
    /** The filter flags given as such: the allow filter. */
    @Mixin
    private final Terms allow = new Terms();
    /** The filter flags given after --not: the deny filter. */
    private final Terms deny = new Terms();

    @Option(names = "--not", arity = "0", parameterConsumer = Negation.class,
            description = {"Negate the filter flag that follows: flows it matches are left out (e.g. --not --namespace kube-system).",
                    "Several --not flags make one deny filter, as in hubble observe: a flow is left out when it matches all of them."})
    private boolean not;

    /** Every filter flag; repeated, its values are alternatives. */
    static final class Terms {
        @Option(names = "--from-pod", paramLabel = "[NS/]POD", description = "Source pod name prefix.")
        final List<String> fromPods = new ArrayList<>();
        @Option(names = "--to-pod", paramLabel = "[NS/]POD", description = "Destination pod name prefix.")
        final List<String> toPods = new ArrayList<>();
        @Option(names = "--pod", paramLabel = "[NS/]POD", description = "Pod name prefix on either side.")
        final List<String> pods = new ArrayList<>();
        @Option(names = "--from-label", paramLabel = "K=V", description = "Source label selector.")
        final List<String> fromLabels = new ArrayList<>();
        @Option(names = "--to-label", paramLabel = "K=V", description = "Destination label selector.")
        final List<String> toLabels = new ArrayList<>();
        @Option(names = "--from-service", paramLabel = "[NS/]SVC", description = "Source service name prefix.")
        final List<String> fromServices = new ArrayList<>();
        @Option(names = "--to-service", paramLabel = "[NS/]SVC", description = "Destination service name prefix.")
        final List<String> toServices = new ArrayList<>();
        @Option(names = {"-n", "--namespace"}, paramLabel = "NS",
                description = "Namespace of pods and services given without one; alone, flows from or to the namespace.")
        final List<String> namespaces = new ArrayList<>();
        @Option(names = "--verdict", paramLabel = "VERDICT", description = "FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, TRACED or TRANSLATED.")
        final List<String> verdicts = new ArrayList<>();
        @Option(names = {"--drop-reason", "--drop-reason-desc"}, paramLabel = "DESC",
                description = "Drop reason: its text (\"Policy denied\"), Hubble's name (POLICY_DENIED) or its code.")
        final List<String> dropReasons = new ArrayList<>();
        @Option(names = "--protocol", paramLabel = "PROTO", description = "tcp, udp, icmp, http or dns (the cluster DNS server's query and answer flows).")
        final List<String> protocols = new ArrayList<>();
        @Option(names = "--port", paramLabel = "PORT", description = "L4 port on either side.")
        final List<String> ports = new ArrayList<>();
        @Option(names = "--http-status", paramLabel = "CODE", description = "HTTP status code or prefix (404, 5+).")
        final List<String> httpStatuses = new ArrayList<>();
        @Option(names = "--http-method", paramLabel = "METHOD")
        final List<String> httpMethods = new ArrayList<>();
        @Option(names = "--http-path", paramLabel = "REGEX")
        final List<String> httpPaths = new ArrayList<>();
        @Option(names = "--node", paramLabel = "NAME", description = "Node name; * matches anything.")
        final List<String> nodes = new ArrayList<>();
        @Option(names = {"-t", "--type"}, paramLabel = "TYPE", description = "Event type: drop, trace, policy-verdict, trace-sock or l7.")
        final List<String> types = new ArrayList<>();
        @Option(names = "--from-ip", paramLabel = "IP|CIDR", description = "Source address, or a prefix (10.244.1.0/24).")
        final List<String> fromIps = new ArrayList<>();
        @Option(names = "--to-ip", paramLabel = "IP|CIDR", description = "Destination address, or a prefix.")
        final List<String> toIps = new ArrayList<>();
        @Option(names = "--ip", paramLabel = "IP|CIDR", description = "Address or prefix on either side.")
        final List<String> ips = new ArrayList<>();
        @Option(names = "--from-identity", paramLabel = "ID", description = "Source security identity.")
        final List<String> fromIdentities = new ArrayList<>();
        @Option(names = "--to-identity", paramLabel = "ID", description = "Destination security identity.")
        final List<String> toIdentities = new ArrayList<>();
        @Option(names = "--identity", paramLabel = "ID", description = "Security identity on either side.")
        final List<String> identities = new ArrayList<>();
        @Option(names = "--traffic-direction", paramLabel = "ingress|egress", description = "The connection's direction at the endpoint.")
        final List<String> directions = new ArrayList<>();
    }

    /**
     * --not takes the filter flag after it (and that flag's value) for the deny filter, as hubble observe
     * does; the flag is read with the same definitions as the allow filter's.
     */
    static final class Negation implements IParameterConsumer {
        @Override
        public void consumeParameters(Stack<String> args, ArgSpec argSpec, CommandSpec commandSpec) {
            ObserveCommand command = commandSpec.commandLine().getCommand();
            if (args.isEmpty()) {
                throw new ParameterException(commandSpec.commandLine(), "--not must be followed by a filter flag");
            }
            String flag = args.pop();
            String value = null;
            int eq = flag.indexOf('=');
            if (eq > 0) {
                value = flag.substring(eq + 1);
                flag = flag.substring(0, eq);
            }
            OptionSpec option = CommandSpec.forAnnotatedObject(command.deny).findOption(flag);
            if (option == null) {
                throw new ParameterException(commandSpec.commandLine(), "--not: " + flag + " is not a filter flag");
            }
            if (value == null) {
                if (args.isEmpty()) {
                    throw new ParameterException(commandSpec.commandLine(), "--not " + flag + ": a value is missing");
                }
                value = args.pop();
            }
            List<String> values = option.getValue();
            values.add(value);
        }
    }

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "compact, dict, json or table (default: ${DEFAULT-VALUE})")
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

    /** The command's spec, for subclasses that report on its streams. */
    protected CommandSpec spec() {
        return spec;
    }

    /** Whether the default server is a relay over several nodes: lines name their node, as with several servers. */
    protected boolean relayView() {
        return false;
    }

    /** The servers read when no --server is given. */
    protected List<String> defaultServers() {
        return List.of(DEFAULT_SERVER);
    }

    @Override
    public Integer call() {
        dev.sluice.hubble.observer.GetFlowsRequest request = hubbleRequest();
        List<String> targets = servers.isEmpty() ? defaultServers() : servers;
        boolean nodeNames = printNodeName || targets.size() > 1 || relayView();
        Printer printer = new Printer(spec.commandLine().getOut(), nodeNames);
        List<ManagedChannel> channels = new ArrayList<>();
        try {
            if (targets.size() == 1) {
                ManagedChannel channel = channel(targets.getFirst(), channels);
                Iterator<dev.sluice.hubble.observer.GetFlowsResponse> responses = ObserverGrpc.newBlockingStub(channel).getFlows(request);
                while (responses.hasNext()) {
                    var response = responses.next();
                    if (response.hasFlow()) {
                        printer.print(HubbleFlows.fromHubble(response.getFlow()));
                    } else if (response.hasNodeStatus()) {
                        nodeStatus(response.getNodeStatus());
                    }
                }
                printer.finish();
                return 0;
            }
            return follow ? relayFollowing(request, targets, channels, printer) : relayOnce(request, targets, channels, printer);
        } catch (StatusRuntimeException e) {
            failed(targets.getFirst(), e);
            return 1;
        } finally {
            for (ManagedChannel channel : channels) {
                channel.shutdownNow();
                try {
                    channel.awaitTermination(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private static ManagedChannel channel(String target, List<ManagedChannel> channels) {
        ManagedChannel channel = Grpc.newChannelBuilder(target(target), InsecureChannelCredentials.create()).build();
        channels.add(channel);
        return channel;
    }

    private void failed(String server, StatusRuntimeException e) {
        spec.commandLine().getErr().println("observe: " + server + ": " + e.getStatus().getCode()
                + (e.getStatus().getDescription() == null ? "" : ": " + e.getStatus().getDescription()));
    }

    /** Every node's matching flows, merged in time order, then the last N of them (N as one node would count it). */
    private int relayOnce(dev.sluice.hubble.observer.GetFlowsRequest request, List<String> targets, List<ManagedChannel> channels, Printer printer) {
        List<Flow> flows = new ArrayList<>();
        int failures = 0;
        for (String target : targets) {
            try {
                ObserverGrpc.newBlockingStub(channel(target, channels)).getFlows(request)
                        .forEachRemaining(r -> {
                            if (r.hasFlow()) {
                                flows.add(HubbleFlows.fromHubble(r.getFlow()));
                            }
                        });
            } catch (StatusRuntimeException e) {
                failed(target, e); // as Hubble Relay: the other nodes' flows are still shown
                failures++;
            }
        }
        flows.sort(Comparator.comparing(ObserveCommand::nanos));
        long number = request.getNumber() > 0 ? request.getNumber()
                : request.hasSince() || request.hasUntil() ? Long.MAX_VALUE : 20;
        flows.subList(0, (int) Math.max(0, flows.size() - Math.min(number, flows.size()))).clear();
        flows.forEach(printer::print);
        printer.finish();
        return failures == targets.size() ? 1 : 0;
    }

    /** Every node's stream at once; flows wait a short window so that lines from several nodes print in time order. */
    private int relayFollowing(dev.sluice.hubble.observer.GetFlowsRequest request, List<String> targets, List<ManagedChannel> channels, Printer printer) {
        record Arrival(Flow flow, long at) {}
        java.util.concurrent.BlockingQueue<Object> queue = new java.util.concurrent.LinkedBlockingQueue<>();
        Object ended = new Object();
        for (String target : targets) {
            ManagedChannel channel = channel(target, channels);
            Thread.ofPlatform().daemon().name("observe-" + target).start(() -> {
                try {
                    ObserverGrpc.newBlockingStub(channel).getFlows(request)
                            .forEachRemaining(r -> {
                                if (r.hasFlow()) {
                                    queue.add(new Arrival(HubbleFlows.fromHubble(r.getFlow()), System.nanoTime()));
                                }
                            });
                } catch (StatusRuntimeException e) {
                    if (!channel.isShutdown()) {
                        failed(target, e);
                    }
                } finally {
                    queue.add(ended);
                }
            });
        }
        java.util.PriorityQueue<Arrival> window = new java.util.PriorityQueue<>(Comparator.comparing((Arrival a) -> nanos(a.flow())));
        int open = targets.size();
        try {
            while (open > 0 || !window.isEmpty()) {
                Object next = open > 0 ? queue.poll(SORT_WINDOW_NS / 4, TimeUnit.NANOSECONDS) : null;
                if (next == ended) {
                    open--;
                } else if (next instanceof Arrival a) {
                    window.add(a);
                }
                long now = System.nanoTime();
                while (!window.isEmpty() && (open == 0 || now - window.peek().at() >= SORT_WINDOW_NS)) {
                    printer.print(window.poll().flow());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        printer.finish();
        return 0;
    }

    private static long nanos(Flow flow) {
        return flow.getTime().getSeconds() * 1_000_000_000L + flow.getTime().getNanos();
    }

    /** Prints flows in the chosen output; a table without --follow waits for every row to size its columns. */
    private final class Printer {
        private final PrintWriter out;
        private final boolean nodeNames;
        private final List<Flow> tableRows = new ArrayList<>();
        private boolean headerPrinted;

        Printer(PrintWriter out, boolean nodeNames) {
            this.out = out;
            this.nodeNames = nodeNames;
        }

        void print(Flow flow) {
            switch (output) {
                case compact -> out.println(format.compact(flow, nodeNames));
                case json -> out.println(FlowFormat.json(flow));
                case dict -> format.dict(flow, nodeNames).forEach(out::println);
                case table -> {
                    if (follow) {
                        // Rows cannot wait for the widest cell of a stream with no end; each is aligned alone.
                        List<String> lines = format.table(List.of(flow), nodeNames);
                        lines.subList(headerPrinted ? 1 : 0, lines.size()).forEach(out::println);
                        headerPrinted = true;
                    } else {
                        tableRows.add(flow);
                    }
                }
            }
            out.flush();
        }

        void finish() {
            if (output == Output.table && !follow) {
                format.table(tableRows, nodeNames).forEach(out::println);
            }
            out.flush();
        }
    }

    /** grpc-java resolves {@code unix:///path} itself; a bare HOST:PORT needs the dns scheme spelled out. */
    private static String target(String server) {
        return server.startsWith("unix:") || server.contains("://") ? server : "dns:///" + server;
    }

    /** A relay's word on its nodes (one became unavailable, or came back), on stderr as Hubble's CLI says it. */
    private void nodeStatus(dev.sluice.hubble.relay.NodeStatusEvent event) {
        // Every stream starts by naming the nodes that answered: only a node that went, and its return, are news.
        List<String> news = event.getNodeNamesList().stream().filter(n -> event.getStateChange() == dev.sluice.hubble.relay.NodeState.NODE_CONNECTED
                ? unavailableNodes.remove(n) : unavailableNodes.add(n)).toList();
        if (!news.isEmpty()) {
            spec.commandLine().getErr().println("observe: " + event.getStateChange() + " " + String.join(", ", news)
                    + (event.getMessage().isEmpty() ? "" : ": " + event.getMessage()));
            spec.commandLine().getErr().flush();
        }
    }

    private final java.util.Set<String> unavailableNodes = new java.util.HashSet<>();

    /** The request on the wire: Hubble's, its filters made from Sluice's (HubbleFilters). */
    dev.sluice.hubble.observer.GetFlowsRequest hubbleRequest() {
        GetFlowsRequest sluice = request();
        var request = dev.sluice.hubble.observer.GetFlowsRequest.newBuilder().setNumber(sluice.getNumber())
                .setFollow(sluice.getFollow());
        if (sluice.hasSince()) {
            request.setSince(sluice.getSince());
        }
        if (sluice.hasUntil()) {
            request.setUntil(sluice.getUntil());
        }
        try {
            List<dev.sluice.hubble.flow.FlowFilter> allowed = HubbleFilters.toHubble(sluice.getWhitelistList());
            if (!sluice.getWhitelistList().isEmpty() && allowed.isEmpty()) {
                throw usage("the filter flags given can match no flow together");
            }
            request.addAllWhitelist(allowed).addAllBlacklist(HubbleFilters.toHubble(sluice.getBlacklistList()));
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        return request.build();
    }

    GetFlowsRequest request() {
        GetFlowsRequest.Builder request = GetFlowsRequest.newBuilder().setNumber(last).setFollow(follow);
        if (since != null) {
            request.setSince(time("--since", since));
        }
        if (until != null) {
            request.setUntil(time("--until", until));
        }
        FlowFilter filter = filter(allow);
        if (!filter.equals(FlowFilter.getDefaultInstance())) {
            request.addWhitelist(filter);
        }
        FlowFilter excluded = filter(deny);
        if (!excluded.equals(FlowFilter.getDefaultInstance())) {
            request.addBlacklist(excluded);
        }
        return request.build();
    }

    /** A filter: flags of different kinds must all match, repeated flags of one kind are alternatives. */
    private FlowFilter filter(Terms t) {
        boolean namesSomething = !(t.fromPods.isEmpty() && t.toPods.isEmpty() && t.pods.isEmpty()
                && t.fromServices.isEmpty() && t.toServices.isEmpty());
        FlowFilter.Builder filter = FlowFilter.newBuilder()
                .addAllSourcePod(qualified(t.fromPods))
                .addAllDestinationPod(qualified(t.toPods))
                .addAllPod(qualified(t.pods))
                .addAllSourceService(qualified(t.fromServices))
                .addAllDestinationService(qualified(t.toServices))
                .addAllSourceLabel(t.fromLabels)
                .addAllDestinationLabel(t.toLabels)
                .addAllVerdict(verdicts(t.verdicts))
                .addAllDropReason(dropReasons(t.dropReasons))
                .addAllProtocol(t.protocols)
                .addAllPort(t.ports)
                .addAllHttpStatusCode(t.httpStatuses)
                .addAllHttpMethod(t.httpMethods)
                .addAllHttpPath(t.httpPaths)
                .addAllNodeName(t.nodes)
                .addAllEventType(t.types)
                .addAllSourceIp(cidrs("--from-ip", t.fromIps))
                .addAllDestinationIp(cidrs("--to-ip", t.toIps))
                .addAllIp(cidrs("--ip", t.ips))
                .addAllSourceIdentity(identities("--from-identity", t.fromIdentities))
                .addAllDestinationIdentity(identities("--to-identity", t.toIdentities))
                .addAllIdentity(identities("--identity", t.identities))
                .addAllTrafficDirection(directions(t.directions));
        // A namespace alone filters; beside pods or services it only qualifies their names (in the allow filter).
        if (!namesSomething || t == deny) {
            filter.addAllNamespace(t.namespaces);
        }
        return filter.build();
    }

    private List<Integer> dropReasons(List<String> values) {
        List<Integer> codes = new ArrayList<>();
        for (String value : values) {
            try {
                codes.add(DropReasonNames.code(value));
            } catch (IllegalArgumentException e) {
                throw usage("--drop-reason: " + e.getMessage());
            }
        }
        return codes;
    }

    private List<TrafficDirection> directions(List<String> values) {
        List<TrafficDirection> parsed = new ArrayList<>();
        for (String v : values) {
            parsed.add(switch (v.toLowerCase(java.util.Locale.ROOT)) {
                case "ingress" -> TrafficDirection.INGRESS;
                case "egress" -> TrafficDirection.EGRESS;
                default -> throw usage("--traffic-direction: must be ingress or egress, got \"" + v + "\"");
            });
        }
        return parsed;
    }

    /** Addresses or prefixes, checked here so that a typo is a usage error and not a server error. */
    private List<String> cidrs(String option, List<String> values) {
        for (String value : values) {
            try {
                if (dev.sluice.observe.FlowFilters.parseCidr6(value) == null) {
                    dev.sluice.observe.FlowFilters.parseCidr(value);
                }
            } catch (IllegalArgumentException e) {
                throw usage(option + ": " + e.getMessage());
            }
        }
        return values;
    }

    private List<Integer> identities(String option, List<String> values) {
        List<Integer> parsed = new ArrayList<>();
        for (String value : values) {
            try {
                parsed.add(Integer.parseUnsignedInt(value));
            } catch (NumberFormatException e) {
                throw usage(option + ": not an identity number: \"" + value + "\"");
            }
        }
        return parsed;
    }

    private List<Verdict> verdicts(List<String> values) {
        List<Verdict> parsed = new ArrayList<>();
        for (String verdict : values) {
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
        List<String> inNamespaces = allow.namespaces.isEmpty() ? List.of("default") : allow.namespaces;
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
