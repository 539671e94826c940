package dev.sluice.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;

/**
 * The training run of the launcher's ahead-of-time class cache (JDK 25, JEP 514): goes through what the
 * read-only commands load (picocli's model of every command, the lab's state, the libbpf binding, gRPC and
 * Netty for `observe`) without changing anything, so that the classes are in the cache. Hidden; output
 * discarded.
 */
@Command(name = "aot-training", hidden = true, description = "Load what read-only commands load (for the launcher's class cache).")
final class AotTrainingCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        String lab = "sluice-aot-training";
        String[][] runs = {
                {"status", "--lab", lab},
                {"lab", "pods", "--lab", lab},
                {"service", "list", "--lab", lab},
                {"observe", "--server", "unix:///nonexistent/sluice-aot-training.sock", "--last", "1"},
                {"help"},
        };
        for (String[] args : runs) {
            CommandLine cli = Main.commandLine();
            cli.setOut(new PrintWriter(new StringWriter()));
            cli.setErr(new PrintWriter(new StringWriter()));
            cli.execute(args);
        }
        try {
            dev.sluice.libbpf.BpfSystem.checkBpfSyscall(); // the binding's classes and its FFM handles
        } catch (RuntimeException | LinkageError e) {
            // without bpf() here the cache is made without them
        }
        return 0;
    }
}
