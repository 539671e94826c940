package dev.sluice.install;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Services in front of every agent: its Prometheus metrics, and its Observer API (when Hubble is on). Both headless:
 * each agent is a different node's view, so clients (Prometheus, the relay) want every address, never one picked
 * for them.
 */
final class ObserverServices {
    private ObserverServices() {
    }

    static List<HasMetadata> of(InstallValues values) {
        List<HasMetadata> services = new ArrayList<>();
        services.add(headless(values, Names.METRICS_SERVICE, "metrics", Names.METRICS_PORT,
                Map.of("prometheus.io/scrape", "true", "prometheus.io/port", String.valueOf(Names.METRICS_PORT))));
        int observer = values.agent().hubble().listenPort();
        if (values.agent().hubble().enabled() && observer != 0) {
            services.add(headless(values, Names.PEER_SERVICE, "observer", observer, Map.of()));
        }
        return services;
    }

    private static Service headless(InstallValues values, String name, String portName, int port, Map<String, String> annotations) {
        return new ServiceBuilder()
                .withNewMetadata().withName(name).withNamespace(values.namespace()).withLabels(Names.labels(Names.AGENT))
                .withAnnotations(annotations.isEmpty() ? null : new java.util.TreeMap<>(annotations)).endMetadata()
                .withNewSpec()
                .withClusterIP("None")
                .withSelector(Names.selector(Names.AGENT))
                .addNewPort().withName(portName).withPort(port).withTargetPort(new IntOrString(port)).withProtocol("TCP").endPort()
                .endSpec()
                .build();
    }
}
