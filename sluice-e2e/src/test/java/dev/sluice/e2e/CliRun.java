package dev.sluice.e2e;

import dev.sluice.lab.Lab;
import dev.sluice.observe.FlowFormat;
import dev.sluice.observe.v1.Flow;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.stream.Stream;

/**
 * One `sluice ... --lab LAB` command run in the test's JVM (the CLI's own command line, as a user's shell would
 * run it, without a JVM start per command): its exit code and what it printed.
 */
record CliRun(int exit, String out, String err) {

    static CliRun of(Lab lab, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = dev.sluice.cli.Main.commandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        String[] all = Stream.concat(Stream.of(args), Stream.of("--lab", lab.name())).toArray(String[]::new);
        return new CliRun(cli.execute(all), out.toString(), err.toString());
    }

    List<String> lines() {
        return out.lines().toList();
    }

    /** The output of `observe -o json`, a flow a line. */
    List<Flow> flows() {
        return lines().stream().map(l -> {
            try {
                return FlowFormat.parseJson(l);
            } catch (Exception e) {
                throw new AssertionError("not a JSON flow: " + l, e);
            }
        }).toList();
    }
}
