package dev.sluice.workload.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.sluice.workload.echo.v1.CountRequest;
import dev.sluice.workload.echo.v1.EchoGrpc;
import dev.sluice.workload.echo.v1.Numbered;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code sluice stream}: one streaming gRPC call to an echo workload, a server stream ({@code Echo/Count}) or a
 * bidirectional one ({@code Echo/Chat}), checking that every message arrives once and in order. Sends only as fast
 * as the stream is ready, and reads as slowly as asked, so that a slow reader can be shown to hold the sender back.
 */
@Command(name = "stream", mixinStandardHelpOptions = true,
        description = {"One streaming gRPC call to an echo workload: --server N (Echo/Count: N messages from the server) "
                + "or --bidi N (Echo/Chat: N messages sent and echoed back). Prints what arrived, and whether in order.",
                "Exits 1 unless every message arrived once, in order, and the call ended OK."})
public final class StreamCommand implements java.util.concurrent.Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    static final class Kind {
        @Option(names = "--server", paramLabel = "N", description = "A server stream of N messages.")
        Integer server;

        @Option(names = "--bidi", paramLabel = "N", description = "A bidirectional stream: N messages sent, each echoed back.")
        Integer bidi;
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.ArgGroup(exclusive = true, multiplicity = "1")
    Kind kind;

    @Option(names = "--size", paramLabel = "BYTES", defaultValue = "100", description = "Payload of each message (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--read-delay", paramLabel = "DURATION", defaultValue = "0s", converter = DurationConverter.class,
            description = "Pause before asking for each next message (default: none): a slow reader.")
    Duration readDelay;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "120s", converter = DurationConverter.class,
            description = "Limit for the whole call (default: 120s).")
    Duration timeout;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "text", description = "text or json (default: text).")
    String output;

    @Parameters(paramLabel = "HOST:PORT", converter = HostPort.Converter.class, description = "The workload to call.")
    HostPort target;

    /** What arrived: counts, the first message out of order (-1: none), the pods that answered, how the call ended. */
    record StreamResult(String kind, long expected, long received, long firstOutOfOrder, Map<String, Long> pods, String status,
                        String message, long millis) {
        boolean ok() {
            return "OK".equals(status) && received == expected && firstOutOfOrder < 0;
        }
    }

    @Override
    public Integer call() throws Exception {
        if (size < 0 || size > 1024 * 1024) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--size must be within 0..1048576");
        }
        boolean bidi = kind.bidi != null;
        long n = bidi ? kind.bidi : kind.server;
        if (n < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "the message count must be >= 0");
        }
        ManagedChannel channel = Grpc.newChannelBuilderForAddress(target.host(), target.port(), InsecureChannelCredentials.create())
                .maxInboundMessageSize(2 * 1024 * 1024).build();
        try {
            StreamResult result = run(channel, bidi, n);
            PrintWriter out = spec.commandLine().getOut();
            out.println("json".equals(output) ? JSON.writeValueAsString(result)
                    : result.kind() + ": " + result.received() + " of " + result.expected() + " message(s)"
                    + (result.firstOutOfOrder() < 0 ? ", in order" : ", first out of order at " + result.firstOutOfOrder())
                    + ", from " + result.pods() + ", " + result.status() + (result.message().isEmpty() ? "" : " (" + result.message() + ")")
                    + ", " + result.millis() + " ms");
            out.flush();
            return result.ok() ? 0 : 1;
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private StreamResult run(ManagedChannel channel, boolean bidi, long n) throws Exception {
        long start = System.nanoTime();
        ByteString payload = ByteString.copyFrom(new byte[size]);
        CompletableFuture<Status> closed = new CompletableFuture<>();
        long[] received = {0};
        long[] outOfOrder = {-1};
        Map<String, Long> pods = new TreeMap<>();
        ClientCall.Listener<Numbered> listener = new ClientCall.Listener<>() {
            @Override
            public void onMessage(Numbered message) {
                if (message.getSeq() != received[0] && outOfOrder[0] < 0) {
                    outOfOrder[0] = received[0];
                }
                received[0]++;
                pods.merge(message.getPod(), 1L, Long::sum);
                pause();
                holder.get().request(1);
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
                closed.complete(status);
            }
        };
        CallOptions options = CallOptions.DEFAULT.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (bidi) {
            ClientCall<Numbered, Numbered> chat = channel.newCall(EchoGrpc.getChatMethod(), options);
            holder.set(chat);
            long[] sent = {0};
            chat.start(new ClientCall.Listener<>() {
                @Override
                public void onMessage(Numbered message) {
                    listener.onMessage(message);
                }

                @Override
                public void onReady() {
                    send(chat, sent, n, payload);
                }

                @Override
                public void onClose(Status status, Metadata trailers) {
                    listener.onClose(status, trailers);
                }
            }, new Metadata());
            chat.request(1);
            send(chat, sent, n, payload);
        } else {
            ClientCall<CountRequest, Numbered> count = channel.newCall(EchoGrpc.getCountMethod(), options);
            holder.set(count);
            count.start(listener, new Metadata());
            count.request(1);
            count.sendMessage(CountRequest.newBuilder().setCount(Math.toIntExact(n)).setSize(size).build());
            count.halfClose();
        }
        Status status = closed.get(timeout.toMillis() + 5_000, TimeUnit.MILLISECONDS);
        return new StreamResult(bidi ? "bidi" : "server", n, received[0], outOfOrder[0], new LinkedHashMap<>(pods),
                status.getCode().name(), status.getDescription() == null ? "" : status.getDescription(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
    }

    private final java.util.concurrent.atomic.AtomicReference<ClientCall<?, ?>> holder = new java.util.concurrent.atomic.AtomicReference<>();

    /** Sends while the call is ready (HTTP/2 flow control lets it), the rest when it is ready again. */
    private static synchronized void send(ClientCall<Numbered, Numbered> chat, long[] sent, long n, ByteString payload) {
        if (sent[0] > n) {
            return;
        }
        while (sent[0] < n && chat.isReady()) {
            chat.sendMessage(Numbered.newBuilder().setSeq(sent[0]).setPayload(payload).build());
            sent[0]++;
        }
        if (sent[0] == n) {
            sent[0]++;
            chat.halfClose();
        }
    }

    private void pause() {
        if (!readDelay.isZero()) {
            try {
                Thread.sleep(readDelay);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
