package dev.sluice.e2e;

import dev.sluice.agent.api.StatusFile;
import dev.sluice.agent.api.AgentStatus;
import dev.sluice.datapath.abi.Aggregation;
import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.datapath.flow.FlowStructs.FlowConfig;
import dev.sluice.lab.Lab;
import dev.sluice.libbpf.BpfMap;
import dev.sluice.libbpf.Codecs;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** hubble.enabled: false: the datapath is told to stay silent, and `sluice observe` says why there are no flows. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HubbleDisabledLabTest {
    private Lab lab;
    private Path values;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        values = Files.createTempFile("no-hubble", ".yaml");
        Files.writeString(values, "hubble:\n  enabled: false\n");
        lab = TestLabs.create("h");
        lab.up(1, ManifestReader.read(List.of(LabTest.CLIENT)), values);
    }

    @AfterAll
    void down() throws Exception {
        if (lab != null) {
            TestLabs.down(lab);
        }
        if (values != null) {
            Files.deleteIfExists(values);
        }
    }

    @Test
    void theDatapathIsSilentAndObserveSaysWhy() {
        String node = lab.state().nodes().getFirst().name();
        try (BpfMap config = BpfMap.openPinned(lab.layout(node).maps().resolve(FlowStructs.MAP_CONFIG))) {
            assertEquals(new FlowConfig(Aggregation.DISABLED), config.typed(Codecs.u32(), FlowConfig.CODEC).lookup(0).orElseThrow());
        }
        AgentStatus status = StatusFile.read(lab.layout(node).statusFile()).orElseThrow();
        List<String> hubble = status.lines().stream().filter(l -> l.key().equals("Hubble")).map(AgentStatus.Line::value).toList();
        assertEquals(1, hubble.size(), "one Hubble line: " + status.lines());
        assertTrue(hubble.getFirst().startsWith("Disabled (hubble.enabled: false)"), hubble.getFirst());
        assertFalse(Files.exists(lab.layout(node).observerSocket()));

        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = dev.sluice.cli.Main.commandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        assertEquals(1, cli.execute("observe", "--lab", lab.name()));
        assertTrue(err.toString().contains("node " + node + " serves no flows"), err.toString());
        assertTrue(err.toString().contains("no node of lab '" + lab.name() + "' serves flows"), err.toString());
    }
}
