package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A Hubble client that knows nothing of Sluice: Python code generated at test time, with Debian's grpcio tools,
 * from Hubble's protos only (flow, observer, peer, relay under sluice-observe/src/main/proto), run by
 * {@code hubble/hubble_client.py}. What it prints is protobuf's JSON of Hubble's messages.
 */
final class HubbleClient implements AutoCloseable {
    private static final String PYTHON = "/usr/bin/python3";
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path dir;
    private final Path script;

    HubbleClient() throws IOException, InterruptedException {
        dir = Files.createTempDirectory("hubble-client");
        Path generated = Files.createDirectories(dir.resolve("generated"));
        Path protos = LabTest.ROOT.resolve("sluice-observe/src/main/proto");
        run(List.of(PYTHON, "-m", "grpc_tools.protoc", "-I" + protos, "--python_out=" + generated, "--grpc_python_out=" + generated,
                "flow/flow.proto", "relay/relay.proto", "observer/observer.proto", "peer/peer.proto"));
        script = dir.resolve("hubble_client.py");
        try (InputStream in = HubbleClient.class.getResourceAsStream("/hubble/hubble_client.py")) {
            Files.copy(in, script);
        }
    }

    /** Runs one command of the client against {@code target} (unix:///path or 127.0.0.1:port). */
    JsonNode call(String target, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(PYTHON, script.toString(), dir.resolve("generated").toString(), target));
        cmd.addAll(List.of(args));
        return JSON.readTree(run(cmd));
    }

    private static String run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
        byte[] out;
        byte[] err;
        try {
            out = p.getInputStream().readAllBytes();
            err = p.getErrorStream().readAllBytes();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                throw new AssertionError("hung: " + cmd);
            }
        } finally {
            p.destroyForcibly();
        }
        if (p.exitValue() != 0) {
            throw new AssertionError(cmd + " exited " + p.exitValue() + ":\n" + new String(err, StandardCharsets.UTF_8)
                    + new String(out, StandardCharsets.UTF_8));
        }
        return new String(out, StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
