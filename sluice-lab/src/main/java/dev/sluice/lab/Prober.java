package dev.sluice.lab;

import dev.sluice.lab.LabState.ContainerState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.model.ContainerSpec;
import dev.sluice.model.ProbeSpec;
import dev.sluice.workload.health.v1.HealthCheckRequest;
import dev.sluice.workload.health.v1.HealthCheckResponse;
import dev.sluice.workload.health.v1.HealthGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs one probe as the kubelet does, from the calling process's network namespace (the kubelet's: its node's) to
 * the pod's address: httpGet (a status from 200 to 399), tcpSocket (the connection is accepted), exec (the command,
 * run inside the container, exits 0), grpc ({@code grpc.health.v1.Health/Check} answers SERVING). A probe that
 * does not answer within its timeoutSeconds fails. Messages are worded as the kubelet's.
 */
final class Prober {
    /** What one probe found. */
    record Result(boolean success, String message) {
        static Result ok() {
            return new Result(true, "");
        }

        static Result failed(String message) {
            return new Result(false, message);
        }
    }

    private final PodFactory pods;

    Prober(PodFactory pods) {
        this.pods = pods;
    }

    Result run(ProbeSpec probe, PodState pod, ContainerState container, ContainerSpec spec) {
        Duration timeout = Duration.ofSeconds(probe.timeoutSeconds());
        return switch (probe.action()) {
            case ProbeSpec.HttpGet get -> http(get, host(get.host(), pod), timeout);
            case ProbeSpec.TcpSocket tcp -> tcp(host(tcp.host(), pod), tcp.port(), timeout);
            case ProbeSpec.Exec exec -> exec(exec, pod, container, spec, timeout);
            case ProbeSpec.Grpc grpc -> grpc(pod.ip(), grpc, timeout);
        };
    }

    private static String host(String host, PodState pod) {
        return host == null ? pod.ip() : host;
    }

    private static Result http(ProbeSpec.HttpGet get, String host, Duration timeout) {
        URI uri = URI.create("http://" + host + ":" + get.port() + get.path());
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(timeout).GET()
                .header("User-Agent", "kube-probe/1.34").header("Accept", "*/*");
        get.headers().forEach(request::setHeader);
        // A client per probe, as the kubelet does not keep connections between probes.
        try (HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).proxy(HttpClient.Builder.NO_PROXY)
                .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(timeout).build()) {
            HttpResponse<Void> response = client.send(request.build(), HttpResponse.BodyHandlers.discarding());
            int status = response.statusCode();
            return status >= 200 && status < 400 ? Result.ok() : Result.failed("HTTP probe failed with statuscode: " + status);
        } catch (IOException e) {
            return Result.failed("Get \"" + uri + "\": " + reason(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Result.failed("interrupted");
        }
    }

    private static Result tcp(String host, int port, Duration timeout) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), (int) timeout.toMillis());
            return Result.ok();
        } catch (IOException e) {
            return Result.failed("dial tcp " + host + ":" + port + ": " + reason(e));
        }
    }

    private Result exec(ProbeSpec.Exec exec, PodState pod, ContainerState container, ContainerSpec spec, Duration timeout) {
        List<String> command;
        try {
            command = pods.inContainer(pod, container, spec, exec.command());
        } catch (LabException e) {
            return Result.failed(e.getMessage());
        }
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getOutputStream().close();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                return Result.failed("command " + exec.command() + " timed out after " + timeout.toSeconds() + "s");
            }
            String output = new String(p.getInputStream().readNBytes(1024), StandardCharsets.UTF_8).strip();
            return p.exitValue() == 0 ? Result.ok()
                    : Result.failed("command " + exec.command() + " exited with " + p.exitValue() + (output.isEmpty() ? "" : ": " + output));
        } catch (IOException e) {
            return Result.failed("cannot run " + exec.command() + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Result.failed("interrupted");
        }
    }

    private static Result grpc(String host, ProbeSpec.Grpc grpc, Duration timeout) {
        ManagedChannel channel = Grpc.newChannelBuilderForAddress(host, grpc.port(), InsecureChannelCredentials.create())
                .userAgent("kube-probe/1.34").build();
        try {
            HealthCheckResponse response = HealthGrpc.newBlockingStub(channel).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
                    .check(HealthCheckRequest.newBuilder().setService(grpc.service()).build());
            return response.getStatus() == HealthCheckResponse.ServingStatus.SERVING ? Result.ok()
                    : Result.failed("service unhealthy (responded with \"" + response.getStatus() + "\")");
        } catch (StatusRuntimeException e) {
            // Worded as the kubelet's gRPC prober words each case.
            return Result.failed(switch (e.getStatus().getCode()) {
                case UNAVAILABLE -> "timeout: failed to connect service \"" + host + ":" + grpc.port() + "\" within " + timeout.toSeconds() + "s";
                case DEADLINE_EXCEEDED -> "timeout: health rpc did not complete within " + timeout.toSeconds() + "s";
                default -> "error: health rpc probe failed: rpc error: code = " + e.getStatus().getCode()
                        + (e.getStatus().getDescription() == null ? "" : " desc = " + e.getStatus().getDescription());
            });
        } finally {
            channel.shutdownNow();
        }
    }

    private static String reason(IOException e) {
        String m = e.getMessage();
        if (e instanceof java.net.ConnectException || (m != null && m.contains("Connection refused"))) {
            return "connect: connection refused";
        }
        if (e instanceof java.net.SocketTimeoutException || e instanceof java.net.http.HttpTimeoutException) {
            return "i/o timeout";
        }
        return m == null ? e.getClass().getSimpleName() : m;
    }
}
