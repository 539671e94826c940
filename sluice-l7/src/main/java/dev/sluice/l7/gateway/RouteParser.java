package dev.sluice.l7.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.l7.route.HeaderMutation;
import dev.sluice.model.ManifestException;
import dev.sluice.model.OtherObject;
import dev.sluice.model.Source;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Reads one HTTPRoute or GRPCRoute into a {@link ParsedRoute}. A field Sluice does not know, or knows but does not
 * implement, refuses the whole route with a {@link ManifestException} naming file, document, route and field:
 * half a route (a redirect dropped, a mirror ignored) would send requests where its author did not mean them to go.
 */
final class RouteParser {
    private static final Set<String> METHODS = Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH");
    /** RFC 7230 token characters: what a header name may hold. */
    private static final Pattern HEADER_NAME = Pattern.compile("^[A-Za-z0-9!#$%&'*+\\-.^_`|~]+$");

    private RouteParser() {
    }

    /** Builds errors and warnings that name the route's file, document, kind and name, and the field. */
    record Problems(Source source, String kindAndName, Consumer<String> warnings) {
        ManifestException error(String field, String problem) {
            return new ManifestException(source, kindAndName, field, problem);
        }

        void warn(String field, String warning) {
            warnings.accept(source + " (" + kindAndName + "): field " + field + ": " + warning);
        }
    }

    static ParsedRoute parse(OtherObject object, Consumer<String> warnings) {
        String kind = object.kind();
        boolean grpc = kind.equals("GRPCRoute");
        Source source = object.source() != null ? object.source() : new Source(Path.of("cluster"), 0);
        String namespace = object.ref().namespace();
        Problems p = new Problems(source, kind + " " + namespace + "/" + object.ref().name(), warnings);
        if (!GatewayRoutes.versionOk(object)) {
            throw p.error("apiVersion", kind + " is read as " + GatewayRoutes.versions(kind) + ", got \"" + object.apiVersion() + "\"");
        }
        JsonNode body = object.body();
        String created = body.path("metadata").path("creationTimestamp").asText("");
        JsonNode spec = body.path("spec");
        if (!spec.isObject()) {
            throw p.error("spec", "must be a mapping");
        }
        fields(spec, "spec", p, Set.of("parentRefs", "hostnames", "rules"));
        if (spec.has("hostnames") && !spec.path("hostnames").isEmpty()) {
            p.warn("spec.hostnames", "ignored: a route whose parent is a Service applies to the Service's traffic whatever its hostname (GAMMA)");
        }
        List<ParsedRoute.Parent> parents = new ArrayList<>();
        JsonNode parentRefs = list(spec, "parentRefs", "spec", p);
        if (parentRefs.isEmpty()) {
            throw p.error("spec.parentRefs", "a mesh route needs a parentRef naming its Service");
        }
        for (int i = 0; i < parentRefs.size(); i++) {
            String f = "spec.parentRefs[" + i + "]";
            JsonNode ref = parentRefs.get(i);
            fields(ref, f, p, Set.of("group", "kind", "namespace", "name", "port", "sectionName"));
            if (ref.has("sectionName")) {
                throw p.error(f + ".sectionName", "not supported by Sluice (a Service parent is narrowed by port)");
            }
            String name = text(ref, "name", f, p, null);
            Integer port = ref.has("port") ? port(ref.get("port"), f + ".port", p) : null;
            parents.add(new ParsedRoute.Parent(text(ref, "group", f, p, grpcDefaultGroup()), text(ref, "kind", f, p, "Gateway"),
                    text(ref, "namespace", f, p, namespace), name, port));
        }
        List<ParsedRoute.Rule> rules = new ArrayList<>();
        JsonNode rulesNode = list(spec, "rules", "spec", p);
        for (int r = 0; r < rulesNode.size(); r++) {
            rules.add(rule(rulesNode.get(r), "spec.rules[" + r + "]", grpc, namespace, p));
        }
        if (rules.isEmpty()) {
            // The specification's default: one rule matching every request, with no backend (so 500).
            rules.add(new ParsedRoute.Rule(List.of(new ParsedRoute.Match(ParsedRoute.PathKind.PREFIX, "/", null, List.of(), List.of())),
                    List.of(), HeaderMutation.NONE, null));
        }
        return new ParsedRoute(kind, namespace, object.ref().name(), source, created, parents, rules);
    }

    /** parentRef's group defaults to Gateway API's own (a Gateway); a Service parent writes {@code group: ""}. */
    private static String grpcDefaultGroup() {
        return GatewayRoutes.GROUP;
    }

