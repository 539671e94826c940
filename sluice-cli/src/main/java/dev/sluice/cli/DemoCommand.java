package dev.sluice.cli;

import dev.sluice.cli.lab.LabOptions;
import dev.sluice.linux.JavaCommand;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.linux.Command.Result;
import dev.sluice.model.Desired;
import dev.sluice.model.Feature;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.SluiceValues;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "demo", description = {
        "Bring up a lab with the seed article's manifests and values (examples/seed), start a client pod,",
        "call every product-service pod over gRPC and HTTP from it, deny a rogue pod by policy, show the flows,",
        "and say what to try next."})
final class DemoCommand implements Callable<Integer> {
    @Mixin
    LabOptions lab;
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Option(names = "--examples", paramLabel = "DIR", description = "Where the example manifests are (default: examples/ of the checkout).")
    Path examples;
    @Option(names = "--nodes", defaultValue = "2", description = "Nodes (default: ${DEFAULT-VALUE}).")
    int nodes;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path dir = examples != null ? examples : Path.of(System.getenv().getOrDefault("SLUICE_ROOT", ".")).resolve("examples");
        Path seed = dir.resolve("seed");
        Path values = seed.resolve("cilium-values.yaml");
        if (!Files.isDirectory(seed)) {
            throw new IllegalArgumentException("no example manifests at " + seed + ": run from the checkout or pass --examples DIR");
        }
        Lab l = lab.lab();
        step(out, "1. The seed's manifests and values, unmodified, from " + seed);
        // The canary (canary-routing.yaml) comes in step 7: until then the Service is balanced in the kernel only.
        List<Path> manifests = List.of(seed.resolve("product-service.yaml"));
        Desired desired = ManifestReader.read(manifests, w -> out.println("   manifest warning: " + w))
                .apply(ManifestReader.read(List.of(dir.resolve("demo/client.yaml"))));
        Lab.Changes up;
        try (dev.sluice.cli.lab.Progress progress = dev.sluice.cli.lab.Progress.on(spec.commandLine().getErr())) {
            up = l.onProgress(progress.listener()).up(nodes, desired, values);
        }
        out.printf("   lab '%s' is up with %d nodes and %d pods in %.1f s%n", l.name(), nodes, up.created().size(), up.millis() / 1000.0);
        SluiceValues v = SluiceValues.load(values);
        v.warnings().forEach(w -> out.println("   values warning: " + w));
        v.features().stream().filter(f -> f.state() != Feature.State.ENABLED && f.state() != Feature.State.DISABLED)
                .forEach(f -> out.println("   " + f.name() + ": " + f.detail()));

        step(out, "2. The pods (sluice lab pods):");
        for (PodState p : l.state().pods()) {
            out.printf("   %-42s %-7s %-12s %s%n", p.key(), p.node(), p.ip(), p.labels().getOrDefault("version", ""));
        }

        step(out, "3. From the client pod, 8 gRPC calls (Echo/Ping) to product-service:50051, each a new connection,");
        out.println("   load-balanced in eBPF at connect() (no kube-proxy, no iptables):");
        int failures = 0;
        Result grpc = l.execCapture("deploy/client", JavaCommand.sluice("call", "--grpc", "-n", "8", "product-service:50051"));
        grpc.stdout().lines().forEach(line -> out.println("   " + line));
        failures += grpc.ok() ? 0 : 1;
        Result http = l.execCapture("deploy/client", JavaCommand.sluice("call", "--http", "-n", "2", "product-service:50051"));
        out.println("   HTTP/1.1 on the same port:");
        http.stdout().lines().forEach(line -> out.println("   " + line));
        failures += http.ok() ? 0 : 1;

        step(out, "4. The Service as the kernel holds it (sluice service list):");
        Result services = dev.sluice.linux.Command.exec(JavaCommand.sluice("service", "list", "--lab", l.name()));
        services.stdout().lines().forEach(line -> out.println("   " + line));

