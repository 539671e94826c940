package dev.sluice.cli.lab;

import java.io.PrintWriter;
import java.util.function.Consumer;

/**
 * What a long lab command is doing, on one line of the terminal that is rewritten as it goes ("starting pod ...",
 * "waiting for pod ... to be ready (its readiness probe)"), and cleared at the end. When the output is not a terminal
 * (piped, a script, a test) it prints nothing: the command's own line-oriented report is what scripts read.
 */
public final class Progress implements AutoCloseable {
    private final PrintWriter err;
    private final boolean terminal;
    private final long start = System.currentTimeMillis();
    private boolean shown;

    Progress(PrintWriter err, boolean terminal) {
        this.err = err;
        this.terminal = terminal;
    }

    /** Progress on {@code err} if this process runs on a terminal. */
    public static Progress on(PrintWriter err) {
        java.io.Console console = System.console();
        return new Progress(err, console != null && console.isTerminal());
    }

    public Consumer<String> listener() {
        return step -> {
            if (!terminal) {
                return;
            }
            // \r and erase-line: one line rewritten, the elapsed time in front.
            err.printf("\r\033[K[%5.1fs] %s", (System.currentTimeMillis() - start) / 1000.0, step);
            err.flush();
            shown = true;
        };
    }

    @Override
    public void close() {
        if (shown) {
            err.print("\r\033[K");
            err.flush();
        }
    }
}
