package dev.sluice.l7.route;

import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/** Envoy's StringMatcher: exact, prefix, suffix, contains or a regular expression (RE2 syntax read as Java's). */
public record StringMatch(Kind kind, String value, boolean ignoreCase) {
    public enum Kind { EXACT, PREFIX, SUFFIX, CONTAINS, REGEX }

    public StringMatch {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(value, "value");
        if (kind == Kind.REGEX && value.startsWith("(?i)")) {
            // The same condition as ignoreCase (how Envoy, which ignores ignore_case for a regex, is told): one form.
            value = value.substring(4);
            ignoreCase = true;
        }
        if (kind == Kind.REGEX) {
            Pattern.compile(value);
        }
    }

    public boolean matches(String text) {
        if (text == null) {
            return false;
        }
        String t = ignoreCase ? text.toLowerCase(Locale.ROOT) : text;
        String v = ignoreCase ? value.toLowerCase(Locale.ROOT) : value;
        return switch (kind) {
            case EXACT -> t.equals(v);
            case PREFIX -> t.startsWith(v);
            case SUFFIX -> t.endsWith(v);
            case CONTAINS -> t.contains(v);
            case REGEX -> Pattern.compile(value, ignoreCase ? Pattern.CASE_INSENSITIVE : 0).matcher(text).matches();
        };
    }
}
