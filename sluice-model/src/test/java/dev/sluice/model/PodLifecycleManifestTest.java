package dev.sluice.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Probes, restartPolicy, securityContext and resources.limits read from a Pod, and the errors bad ones get. */
class PodLifecycleManifestTest {
    @TempDir
    Path dir;

    private static final String POD = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: p
            spec:
              restartPolicy: OnFailure
              securityContext:
                runAsUser: 1000
              containers:
              - name: web
                image: web:1
                ports:
                - name: http
                  containerPort: 8080
                readinessProbe:
                  httpGet:
                    path: /ready
                    port: http
                    httpHeaders:
                    - name: X-Probe
                      value: "1"
                  periodSeconds: 2
                  failureThreshold: 1
                livenessProbe:
                  %s
                securityContext:
                  runAsGroup: 2000
                  allowPrivilegeEscalation: false
                  capabilities:
                    add: ["NET_ADMIN"]
                    drop: ["all"]
                resources:
                  limits:
                    cpu: 250m
                    memory: 64Mi
            """;

    private PodSpec read(String liveness) throws IOException {
        Path file = dir.resolve("p.yaml");
        Files.writeString(file, POD.formatted(liveness));
        return ManifestReader.read(List.of(file)).pods().getFirst();
    }

    @Test
    void everyPartIsRead() throws IOException {
        PodSpec pod = read("tcpSocket: {port: 8080}");
        assertEquals(RestartPolicy.ON_FAILURE, pod.template().restartPolicy());
        ContainerSpec c = pod.template().containers().getFirst();
        assertEquals(new ProbeSpec(new ProbeSpec.HttpGet("HTTP", null, 8080, "/ready", Map.of("X-Probe", "1")), 0, 2, 1, 1, 1),
                c.readinessProbe());
        assertEquals(new ProbeSpec(new ProbeSpec.TcpSocket(null, 8080), 0, 10, 1, 1, 3), c.livenessProbe());
        assertEquals(new SecuritySpec(1000L, 2000L, false, List.of("NET_ADMIN"), List.of("ALL"), false, false), c.securityContext());
        assertEquals(new ResourceLimits(250L, 64L << 20), c.limits());
    }

    @Test
    void execAndGrpcProbes() throws IOException {
        assertEquals(new ProbeSpec.Exec(List.of("cat", "/tmp/ok")), read("exec: {command: [cat, /tmp/ok]}").template().containers()
                .getFirst().livenessProbe().action());
        assertEquals(new ProbeSpec.Grpc(50051, ""), read("grpc: {port: 50051}").template().containers().getFirst().livenessProbe().action());
    }

    @Test
    void theModelSurvivesTheLabsStateFile() throws IOException {
        // The lab keeps the desired objects in its state file: every action type must come back as itself.
        ObjectMapper json = new ObjectMapper().findAndRegisterModules();
        for (String liveness : List.of("tcpSocket: {port: 8080}", "exec: {command: [\"true\"]}", "grpc: {port: 1, service: s}")) {
            PodTemplate t = read(liveness).template();
            assertEquals(t, json.readValue(json.writeValueAsString(t), PodTemplate.class));
        }
    }

    @Test
    void aContainerWithoutAnyOfThemHasTheDefaults() {
        ContainerSpec c = new ContainerSpec("c", null, List.of(), List.of(), List.of(), Map.of());
        assertNull(c.readinessProbe());
        assertEquals(SecuritySpec.DEFAULT, c.securityContext());
        assertTrue(c.limits().isEmpty());
    }

    private void refused(String liveness, String field, String says) {
        ManifestException e = assertThrows(ManifestException.class, () -> read(liveness));
        assertTrue(e.getMessage().contains(dir.resolve("p.yaml").toString()), e.getMessage());
        assertTrue(e.getMessage().contains(field), e.getMessage());
        assertTrue(e.getMessage().contains(says), e.getMessage());
    }

    @Test
    void badProbesNameTheirField() {
        refused("httpGet: {port: metrics}", "spec.containers[0].livenessProbe.httpGet.port", "names no port of this container: \"metrics\"");
        refused("{tcpSocket: {port: 8080}, periodSeconds: -5}", "spec.containers[0].livenessProbe.periodSeconds", "must be at least 1, got -5");
        refused("{tcpSocket: {port: 8080}, initialDelaySeconds: -1}", "livenessProbe.initialDelaySeconds", "must be 0 or more");
        refused("{tcpSocket: {port: 8080}, successThreshold: 2}", "livenessProbe.successThreshold", "must be 1 for a liveness probe");
        refused("{tcpSocket: {port: 8080}, exec: {command: [\"true\"]}}", "livenessProbe", "only one of");
        refused("{periodSeconds: 3}", "livenessProbe", "must have one of httpGet, tcpSocket, exec or grpc");
        refused("tcpSocket: {port: 70000}", "livenessProbe.tcpSocket.port", "1..65535");
    }

    @Test
    void badSecurityAndLimitsNameTheirField() throws IOException {
        Path file = dir.resolve("p.yaml");
        Files.writeString(file, POD.formatted("tcpSocket: {port: 8080}").replace("\"NET_ADMIN\"", "\"NET_WIZARD\""));
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.read(List.of(file)));
        assertTrue(e.getMessage().contains("spec.containers[0].securityContext.capabilities.add[0]"), e.getMessage());
        Files.writeString(file, POD.formatted("tcpSocket: {port: 8080}").replace("memory: 64Mi", "memory: lots"));
        e = assertThrows(ManifestException.class, () -> ManifestReader.read(List.of(file)));
        assertTrue(e.getMessage().contains("spec.containers[0].resources.limits.memory"), e.getMessage());
        Files.writeString(file, POD.formatted("tcpSocket: {port: 8080}").replace("restartPolicy: OnFailure", "restartPolicy: Sometimes"));
        e = assertThrows(ManifestException.class, () -> ManifestReader.read(List.of(file)));
        assertTrue(e.getMessage().contains("spec.restartPolicy") && e.getMessage().contains("Always, OnFailure or Never"), e.getMessage());
        Files.writeString(file, POD.formatted("tcpSocket: {port: 8080}").replace("runAsUser: 1000", "runAsNonRoot: true"));
        e = assertThrows(ManifestException.class, () -> ManifestReader.read(List.of(file)));
        assertTrue(e.getMessage().contains("securityContext.runAsNonRoot: is true, but no runAsUser"), e.getMessage());
    }
}
