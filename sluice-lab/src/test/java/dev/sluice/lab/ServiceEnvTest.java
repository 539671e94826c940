package dev.sluice.lab;

import dev.sluice.model.Desired;
import dev.sluice.model.ManifestReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The kubelet's Service variables, and their bound: a namespace of thousands of Services gives none. */
class ServiceEnvTest {
    @TempDir
    Path dir;

    private Desired services(int n) throws Exception {
        StringBuilder yaml = new StringBuilder();
        for (int i = 0; i < n; i++) {
            yaml.append("""
                    apiVersion: v1
                    kind: Service
                    metadata: {name: svc-%d, namespace: default}
                    spec:
                      selector: {app: web}
                      ports: [{name: grpc, port: 50051, targetPort: 50051}]
                    ---
                    """.formatted(i));
        }
        Path f = dir.resolve("s" + n + ".yaml");
        Files.writeString(f, yaml);
        return ManifestReader.read(List.of(f));
    }

    private static Map<String, String> ips(int n) {
        Map<String, String> ips = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            ips.put("default/svc-" + i, "10.96." + (i / 250) + "." + (i % 250 + 1));
        }
        return ips;
    }

    @Test
    void givesTheKubeletsVariables() throws Exception {
        Map<String, String> env = ServiceEnv.of("default", services(1).services(), ips(1));
        assertEquals("10.96.0.1", env.get("SVC_0_SERVICE_HOST"));
        assertEquals("50051", env.get("SVC_0_SERVICE_PORT"));
        assertEquals("50051", env.get("SVC_0_SERVICE_PORT_GRPC"));
        assertEquals("tcp://10.96.0.1:50051", env.get("SVC_0_PORT_50051_TCP"));
        assertTrue(ServiceEnv.of("other", services(1).services(), ips(1)).isEmpty(), "only the pod's namespace");
    }

    @Test
    void tooManyServicesGiveNoneInsteadOfAProcessTheKernelRefuses() throws Exception {
        assertEquals(8 * 1000, ServiceEnv.of("default", services(1000).services(), ips(1000)).size());
        assertTrue(ServiceEnv.of("default", services(10_000).services(), ips(10_000)).isEmpty());
    }
}
