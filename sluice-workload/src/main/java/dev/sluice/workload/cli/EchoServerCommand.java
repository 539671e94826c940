package dev.sluice.workload.cli;

import dev.sluice.workload.EchoMain;
import dev.sluice.workload.EchoSettings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code sluice echo-server}: the echo workload of lab pods, run by hand. */
@Command(name = "echo-server",
        mixinStandardHelpOptions = true,
        description = {"Serve HTTP/1.1, h2c and gRPC (sluice.echo.v1.Echo, grpc.health.v1.Health) on every port, "
                + "answering with this pod's identity, until SIGTERM or SIGINT.",
                "Each option defaults to the environment variable named in its description."})
public final class EchoServerCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--pod", paramLabel = "NAME", description = "Pod name ($SLUICE_POD, else $HOSTNAME).")
    String pod;

    @Option(names = "--namespace", paramLabel = "NAME", description = "Namespace ($SLUICE_NAMESPACE, else default).")
    String namespace;

    @Option(names = "--node", paramLabel = "NAME", description = "Node the pod runs on ($SLUICE_NODE).")
    String node;

    @Option(names = "--labels", paramLabel = "K=V[,K=V...]", description = "Pod labels ($SLUICE_LABELS).")
    String labels;

    @Option(names = "--ports", paramLabel = "PORT[,PORT...]",
            description = "Ports to serve ($SLUICE_PORTS, else 8080).")
    String ports;

    @Option(names = "--bind", paramLabel = "ADDRESS",
            description = "Address to listen on ($SLUICE_BIND, else 0.0.0.0).")
    String bind;

    @Override
    public Integer call() throws IOException, InterruptedException {
        // Options are read as the variables they stand for, so that both go through the same parsing.
        Map<String, String> env = new HashMap<>(System.getenv());
        putIfGiven(env, EchoSettings.POD, pod);
        putIfGiven(env, EchoSettings.NAMESPACE, namespace);
        putIfGiven(env, EchoSettings.NODE, node);
        putIfGiven(env, EchoSettings.LABELS, labels);
        putIfGiven(env, EchoSettings.PORTS, ports);
        putIfGiven(env, EchoSettings.BIND, bind);
        EchoSettings settings;
        try {
            settings = EchoSettings.fromEnvironment(env);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        EchoMain.serve(settings, spec.commandLine().getOut());
        return 0;
    }

    private static void putIfGiven(Map<String, String> env, String name, String value) {
        if (value != null) {
            env.put(name, value);
        }
    }
}
