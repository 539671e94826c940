package dev.sluice.cli.lab;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Progress rewrites one terminal line and clears it at the end; piped, it prints nothing. */
class ProgressTest {
    @Test
    void onATerminalOneLineIsRewrittenThenCleared() {
        StringWriter text = new StringWriter();
        try (Progress p = new Progress(new PrintWriter(text), true)) {
            p.listener().accept("starting pod default/a on node-1");
            p.listener().accept("waiting for pod default/a to be ready (its readiness probe)");
        }
        String out = text.toString();
        assertTrue(out.matches("(?s)\r\033\\[K\\[ *\\d+\\.\\ds] starting pod default/a on node-1\r\033\\[K\\[ *\\d+\\.\\ds] waiting for pod"
                + " default/a to be ready \\(its readiness probe\\)\r\033\\[K"), out);
        assertEquals(-1, out.indexOf('\n'), "never a new line: the command's own output stays as it was");
    }

    @Test
    void pipedItPrintsNothing() {
        StringWriter text = new StringWriter();
        try (Progress p = new Progress(new PrintWriter(text), false)) {
            p.listener().accept("starting pod default/a on node-1");
        }
        assertEquals("", text.toString());
    }
}
