package dev.sluice.workload.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.workload.EchoClient;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code sluice call}: calls an echo workload, each time over a new connection, and prints which pod answered. */
@Command(name = "call",
        mixinStandardHelpOptions = true,
        description = {"Call an echo workload COUNT times, each over a new connection, and print which pod answered.",
                "Exits 1 if any call failed."})
public final class CallCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    enum Output { text, json }

    static final class Kind {
        @Option(names = "--grpc", description = "Call sluice.echo.v1.Echo/Ping over h2c (the default).")
        boolean grpc;

        @Option(names = "--http", description = "GET (or --method) --path over HTTP/1.1.")
        boolean http;

        @Option(names = "--health", description = "Call grpc.health.v1.Health/Check; SERVING counts as success.")
        boolean health;
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @ArgGroup(exclusive = true)
    Kind kind = new Kind();

    @Option(names = "-n", paramLabel = "COUNT", defaultValue = "1", description = "Number of calls (default: 1).")
    int count;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "2s", converter = DurationConverter.class,
            description = "Limit for each call, connecting included (default: 2s).")
    Duration timeout;

    @Option(names = "--path", defaultValue = "/", description = "Path for --http (default: /).")
    String path;

    @Option(names = "--method", defaultValue = "GET", description = "Method for --http (default: GET), e.g. to see L7 policy deny a POST.")
    String method;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "text",
            description = "text, or json: one object per call and line (default: text).")
    Output output;

    @Option(names = "--same-connection", description = "gRPC calls over one HTTP/2 connection (one channel), instead of a new connection each.")
    boolean sameConnection;

    @Option(names = {"-H", "--header"}, paramLabel = "NAME:VALUE",
            description = "A request header (gRPC metadata) for every call, e.g. --header x-canary:true; repeatable.")
    List<String> headers = new ArrayList<>();

    @Parameters(paramLabel = "HOST:PORT", converter = HostPort.Converter.class, description = "The workload to call.")
    HostPort target;

    private Map<String, String> requestHeaders = Map.of();

    @Override
    public Integer call() {
        if (count < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "-n must be at least 1");
        }
        PrintWriter out = spec.commandLine().getOut();
        Map<String, String> sent = new LinkedHashMap<>();
        for (String h : headers) {
            int colon = h.indexOf(':');
            if (colon <= 0 || !h.substring(0, colon).matches("[A-Za-z0-9!#$%&'*+.^_`|~-]+")) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--header must be NAME:VALUE, got \"" + h + "\"");
            }
            sent.put(h.substring(0, colon).toLowerCase(java.util.Locale.ROOT), h.substring(colon + 1).strip());
        }
        requestHeaders = Map.copyOf(sent);
        if (sameConnection) {
            if (kind.http || kind.health) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--same-connection is for gRPC pings only");
            }
            boolean[] ok = {true};
            int[] call = {0};
            EchoClient.grpcPings(target.host(), target.port(), count, timeout, requestHeaders, (reply, error) -> {
                call[0]++;
                CallResult result = error == null ? CallResult.answered(call[0], reply) : CallResult.failed(call[0], error);
                ok[0] &= result.ok();
                out.println(output == Output.json ? json(result) : result.text());
            });
            out.flush();
            return ok[0] ? 0 : 1;
        }
        boolean allOk = true;
        for (int call = 1; call <= count; call++) {
            CallResult result = callOnce(call);
            allOk &= result.ok();
            out.println(output == Output.json ? json(result) : result.text());
            out.flush();
        }
        return allOk ? 0 : 1;
    }

    private CallResult callOnce(int call) {
        try {
            if (kind.health) {
                return CallResult.health(call, EchoClient.grpcHealth(target.host(), target.port(), timeout));
            }
            EchoClient.Reply reply = kind.http
                    ? EchoClient.http(target.host(), target.port(), method, path, timeout, requestHeaders)
                    : EchoClient.grpcPing(target.host(), target.port(), timeout, requestHeaders);
            return CallResult.answered(call, reply);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return CallResult.failed(call, e);
        } catch (IOException | RuntimeException e) {
            return CallResult.failed(call, e);
        }
    }

    private static String json(CallResult result) {
        try {
            return JSON.writeValueAsString(result);
        } catch (JsonProcessingException e) {
            // Records of strings always serialize; this would be a Jackson bug.
            throw new UncheckedIOException(e);
        }
    }
}
