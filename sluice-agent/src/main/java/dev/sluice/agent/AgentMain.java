package dev.sluice.agent;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.sluice.lab.LabState;
import dev.sluice.lab.LabStore;
import dev.sluice.model.SluiceValues;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;

/**
 * The Sluice agent of one lab node. It runs in the node's network namespace, follows the lab's state,
 * registers the node's endpoints and reports status. (Later issues give it a datapath to program.)
 *
 * <p>Usage: {@code AgentMain --lab NAME --node NODE}
 */
public final class AgentMain {
    private static final long INTERVAL_MS = 250;
    private static final ObjectMapper JSON = new ObjectMapper().findAndRegisterModules().enable(SerializationFeature.INDENT_OUTPUT);

    private AgentMain() {
    }

    public static void main(String[] args) throws Exception {
        String lab = argument(args, "--lab");
        String node = argument(args, "--node");
        LabStore store = LabStore.of(lab);
        long started = System.currentTimeMillis();
        LabState first = store.read().orElseThrow(() -> new IllegalStateException("no lab '" + lab + "'"));
        SluiceValues values = first.valuesFile() == null ? SluiceValues.defaults() : SluiceValues.load(Path.of(first.valuesFile()));
        System.out.println("agent: node " + node + " of lab " + lab + " started (pid " + ProcessHandle.current().pid() + ")");
        values.warnings().forEach(w -> System.out.println("agent: values: " + w));
        List<AgentStatus.Endpoint> last = null;
        while (true) {
            Optional<LabState> state = store.read();
            if (state.isEmpty()) {
                System.out.println("agent: lab " + lab + " is gone; stopping");
                return;
            }
            var nodeState = state.get().node(node).orElseThrow(() -> new IllegalStateException("no node " + node));
            List<AgentStatus.Endpoint> endpoints = NodeStatusCompiler.endpoints(state.get(), node);
            if (!endpoints.equals(last)) {
                System.out.println("agent: " + endpoints.size() + " endpoint(s): "
                        + endpoints.stream().map(e -> e.namespace() + "/" + e.pod() + "=" + e.ip()).toList());
                last = endpoints;
            }
            AgentStatus status = new AgentStatus(node, ProcessHandle.current().pid(), started, System.currentTimeMillis(),
                    endpoints, NodeStatusCompiler.lines(state.get(), nodeState, endpoints, values), values.warnings());
            write(store.agentStatus(node), status);
            Thread.sleep(INTERVAL_MS);
        }
    }

    private static void write(Path file, AgentStatus status) throws IOException {
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), status);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Reads the status file an agent wrote, if there is one. */
    public static Optional<AgentStatus> readStatus(Path file) {
        try {
            return Files.exists(file) ? Optional.of(JSON.readValue(file.toFile(), AgentStatus.class)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static String argument(String[] args, String name) {
        for (int i = 0; i < args.length - 1; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        throw new IllegalArgumentException("missing " + name + " (usage: AgentMain --lab NAME --node NODE)");
    }
}
