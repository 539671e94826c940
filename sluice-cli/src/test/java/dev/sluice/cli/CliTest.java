package dev.sluice.cli;

import dev.sluice.cli.doctor.Check;
import dev.sluice.cli.doctor.Doctor;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CliTest {
    private static String[] run(String... args) {
        StringWriter out = new StringWriter();
        CommandLine cli = Main.commandLine();
        cli.setOut(new PrintWriter(out));
        int code = cli.execute(args);
        return new String[] {Integer.toString(code), out.toString()};
    }

    @Test
    void versionNamesSluiceJavaKernelAndLibbpf() {
        String[] r = run("version");
        assertEquals("0", r[0]);
        assertTrue(r[1].startsWith("sluice " + VersionCommand.version()), r[1]);
        assertTrue(!VersionCommand.version().equals("unknown") && !VersionCommand.version().contains("${"), "version is filtered in");
        assertTrue(r[1].contains("kernel: ") && r[1].contains("libbpf: ") && r[1].contains("java:   25"), r[1]);
    }

    @Test
    void doctorPassesOnAPrivilegedMachineAndReportsEachCheck() {
        Privileged.require();
        List<Check> checks = new Doctor().run();
        Map<String, Check> byName = checks.stream().collect(Collectors.toMap(Check::name, c -> c));
        for (String name : List.of("Kernel", "BTF", "libbpf", "bpf()", "bpffs", "cgroup v2", "TC attach", "Datapath", "clang",
                "WireGuard", "IPsec (ESP)", "kTLS")) {
            assertTrue(byName.containsKey(name), "doctor checks " + name + ": " + checks);
        }
        assertEquals(Check.Status.OK, byName.get("bpf()").status(), byName.get("bpf()").detail());
        assertEquals(Check.Status.OK, byName.get("Datapath").status(), byName.get("Datapath").detail());
        assertEquals(Check.Status.OK, byName.get("cgroup v2").status(), byName.get("cgroup v2").detail());

        String[] r = run("doctor");
        assertEquals("0", r[0], r[1]);
        assertTrue(r[1].contains("Sluice can run on this machine"), r[1]);
    }

    @Test
    void anUnavailableEncryptionFeatureSaysWhy() {
        for (Check c : new Doctor().run()) {
            if (c.name().equals("WireGuard") && c.status() == Check.Status.INFO) {
                assertTrue(c.detail().startsWith("unavailable: ") || c.detail().startsWith("unknown: "), c.detail());
            }
        }
    }

    @Test
    void prefilterHasAddDeleteListAndRefusesWhatIsNoIpv4Cidr() {
        String[] help = run("prefilter");
        for (String sub : List.of("add", "delete", "list")) {
            org.junit.jupiter.api.Assertions.assertTrue(help[1].contains(sub), help[1]);
        }
        String[] bad = run("prefilter", "add", "--lab", "no-such-lab", "10.0.0.0/33");
        org.junit.jupiter.api.Assertions.assertNotEquals("0", bad[0]);
    }
}