    private static ParsedRoute.Rule rule(JsonNode rule, String f, boolean grpc, String namespace, Problems p) {
        fields(rule, f, p, grpc ? Set.of("name", "matches", "filters", "backendRefs", "sessionPersistence")
                : Set.of("name", "matches", "filters", "backendRefs", "timeouts", "retry", "sessionPersistence"));
        for (String unsupported : List.of("sessionPersistence", "retry")) {
            if (rule.has(unsupported)) {
                throw p.error(f + "." + unsupported, "not supported by Sluice yet");
            }
        }
        List<ParsedRoute.Match> matches = new ArrayList<>();
        JsonNode matchesNode = list(rule, "matches", f, p);
        for (int m = 0; m < matchesNode.size(); m++) {
            matches.add(grpc ? grpcMatch(matchesNode.get(m), f + ".matches[" + m + "]", p)
                    : httpMatch(matchesNode.get(m), f + ".matches[" + m + "]", p));
        }
        if (matches.isEmpty()) {
            matches.add(new ParsedRoute.Match(ParsedRoute.PathKind.PREFIX, "/", null, List.of(), List.of()));
        }
        HeaderMutation modifier = HeaderMutation.NONE;
        JsonNode filters = list(rule, "filters", f, p);
        for (int i = 0; i < filters.size(); i++) {
            String ff = f + ".filters[" + i + "]";
            JsonNode filter = filters.get(i);
            String type = text(filter, "type", ff, p, null);
            if (!type.equals("RequestHeaderModifier")) {
                throw p.error(ff + ".type", type + " is not supported by Sluice (only RequestHeaderModifier)");
            }
            fields(filter, ff, p, Set.of("type", "requestHeaderModifier"));
            if (!modifier.isEmpty()) {
                throw p.error(ff, "a rule takes one RequestHeaderModifier");
            }
            modifier = headerModifier(filter.path("requestHeaderModifier"), ff + ".requestHeaderModifier", p);
        }
        List<ParsedRoute.Backend> backends = new ArrayList<>();
        JsonNode refs = list(rule, "backendRefs", f, p);
        for (int i = 0; i < refs.size(); i++) {
            backends.add(backend(refs.get(i), f + ".backendRefs[" + i + "]", namespace, p));
        }
        Duration timeout = null;
        if (rule.has("timeouts")) {
            JsonNode t = rule.get("timeouts");
            fields(t, f + ".timeouts", p, Set.of("request", "backendRequest"));
            Duration request = t.has("request") ? duration(t.get("request"), f + ".timeouts.request", p) : null;
            Duration backend = t.has("backendRequest") ? duration(t.get("backendRequest"), f + ".timeouts.backendRequest", p) : null;
            if (request != null && backend != null && !request.isZero() && (backend.isZero() || backend.compareTo(request) > 0)) {
                throw p.error(f + ".timeouts.backendRequest", "must not be longer than timeouts.request (" + t.get("request").asText() + ")");
            }
            // Without retries, one backend request is the whole request: the shorter limit applies.
            timeout = request == null ? backend : backend == null || backend.isZero() ? request : backend;
        }
        return new ParsedRoute.Rule(matches, backends, modifier, timeout);
    }

    private static ParsedRoute.Match httpMatch(JsonNode m, String f, Problems p) {
        fields(m, f, p, Set.of("path", "headers", "queryParams", "method"));
        ParsedRoute.PathKind kind = ParsedRoute.PathKind.PREFIX;
        String path = "/";
        if (m.has("path")) {
            JsonNode pm = m.get("path");
            fields(pm, f + ".path", p, Set.of("type", "value"));
            String type = text(pm, "type", f + ".path", p, "PathPrefix");
            path = text(pm, "value", f + ".path", p, "/");
            kind = switch (type) {
                case "Exact" -> ParsedRoute.PathKind.EXACT;
                case "PathPrefix" -> ParsedRoute.PathKind.PREFIX;
                case "RegularExpression" -> ParsedRoute.PathKind.REGEX;
                default -> throw p.error(f + ".path.type", "must be Exact, PathPrefix or RegularExpression, got \"" + type + "\"");
            };
            if (kind == ParsedRoute.PathKind.REGEX) {
                GatewayRoutes.checkRegex(path, p, f + ".path.value");
            } else if (!path.startsWith("/")) {
                throw p.error(f + ".path.value", "must start with \"/\", got \"" + path + "\"");
            }
        }
        String method = null;
        if (m.has("method")) {
            method = text(m, "method", f, p, null);
            if (!METHODS.contains(method)) {
                throw p.error(f + ".method", "must be one of " + METHODS.stream().sorted().toList() + ", got \"" + method + "\"");
            }
        }
        return new ParsedRoute.Match(kind, path, method, values(m, "headers", f, p, true), values(m, "queryParams", f, p, false));
    }

