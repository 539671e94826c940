package dev.sluice.workload.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.workload.Transfer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** {@code sluice transfer-server}: the other end of {@code sluice transfer}; one JSON line per connection served. */
@Command(name = "transfer-server", mixinStandardHelpOptions = true,
        description = "Serve `sluice transfer` (checksummed transfers) until killed; one JSON line per connection.")
public final class TransferServerCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--port", defaultValue = "7000", description = "TCP port (default: 7000).")
    int port;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        try (ServerSocket server = new ServerSocket(); ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(port), 1024);
            out.println("{\"listening\":" + port + "}");
            out.flush();
            while (true) {
                Socket s = server.accept();
                pool.submit(() -> serve(s, out));
            }
        }
    }

    private static void serve(Socket s, PrintWriter out) {
        try (s) {
            s.setTcpNoDelay(true);
            Transfer.Served served = Transfer.serve(new BufferedInputStream(s.getInputStream(), 256 * 1024),
                    new BufferedOutputStream(s.getOutputStream(), 256 * 1024));
            ObjectNode r = JSON.createObjectNode();
            r.put("remote", s.getInetAddress().getHostAddress() + ":" + s.getPort());
            r.put("exchanges", served.exchanges());
            r.put("received", served.received());
            r.put("sent", served.sent());
            r.put("uploadOk", served.wrongAt() < 0);
            if (served.error() != null) {
                r.put("error", served.error());
            }
            synchronized (out) {
                out.println(JSON.writeValueAsString(r));
                out.flush();
            }
        } catch (IOException e) {
            // the connection went away before it could be served; the next one is served as usual
        }
    }

    /** Runs on its own (benchmarks start it in pods without the CLI on the class path). */
    public static void main(String[] args) {
        System.exit(new CommandLine(new TransferServerCommand()).execute(args));
    }
}
