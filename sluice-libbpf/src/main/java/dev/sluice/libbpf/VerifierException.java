package dev.sluice.libbpf;

import java.util.List;

/** The kernel's verifier rejected a program; the exception carries the program's name and the verifier log. */
public final class VerifierException extends BpfException {
    private final String program;
    private final String verifierLog;

    VerifierException(String object, String program, int errno, String verifierLog, List<String> libbpfLog) {
        super("BPF program '" + program + "' in " + object + " was rejected by the verifier: "
                + reason(verifierLog) + "\n--- verifier log (tail) ---\n" + tail(verifierLog, 30), errno, libbpfLog);
        this.program = program;
        this.verifierLog = verifierLog;
    }

    public String program() {
        return program;
    }

    /** The whole verifier log, as the kernel wrote it. */
    public String verifierLog() {
        return verifierLog;
    }

    // The verifier's reason is the last line before the "processed N insns" summary, if any.
    static String reason(String log) {
        List<String> lines = log.lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
        for (int i = lines.size() - 1; i >= 0; i--) {
            String line = lines.get(i);
            if (!line.startsWith("processed ") && !line.startsWith("verification time")
                    && !line.startsWith("stack depth") && !line.startsWith("-- END")) {
                return line;
            }
        }
        return "(no verifier log)";
    }

    private static String tail(String log, int n) {
        List<String> lines = log.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size()));
    }
}