    /** A GRPCRoute method match becomes a path match on {@code /service/method}. */
    private static ParsedRoute.Match grpcMatch(JsonNode m, String f, Problems p) {
        fields(m, f, p, Set.of("method", "headers"));
        ParsedRoute.PathKind kind = ParsedRoute.PathKind.PREFIX;
        String path = "/";
        if (m.has("method")) {
            JsonNode mm = m.get("method");
            String mf = f + ".method";
            fields(mm, mf, p, Set.of("type", "service", "method"));
            String type = text(mm, "type", mf, p, "Exact");
            String service = mm.has("service") ? text(mm, "service", mf, p, null) : null;
            String method = mm.has("method") ? text(mm, "method", mf, p, null) : null;
            if (service == null && method == null) {
                throw p.error(mf, "names neither a service nor a method");
            }
            switch (type) {
                case "Exact" -> {
                    if (service != null && !service.matches("[A-Za-z0-9_.]+")) {
                        throw p.error(mf + ".service", "not a gRPC service name: \"" + service + "\"");
                    }
                    if (method != null && !method.matches("[A-Za-z0-9_]+")) {
                        throw p.error(mf + ".method", "not a gRPC method name: \"" + method + "\"");
                    }
                    if (service != null && method != null) {
                        kind = ParsedRoute.PathKind.EXACT;
                        path = "/" + service + "/" + method;
                    } else if (service != null) {
                        kind = ParsedRoute.PathKind.PREFIX;
                        path = "/" + service;
                    } else {
                        kind = ParsedRoute.PathKind.REGEX;
                        path = "/[^/]+/" + Pattern.quote(method);
                    }
                }
                case "RegularExpression" -> {
                    if (service != null) {
                        GatewayRoutes.checkRegex(service, p, mf + ".service");
                    }
                    if (method != null) {
                        GatewayRoutes.checkRegex(method, p, mf + ".method");
                    }
                    kind = ParsedRoute.PathKind.REGEX;
                    path = "/(?:" + (service == null ? "[^/]+" : service) + ")/(?:" + (method == null ? "[^/]+" : method) + ")";
                }
                default -> throw p.error(mf + ".type", "must be Exact or RegularExpression, got \"" + type + "\"");
            }
        }
        return new ParsedRoute.Match(kind, path, null, values(m, "headers", f, p, true), List.of());
    }

    private static List<ParsedRoute.ValueMatch> values(JsonNode m, String field, String f, Problems p, boolean header) {
        List<ParsedRoute.ValueMatch> out = new ArrayList<>();
        JsonNode list = list(m, field, f, p);
        for (int i = 0; i < list.size(); i++) {
            String vf = f + "." + field + "[" + i + "]";
            JsonNode v = list.get(i);
            fields(v, vf, p, Set.of("type", "name", "value"));
            String type = text(v, "type", vf, p, "Exact");
            String name = text(v, "name", vf, p, null);
            String value = text(v, "value", vf, p, null);
            if (header && !HEADER_NAME.matcher(name).matches()) {
                throw p.error(vf + ".name", "not a header name: \"" + name + "\"");
            }
            boolean regex = switch (type) {
                case "Exact" -> false;
                case "RegularExpression" -> true;
                default -> throw p.error(vf + ".type", "must be Exact or RegularExpression, got \"" + type + "\"");
            };
            if (regex) {
                GatewayRoutes.checkRegex(value, p, vf + ".value");
            }
            out.add(new ParsedRoute.ValueMatch(header ? name.toLowerCase(java.util.Locale.ROOT) : name, value, regex));
        }
        return out;
    }

