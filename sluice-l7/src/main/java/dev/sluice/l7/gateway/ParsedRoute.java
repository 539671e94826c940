package dev.sluice.l7.gateway;

import dev.sluice.l7.route.HeaderMutation;
import dev.sluice.model.Source;

import java.time.Duration;
import java.util.List;

/**
 * An HTTPRoute or GRPCRoute as Sluice reads it, checked; GRPCRoute method matches already made paths.
 *
 * @param creationTimestamp {@code metadata.creationTimestamp} ("" when absent), the first tie-breaker of precedence
 */
record ParsedRoute(String kind, String namespace, String name, Source source, String creationTimestamp,
                   List<Parent> parents, List<Rule> rules) {
    ParsedRoute {
        parents = List.copyOf(parents);
        rules = List.copyOf(rules);
    }

    String kindAndName() {
        return kind + " " + namespace + "/" + name;
    }

    /** A parentRef; {@code port} null for every port of the Service. */
    record Parent(String group, String kind, String namespace, String name, Integer port) {
        boolean isService() {
            return group.isEmpty() && kind.equals("Service");
        }

        @Override
        public String toString() {
            return kind + " " + namespace + "/" + name + (port == null ? "" : ":" + port);
        }
    }

    /** @param timeout the rule's timeout (HTTPRoute's {@code timeouts}), null for none */
    record Rule(List<Match> matches, List<Backend> backends, HeaderMutation headerModifier, Duration timeout) {
        Rule {
            matches = List.copyOf(matches);
            backends = List.copyOf(backends);
        }
    }

    /** In precedence order: an exact path before a regular expression before a prefix. */
    enum PathKind { EXACT, REGEX, PREFIX }

    /** @param method the HTTP method, or null for any */
    record Match(PathKind pathKind, String path, String method, List<ValueMatch> headers, List<ValueMatch> queryParams) {
        Match {
            headers = List.copyOf(headers);
            queryParams = List.copyOf(queryParams);
        }

        int pathLength() {
            return path.length();
        }
    }

    /** A header or query parameter match: exact, or a regular expression. */
    record ValueMatch(String name, String value, boolean regex) {
    }

    record Backend(String namespace, String name, int port, int weight) {
    }
}
