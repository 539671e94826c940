package dev.sluice.install;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A renderer for the part of Helm's template language the chart's templates use (helm itself cannot be installed
 * here): {@code {{ pipeline }}} with {@code .Values}, {@code .Release.Namespace}, {@code $variables}, parentheses and
 * the functions and, or, not, eq, default, toString, quote, lower, trimPrefix, printf (%s), toYaml, nindent and
 * sha256sum; {@code if / else if / else / end}; and the {@code {{-} / {@code -}}} whitespace trimming. Anything
 * else in a template is an error, so the chart cannot silently use what this does not check. As Helm does, a key
 * looked up below a missing one is an error.
 */
final class HelmTemplates {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER).enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

    private final Map<String, Object> values;
    private final String namespace;

    HelmTemplates(Map<String, Object> values, String namespace) {
        this.values = values;
        this.namespace = namespace;
    }

    /** Merges {@code over} into {@code base} as Helm merges a user's values over the chart's. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> merge(Map<String, Object> base, Map<String, Object> over) {
        Map<String, Object> out = new LinkedHashMap<>(base);
        over.forEach((k, v) -> {
            if (v instanceof Map<?, ?> m && out.get(k) instanceof Map<?, ?> b) {
                out.put(k, merge((Map<String, Object>) b, (Map<String, Object>) m));
            } else {
                out.put(k, v);
            }
        });
        return out;
    }

    // ---- parsing into nodes

    private sealed interface Node permits Text, Action, If, Assign {
    }

    private record Text(String text) implements Node {
    }

    private record Action(String pipeline) implements Node {
    }

    private record Assign(String variable, String pipeline) implements Node {
    }

    private record Branch(String condition, List<Node> body) {
    }

    private record If(List<Branch> branches, List<Node> otherwise) implements Node {
    }

    private record Token(boolean action, String text) {
    }

    String render(String template) {
        List<Token> tokens = tokenize(template);
        int[] at = {0};
        List<Node> nodes = parse(tokens, at, true);
        StringBuilder out = new StringBuilder();
        run(nodes, new HashMap<>(), out);
        return out.toString();
    }

    private static List<Token> tokenize(String t) {
        List<Token> tokens = new ArrayList<>();
        int i = 0;
        while (i < t.length()) {
            int open = t.indexOf("{{", i);
            if (open < 0) {
                tokens.add(new Token(false, t.substring(i)));
                break;
            }
            String text = t.substring(i, open);
            int close = t.indexOf("}}", open);
            if (close < 0) {
                throw new IllegalArgumentException("unclosed {{ at " + open);
            }
            String inner = t.substring(open + 2, close);
            if (inner.startsWith("-")) {
                text = text.stripTrailing();
                inner = inner.substring(1);
            }
            i = close + 2;
            if (inner.endsWith("-")) {
                inner = inner.substring(0, inner.length() - 1);
                while (i < t.length() && Character.isWhitespace(t.charAt(i))) {
                    i++;
                }
            }
            tokens.add(new Token(false, text));
            tokens.add(new Token(true, inner.strip()));
        }
        return tokens;
    }

    /** Nodes up to an {@code end} or {@code else} (left for the caller), or to the end at top level. */
    private static List<Node> parse(List<Token> tokens, int[] at, boolean top) {
        List<Node> nodes = new ArrayList<>();
        while (at[0] < tokens.size()) {
            Token t = tokens.get(at[0]);
            if (!t.action()) {
                nodes.add(new Text(t.text()));
                at[0]++;
                continue;
            }
            String a = t.text();
            if (a.equals("end") || a.equals("else") || a.startsWith("else if ")) {
                if (top) {
                    throw new IllegalArgumentException("unexpected {{ " + a + " }}");
                }
                return nodes;
            }
            at[0]++;
            if (a.startsWith("if ")) {
                List<Branch> branches = new ArrayList<>();
                String condition = a.substring(3);
                List<Node> otherwise = List.of();
                while (true) {
                    List<Node> body = parse(tokens, at, false);
                    branches.add(new Branch(condition, body));
                    String next = tokens.get(at[0]++).text();
                    if (next.startsWith("else if ")) {
                        condition = next.substring("else if ".length());
                    } else if (next.equals("else")) {
                        otherwise = parse(tokens, at, false);
                        if (!tokens.get(at[0]++).text().equals("end")) {
                            throw new IllegalArgumentException("else without end");
                        }
                        break;
                    } else {
                        break;
                    }
                }
                nodes.add(new If(branches, otherwise));
            } else if (a.matches("\\$\\w+\\s*:?=.*")) {
                int eq = a.indexOf('=');
                nodes.add(new Assign(a.substring(0, eq).replace(":", "").strip(), a.substring(eq + 1).strip()));
            } else {
                nodes.add(new Action(a));
            }
        }
        if (!top) {
            throw new IllegalArgumentException("if without end");
        }
        return nodes;
    }

    private void run(List<Node> nodes, Map<String, Object> vars, StringBuilder out) {
        for (Node n : nodes) {
            switch (n) {
                case Text t -> out.append(t.text());
                case Action a -> out.append(print(pipeline(a.pipeline(), vars)));
                case Assign a -> vars.put(a.variable(), pipeline(a.pipeline(), vars));
                case If f -> {
                    boolean done = false;
                    for (Branch b : f.branches()) {
                        if (truthy(pipeline(b.condition(), vars))) {
                            run(b.body(), vars, out);
                            done = true;
                            break;
                        }
                    }
                    if (!done) {
                        run(f.otherwise(), vars, out);
                    }
                }
            }
        }
    }

    // ---- pipelines

    private Object pipeline(String p, Map<String, Object> vars) {
        Object piped = null;
        boolean first = true;
        for (String command : split(p, '|')) {
            List<String> words = words(command.strip());
            List<Object> args = new ArrayList<>();
            String head = words.getFirst();
            boolean function = head.matches("[a-zA-Z]\\w*") && !head.equals("true") && !head.equals("false");
            for (String w : function ? words.subList(1, words.size()) : words) {
                args.add(operand(w, vars));
            }
            if (!first) {
                args.add(piped);
            }
            if (function) {
                piped = call(head, args);
            } else if (args.size() == 1) {
                piped = args.getFirst();
            } else {
                throw new IllegalArgumentException("not a function: " + head + " in " + p);
            }
            first = false;
        }
        return piped;
    }

    private Object operand(String w, Map<String, Object> vars) {
        if (w.startsWith("(")) {
            return pipeline(w.substring(1, w.length() - 1), vars);
        }
        if (w.startsWith("\"")) {
            return w.substring(1, w.length() - 1).replace("\\\"", "\"");
        }
        if (w.matches("-?\\d+")) {
            return Long.parseLong(w);
        }
        if (w.equals("true") || w.equals("false")) {
            return Boolean.parseBoolean(w);
        }
        if (w.startsWith("$")) {
            if (!vars.containsKey(w)) {
                throw new IllegalArgumentException("undefined variable " + w);
            }
            return vars.get(w);
        }
        if (w.equals(".Release.Namespace")) {
            return namespace;
        }
        if (w.startsWith(".Values")) {
            Object v = values;
            String[] path = w.substring(".Values".length()).split("\\.");
            for (int i = 1; i < path.length; i++) {
                if (v == null) {
                    throw new IllegalArgumentException("nil pointer evaluating " + w);
                }
                v = v instanceof Map<?, ?> m ? m.get(path[i]) : null;
            }
            return v;
        }
        throw new IllegalArgumentException("unsupported operand: " + w);
    }

    private static Object call(String f, List<Object> a) {
        return switch (f) {
            case "and" -> {
                for (Object o : a) {
                    if (!truthy(o)) {
                        yield o;
                    }
                }
                yield a.getLast();
            }
            case "or" -> {
                for (Object o : a) {
                    if (truthy(o)) {
                        yield o;
                    }
                }
                yield a.getLast();
            }
            case "not" -> !truthy(a.getFirst());
            case "eq" -> normal(a.get(0)).equals(normal(a.get(1)));
            case "default" -> truthy(a.get(1)) ? a.get(1) : a.get(0);
            case "toString" -> string(a.getFirst());
            case "quote" -> "\"" + string(a.getFirst()).replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
            case "lower" -> string(a.getFirst()).toLowerCase(Locale.ROOT);
            case "trimPrefix" -> {
                String s = string(a.get(1));
                yield s.startsWith(string(a.get(0))) ? s.substring(string(a.get(0)).length()) : s;
            }
            case "printf" -> {
                String out = string(a.getFirst());
                for (Object o : a.subList(1, a.size())) {
                    out = out.replaceFirst("%s", java.util.regex.Matcher.quoteReplacement(string(o)));
                }
                yield out;
            }
            case "toYaml" -> {
                try {
                    yield YAML.writeValueAsString(a.getFirst()).stripTrailing();
                } catch (JsonProcessingException e) {
                    throw new IllegalArgumentException(e);
                }
            }
            case "nindent" -> {
                String pad = " ".repeat(((Number) a.get(0)).intValue());
                yield "\n" + pad + string(a.get(1)).replace("\n", "\n" + pad);
            }
            case "sha256sum" -> {
                try {
                    yield HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(string(a.getFirst()).getBytes(StandardCharsets.UTF_8)));
                } catch (java.security.NoSuchAlgorithmException e) {
                    throw new IllegalStateException(e);
                }
            }
            default -> throw new IllegalArgumentException("function not supported by this renderer: " + f);
        };
    }

    private static Object normal(Object o) {
        return o instanceof Number n ? (Object) n.doubleValue() : o == null ? "" : o;
    }

    private static String string(Object o) {
        if (o == null) {
            return "";
        }
        if (o instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) {
            return String.valueOf(n.longValue());
        }
        return String.valueOf(o);
    }

    private static String print(Object o) {
        return o == null ? "<no value>" : string(o);
    }

    static boolean truthy(Object o) {
        return switch (o) {
            case null -> false;
            case Boolean b -> b;
            case Number n -> n.doubleValue() != 0;
            case String s -> !s.isEmpty();
            case Map<?, ?> m -> !m.isEmpty();
            case List<?> l -> !l.isEmpty();
            default -> true;
        };
    }

    /** Splits at {@code sep} outside quotes and parentheses. */
    private static List<String> split(String s, char sep) {
        List<String> parts = new ArrayList<>();
        int depth = 0;
        boolean quoted = false;
        int start = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' && (i == 0 || s.charAt(i - 1) != '\\')) {
                quoted = !quoted;
            } else if (!quoted && c == '(') {
                depth++;
            } else if (!quoted && c == ')') {
                depth--;
            } else if (!quoted && depth == 0 && c == sep) {
                parts.add(s.substring(start, i));
                start = i + 1;
            }
        }
        parts.add(s.substring(start));
        return parts;
    }

    private static List<String> words(String s) {
        return split(s, ' ').stream().map(String::strip).filter(w -> !w.isEmpty()).toList();
    }
}