    private static HeaderMutation headerModifier(JsonNode m, String f, Problems p) {
        if (!m.isObject()) {
            throw p.error(f, "a RequestHeaderModifier filter needs this mapping");
        }
        fields(m, f, p, Set.of("set", "add", "remove"));
        List<Map.Entry<String, String>> set = new ArrayList<>();
        List<Map.Entry<String, String>> add = new ArrayList<>();
        List<String> remove = new ArrayList<>();
        for (String op : List.of("set", "add")) {
            JsonNode list = list(m, op, f, p);
            for (int i = 0; i < list.size(); i++) {
                String hf = f + "." + op + "[" + i + "]";
                fields(list.get(i), hf, p, Set.of("name", "value"));
                String name = text(list.get(i), "name", hf, p, null);
                checkModifiable(name, hf + ".name", p);
                (op.equals("set") ? set : add).add(Map.entry(name, text(list.get(i), "value", hf, p, null)));
            }
        }
        JsonNode list = list(m, "remove", f, p);
        for (int i = 0; i < list.size(); i++) {
            if (!list.get(i).isTextual()) {
                throw p.error(f + ".remove[" + i + "]", "must be a header name");
            }
            checkModifiable(list.get(i).asText(), f + ".remove[" + i + "]", p);
            remove.add(list.get(i).asText());
        }
        return new HeaderMutation(set, add, remove);
    }

    private static void checkModifiable(String name, String field, Problems p) {
        if (!HEADER_NAME.matcher(name).matches() || name.equalsIgnoreCase("host")) {
            throw p.error(field, "cannot modify header \"" + name + "\"");
        }
    }

    private static ParsedRoute.Backend backend(JsonNode b, String f, String namespace, Problems p) {
        fields(b, f, p, Set.of("group", "kind", "name", "namespace", "port", "weight", "filters"));
        if (b.has("filters") && !b.path("filters").isEmpty()) {
            throw p.error(f + ".filters", "backendRef filters are not supported by Sluice");
        }
        String group = text(b, "group", f, p, "");
        String kind = text(b, "kind", f, p, "Service");
        if (!group.isEmpty() || !kind.equals("Service")) {
            throw p.error(f + ".kind", "only Service backendRefs are supported, got " + kind + (group.isEmpty() ? "" : " of group " + group));
        }
        String ns = text(b, "namespace", f, p, namespace);
        if (!ns.equals(namespace)) {
            // Gateway API allows it only with a ReferenceGrant, which Sluice does not read yet.
            throw p.error(f + ".namespace", "a backend in another namespace needs a ReferenceGrant, which Sluice does not support yet");
        }
        if (!b.has("port")) {
            throw p.error(f + ".port", "a Service backendRef needs a port");
        }
        int port = port(b.get("port"), f + ".port", p);
        int weight = 1;
        if (b.has("weight")) {
            JsonNode w = b.get("weight");
            if (!w.canConvertToInt() || !w.isIntegralNumber() || w.asInt() < 0 || w.asInt() > 1_000_000) {
                throw p.error(f + ".weight", "must be an integer 0..1000000, got " + w);
            }
            weight = w.asInt();
        }
        return new ParsedRoute.Backend(ns, text(b, "name", f, p, null), port, weight);
    }

    private static Duration duration(JsonNode node, String field, Problems p) {
        if (!node.isTextual()) {
            throw p.error(field, "must be a duration such as \"10s\" or \"1h30m\", got " + node);
        }
        return GatewayRoutes.duration(node.asText()).orElseThrow(() -> p.error(field,
                "must be a Gateway API duration (e.g. \"10s\", \"500ms\", \"1h30m\"), got \"" + node.asText() + "\""));
    }

    private static int port(JsonNode node, String field, Problems p) {
        if (!node.isIntegralNumber() || node.asInt() < 1 || node.asInt() > 65535) {
            throw p.error(field, "must be a port number 1..65535, got " + node);
        }
        return node.asInt();
    }

    private static void fields(JsonNode node, String f, Problems p, Set<String> known) {
        if (!node.isObject()) {
            throw p.error(f, "must be a mapping");
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!known.contains(name)) {
                throw p.error(f + "." + name, "unknown field");
            }
        }
    }

    private static JsonNode list(JsonNode node, String name, String f, Problems p) {
        JsonNode list = node.path(name);
        if (list.isMissingNode() || list.isNull()) {
            return com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode();
        }
        if (!list.isArray()) {
            throw p.error(f + "." + name, "must be a list");
        }
        return list;
    }

    /** A required string field (when {@code fallback} is null), or its default. */
    private static String text(JsonNode node, String name, String f, Problems p, String fallback) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) {
            if (fallback == null) {
                throw p.error(f + "." + name, "required");
            }
            return fallback;
        }
        if (!v.isTextual()) {
            throw p.error(f + "." + name, "must be a string, got " + v);
        }
        return v.asText();
    }
}
