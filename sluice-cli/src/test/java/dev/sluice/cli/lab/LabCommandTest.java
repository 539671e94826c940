package dev.sluice.cli.lab;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class LabCommandTest {
    @Test
    void aPolicyThatCannotBeReadFailsTheCommandNamingFileAndField(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("bad-policy.yaml");
        Files.writeString(bad, """
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: broken}
                spec:
                  endpointSelector: {matchLabels: {app: web}}
                  ingress:
                  - toPorts: [{ports: [{port: "80", protocol: TCPX}]}]
                """);
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.sluice.model.ManifestException.class,
                () -> LabCommand.read(List.of(bad), new java.io.PrintWriter(java.io.Writer.nullWriter())));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("bad-policy.yaml")
                && e.getMessage().contains("spec.ingress[0].toPorts[0].ports[0].protocol"), e.getMessage());
    }

    @Test
    void aDirectoryIsReadWithoutItsValuesFile(@TempDir Path dir) throws Exception {
        Path seed = Files.createDirectory(dir.resolve("seed"));
        for (String f : List.of("b.yaml", "a.yml", "values.yaml", "notes.txt", "c.json")) {
            Files.writeString(seed.resolve(f), "");
        }
        Path single = dir.resolve("client.yaml");
        assertEquals(List.of(seed.resolve("a.yml"), seed.resolve("b.yaml"), seed.resolve("c.json"), single),
                LabCommand.manifests(List.of(seed, single), seed.resolve("values.yaml")));
        assertEquals(List.of(seed), LabCommand.manifests(List.of(seed), null), "without --values, directories are left to the reader");
    }
}
