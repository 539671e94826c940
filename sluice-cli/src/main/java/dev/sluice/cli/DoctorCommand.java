package dev.sluice.cli;

import dev.sluice.cli.doctor.Check;
import dev.sluice.cli.doctor.Doctor;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "doctor", description = {
        "Check that this machine can run Sluice: kernel, BTF, bpf(), bpffs, cgroup v2, tcx, libbpf, clang,",
        "and that the bundled BPF programs pass the verifier. Exits 1 if something required is missing."})
final class DoctorCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        var out = spec.commandLine().getOut();
        List<Check> checks = new Doctor().run();
        int width = checks.stream().mapToInt(c -> c.name().length()).max().orElse(10) + 1;
        for (Check c : checks) {
            out.printf("%-" + width + "s %-4s %s%n", c.name() + ":", c.status().label(), c.detail());
        }
        long failed = checks.stream().filter(c -> c.status() == Check.Status.FAIL).count();
        long warned = checks.stream().filter(c -> c.status() == Check.Status.WARN).count();
        out.println();
        if (failed == 0) {
            out.println("Sluice can run on this machine" + (warned > 0 ? " (" + warned + " warning" + (warned > 1 ? "s" : "") + ")" : "") + ".");
            return 0;
        }
        out.println(failed + " required check" + (failed > 1 ? "s" : "") + " failed: Sluice cannot run here until "
                + (failed > 1 ? "they are" : "it is") + " fixed.");
        return 1;
    }
}