        step(out, "5. Network policy (examples/demo/policy.yaml): product-service accepts gRPC only from the client.");
        out.println("   A rogue pod calls too; its connection is dropped in the kernel, and the drop names the policy:");
        l.apply(ManifestReader.read(List.of(dir.resolve("demo/rogue.yaml"), dir.resolve("demo/policy.yaml"))));
        Result allowed = l.execCapture("deploy/client", JavaCommand.sluice("call", "--http", "-n", "1", "--timeout", "2s", "product-service:50051"));
        out.println("   client:         " + allowed.stdout().strip());
        Result rogue = l.execCapture("deploy/some-rogue-pod", JavaCommand.sluice("call", "--http", "-n", "1", "--timeout", "1s", "product-service:50051"));
        out.println("   some-rogue-pod: " + rogue.stdout().strip() + " (dropped by policy, as expected)");
        failures += allowed.ok() && !rogue.ok() ? 0 : 1;
        for (var node : l.state().nodes()) {
            Result drops = dev.sluice.linux.Command.exec(JavaCommand.sluice("policy", "drops", "--lab", l.name(), "--node", node.name()));
            drops.stdout().lines().skip(1).forEach(line -> out.println("   " + node.name() + ": " + line.replaceAll("\\[k8s:app=rogue[^]]*]", "(app=rogue)")));
        }

        step(out, "6. The same story as flows, from every node at once (sluice observe --to-service product-service -n default):");
        Result flows = dev.sluice.linux.Command.exec(JavaCommand.sluice("observe", "--lab", l.name(), "--to-service", "product-service",
                "-n", "default", "--last", "6"));
        flows.stdout().lines().forEach(line -> out.println("   " + line));
        failures += flows.ok() && flows.stdout().contains("DROPPED (Policy denied on ingress") ? 0 : 1;
        out.println("   (sluice observe --follow keeps printing; sluice metrics shows each agent's Prometheus metrics.)");

        step(out, "7. The seed's canary (canary-routing.yaml, unmodified): product-service:50051 now goes through the");
        out.println("   node's L7 proxy, which splits requests 90/10 between v1 and v2, even on one HTTP/2 connection:");
        l.apply(ManifestReader.read(List.of(seed.resolve("canary-routing.yaml")), w -> out.println("   manifest warning: " + w)));
        Result canary = l.execCapture("deploy/client", JavaCommand.sluice("call", "--same-connection", "-n", "1000", "-o", "json",
                "product-service:50051"));
        java.util.Map<String, Integer> versions = new java.util.TreeMap<>();
        int failed = 0;
        for (String line : canary.stdout().lines().filter(x -> x.startsWith("{")).toList()) {
            var call = new com.fasterxml.jackson.databind.ObjectMapper().readTree(line);
            if (call.path("ok").asBoolean()) {
                versions.merge(call.path("identity").path("labels").path("version").asText(), 1, Integer::sum);
            } else {
                failed++;
            }
        }
        versions.forEach((version, n) -> out.printf("   %s: %4d calls (%.1f %%)%n", version, n, n / 10.0));
        out.println("   failed: " + failed);
        int v2 = versions.getOrDefault("v2", 0);
        failures += failed == 0 && v2 >= 60 && v2 <= 140 ? 0 : 1;
        out.println("   The proxy never bypasses policy: it asks it for the caller's identity. The rogue pod:");
        Result refused = l.execCapture("deploy/some-rogue-pod", JavaCommand.sluice("call", "-n", "1", "--timeout", "2s",
                "product-service:50051"));
        out.println("   " + refused.stdout().strip());
        failures += !refused.ok() && refused.stdout().contains("PERMISSION_DENIED") ? 0 : 1;
        List<String> next = new ArrayList<>(List.of(
                "sluice lab pods",
                "sluice status",
                "sluice lab exec deploy/client -- sluice call --http -n 4 product-service:50051",
                "sluice lab exec deploy/client -- cat /etc/hosts",
                "sluice lab exec deploy/client -- ip route",
                "sluice bpf lb list",
                "sluice endpoint list",
                "sluice bpf policy get 1",
                "sluice bpf ct list global",
                "sluice policy drops",
                "sluice observe --follow",
                "sluice observe --verdict DROPPED -o json",
                "sluice metrics --node node-1",
                "sluice lab logs deploy/product-service-v2",
                "sluice lab apply -f FILE   (e.g. scale product-service-v1)",
                "sluice lab exec deploy/client -- sluice call --same-connection -n 100 product-service:50051",
                "sluice lab down"));
        // The seed's values ask for Hubble UI: the lab started `sluice ui`; where it serves, if it does.
        if (dev.sluice.lab.LabUi.awaitUrl(l, 10_000).orElse(null) instanceof String url) {
            next.add(next.size() - 1, "open " + url + "   (the service map and flows, in a browser on this machine)");
        }
        next.add(2, "sluice status --all-nodes");
        step(out, "Try next:");
        next.forEach(n -> out.println("   " + n));
        return failures == 0 ? 0 : 1;
    }

    private static void step(PrintWriter out, String text) {
        out.println();
        out.println(text);
        out.flush();
    }
}
