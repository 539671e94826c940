package dev.sluice.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The integer constants of C headers, for tests that check Java's copies of them: {@code #define NAME <expr>}
 * lines and enumerators with explicit values ({@code NAME = <expr>,}). Expressions are integer literals (decimal,
 * hex, with U/L suffixes), names defined before, parentheses, and {@code * + - << |}; a define that is anything
 * else (a function-like macro, a string) is left out.
 */
public final class CHeaders {
    private static final Pattern DEFINE = Pattern.compile("^\\s*#\\s*define\\s+([A-Za-z_]\\w*)\\s+(.+?)\\s*$");
    private static final Pattern ENUMERATOR = Pattern.compile("^\\s*([A-Za-z_]\\w*)\\s*=\\s*([^,/]+?)\\s*,?\\s*(?:/[*/].*)?$");

    private CHeaders() {
    }

    /** The repository's root: {@code SLUICE_ROOT} (set by the build), else the nearest directory above with bpf/include. */
    public static Path repositoryRoot() {
        String env = System.getenv("SLUICE_ROOT");
        if (env != null && !env.isBlank() && Files.isDirectory(Path.of(env, "bpf", "include"))) {
            return Path.of(env);
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("bpf/include"))) {
                return p;
            }
        }
        throw new IllegalStateException("no bpf/include above " + Path.of("").toAbsolutePath() + " and SLUICE_ROOT is not set");
    }

    /** Every integer #define of the datapath's headers (bpf/include/*.h), by name, in file and line order. */
    public static Map<String, Long> datapathDefines() {
        try (Stream<Path> files = Files.list(repositoryRoot().resolve("bpf/include"))) {
            return defines(files.filter(f -> f.toString().endsWith(".h")).sorted().toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The integer #defines of {@code headers}, by name. */
    public static Map<String, Long> defines(List<Path> headers) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (Path h : headers) {
            for (String line : lines(h)) {
                Matcher m = DEFINE.matcher(stripComment(line));
                if (m.matches()) {
                    Long v = evaluate(m.group(2), out);
                    if (v != null) {
                        out.put(m.group(1), v);
                    }
                }
            }
        }
        return out;
    }

    /** The enumerators with an explicit value in {@code header} (e.g. linux/in.h's {@code IPPROTO_TCP = 6,}). */
    public static Map<String, Long> enumerators(Path header) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String line : lines(header)) {
            Matcher m = ENUMERATOR.matcher(line);
            if (m.matches()) {
                Long v = evaluate(m.group(2), out);
                if (v != null) {
                    out.put(m.group(1), v);
                }
            }
        }
        return out;
    }

    private static List<String> lines(Path h) {
        try {
            return Files.readAllLines(h);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String stripComment(String line) {
        int c = line.indexOf("/*");
        int d = line.indexOf("//");
        int cut = c < 0 ? d : d < 0 ? c : Math.min(c, d);
        return cut < 0 ? line : line.substring(0, cut);
    }

    /** The value of a constant expression, or null when it is not one this understands. */
    static Long evaluate(String expression, Map<String, Long> known) {
        try {
            Parser p = new Parser(expression, known);
            long v = p.or();
            p.skipSpace();
            return p.at == expression.length() ? v : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static final class Parser {
        final String s;
        final Map<String, Long> known;
        int at;

        Parser(String s, Map<String, Long> known) {
            this.s = s;
            this.known = known;
        }

        void skipSpace() {
            while (at < s.length() && Character.isWhitespace(s.charAt(at))) {
                at++;
            }
        }

        boolean eat(String op) {
            skipSpace();
            if (s.startsWith(op, at)) {
                at += op.length();
                return true;
            }
            return false;
        }

        long or() {
            long v = shift();
            while (eat("|")) {
                v |= shift();
            }
            return v;
        }

        long shift() {
            long v = sum();
            while (eat("<<")) {
                v <<= sum();
            }
            return v;
        }

        long sum() {
            long v = product();
            while (true) {
                if (eat("+")) {
                    v += product();
                } else if (eat("-")) {
                    v -= product();
                } else {
                    return v;
                }
            }
        }

        long product() {
            long v = unary();
            while (eat("*")) {
                v *= unary();
            }
            return v;
        }

        long unary() {
            if (eat("-")) {
                return -unary();
            }
            if (eat("(")) {
                long v = or();
                if (!eat(")")) {
                    throw new IllegalArgumentException("missing )");
                }
                return v;
            }
            skipSpace();
            int start = at;
            while (at < s.length() && (Character.isLetterOrDigit(s.charAt(at)) || s.charAt(at) == '_')) {
                at++;
            }
            String token = s.substring(start, at);
            if (token.isEmpty()) {
                throw new IllegalArgumentException("expected a value at " + start);
            }
            if (Character.isDigit(token.charAt(0))) {
                String digits = token.replaceAll("(?i)[ul]+$", "");
                return digits.startsWith("0x") || digits.startsWith("0X") ? Long.parseUnsignedLong(digits.substring(2), 16)
                        : Long.parseLong(digits);
            }
            Long v = known.get(token);
            if (v == null) {
                throw new IllegalArgumentException("unknown name " + token);
            }
            return v;
        }
    }
}
