package dev.sluice.install;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import java.util.ArrayList;
import java.util.List;

/**
 * The flow relay ({@code sluice relay}, gathering every agent's flows as Hubble Relay does) and the UI
 * ({@code sluice ui}, reading them from the relay), each a one-replica Deployment with a Service whose port 80
 * mirrors Cilium's hubble-relay and hubble-ui Services, so {@code kubectl port-forward svc/sluice-relay 4245:80}
 * is what {@code cilium hubble port-forward} does. Neither talks to the API server: no token is mounted.
 */
final class RelayAndUi {
    private RelayAndUi() {
    }

    static List<HasMetadata> of(InstallValues values) {
        List<HasMetadata> objects = new ArrayList<>();
        String ns = values.namespace();
        if (values.relay()) {
            String peers = Names.PEER_SERVICE + "." + ns + ".svc:" + values.agent().hubble().listenPort();
            objects.add(deployment(values, Names.RELAY, Names.RELAY_PORT, "grpc",
                    List.of("relay", "--listen-address", "0.0.0.0:" + Names.RELAY_PORT, "--peer-service", peers)));
            objects.add(service(values, Names.RELAY, Names.RELAY_PORT));
        }
        if (values.ui()) {
            String relay = Names.RELAY + "." + ns + ".svc:80";
            objects.add(deployment(values, Names.UI, Names.UI_PORT, "http", List.of("ui", "--server", relay, "--address", "0.0.0.0", "--port", String.valueOf(Names.UI_PORT))));
            objects.add(service(values, Names.UI, Names.UI_PORT));
        }
        return objects;
    }

    private static Deployment deployment(InstallValues values, String name, int port, String portName, List<String> args) {
        return new DeploymentBuilder()
                .withNewMetadata().withName(name).withNamespace(values.namespace()).withLabels(Names.labels(name)).endMetadata()
                .withNewSpec()
                .withReplicas(1)
                .withNewSelector().withMatchLabels(Names.selector(name)).endSelector()
                .withNewTemplate()
                .withNewMetadata().withLabels(Names.labels(name)).endMetadata()
                .withNewSpec()
                .withAutomountServiceAccountToken(false)
                .addNewContainer()
                .withName(name.substring("sluice-".length()))
                .withImage(values.image().reference()).withImagePullPolicy(values.image().pullPolicy())
                // No perf-data file: the root file system is read-only.
                .withCommand("java", "-Xmx128m", "-XX:-UsePerfData", "-jar", Names.JAR)
                .withArgs(args)
                .addNewPort().withName(portName).withContainerPort(port).withProtocol("TCP").endPort()
                .withNewReadinessProbe().withNewTcpSocket().withPort(new IntOrString(port)).endTcpSocket().withPeriodSeconds(5).endReadinessProbe()
                .withNewSecurityContext().withRunAsNonRoot(true).withRunAsUser(65532L).withAllowPrivilegeEscalation(false)
                .withReadOnlyRootFilesystem(true).withNewCapabilities().withDrop("ALL").endCapabilities().endSecurityContext()
                .endContainer()
                .endSpec()
                .endTemplate()
                .endSpec()
                .build();
    }

    private static HasMetadata service(InstallValues values, String name, int port) {
        return new ServiceBuilder()
                .withNewMetadata().withName(name).withNamespace(values.namespace()).withLabels(Names.labels(name)).endMetadata()
                .withNewSpec()
                .withType("ClusterIP")
                .withSelector(Names.selector(name))
                .addNewPort().withName("http").withPort(80).withTargetPort(new IntOrString(port)).withProtocol("TCP").endPort()
                .endSpec()
                .build();
    }
}
