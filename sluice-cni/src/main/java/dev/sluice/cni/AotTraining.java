package dev.sluice.cni;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The training run of the plugin's ahead-of-time cache ({@code -XX:AOTCacheOutput}, JEP 514; {@code sluice-cni
 * aot-training}, run by the {@code sluice-cni} wrapper after each build): the classes ADD, DEL, CHECK and errors load
 * (configuration and environment parsing, the agent exchange against a stand-in on a temporary socket, results, error
 * objects, a child process), without touching the network: the stand-in's addresses are never configured.
 */
final class AotTraining {
    private AotTraining() {
    }

    static void run() throws IOException {
        Path dir = Files.createTempDirectory("sluice-cni-aot");
        Path socket = dir.resolve("agent.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            Thread agent = Thread.ofPlatform().daemon().start(() -> standIn(server));
            String conf = """
                    {"cniVersion":"1.0.0","name":"sluice","type":"sluice-cni","agentSocket":"%s",
                     "args":{"cni":{"labels":[{"key":"app","value":"training"}]}}}""".formatted(socket);
            PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
            for (int i = 0; i < 20; i++) {
                Map<String, String> env = Map.of("CNI_COMMAND", "STATUS", "CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=training");
                CniPlugin.run(env, new ByteArrayInputStream(conf.getBytes(StandardCharsets.UTF_8)), sink);
                CniEnv parsed = CniEnv.parse(Map.of("CNI_COMMAND", "ADD", "CNI_CONTAINERID", "training" + i, "CNI_NETNS", "/proc/self/ns/net",
                        "CNI_IFNAME", "eth0", "CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=training"));
                NetConf nc = NetConf.parse(conf.getBytes(StandardCharsets.UTF_8));
                AgentClient client = new AgentClient(socket);
                AgentMessages.Endpoint want = new AgentMessages.Endpoint(parsed.containerId(), parsed.ifname(), "default", "training",
                        parsed.netns(), null, PodInterface.hostVeth(parsed.containerId(), parsed.ifname()), PodInterface.randomMac(), nc.labels());
                AgentMessages.Endpoint got = client.require(new AgentMessages.Request(AgentMessages.Op.ALLOCATE, want));
                client.require(new AgentMessages.Request(AgentMessages.Op.REGISTER, got));
                sink.writeBytes(Json.write(CniResult.of(nc.cniVersion(), want.hostVeth(), PodInterface.randomMac(), "eth0",
                        want.mac(), parsed.netns(), got.ip()).toMap()));
                Json.parse("[{\"flags\":[\"UP\"],\"addr_info\":[{\"local\":\"192.0.2.10\",\"prefixlen\":32}]}]");
                CniPlugin.run(Map.of("CNI_COMMAND", "VERSION"), new ByteArrayInputStream("{\"cniVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8)), sink);
                CniPlugin.run(Map.of("CNI_COMMAND", "ADD"), new ByteArrayInputStream(conf.getBytes(StandardCharsets.UTF_8)), sink);
                CniPlugin.run(Map.of("CNI_COMMAND", "STATUS"), new ByteArrayInputStream("{".getBytes(StandardCharsets.UTF_8)), sink);
            }
            new ProcessBuilder(List.of("true")).start().waitFor();
            agent.interrupt();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            Files.deleteIfExists(socket);
            Files.deleteIfExists(dir);
        }
    }

    /** Answers like an agent with a free address, for the training only. */
    private static void standIn(ServerSocketChannel server) {
        while (true) {
            try (SocketChannel ch = server.accept()) {
                Object r = Json.parse(Channels.newInputStream(ch).readAllBytes());
                AgentMessages.Endpoint e = AgentMessages.Endpoint.fromMap(Json.at(r, "endpoint"));
                Object reply = Json.object("ok", true, "code", 0, "msg", "training", "endpoint", e == null ? null : e.withIp("192.0.2.10").toMap());
                ch.write(java.nio.ByteBuffer.wrap(Json.write(reply)));
            } catch (IOException e) {
                return;
            }
        }
    }
}
