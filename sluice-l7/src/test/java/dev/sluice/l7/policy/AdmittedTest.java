package dev.sluice.l7.policy;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AdmittedTest {
    private static final Function<String, List<String>> NO_HEADERS = name -> List.of();

    @Test
    void rulesAreOredAndAnchored() {
        Admitted a = new Admitted(true, "ok", List.of(
                new HttpRule("GET", "/public.*", null, List.of(), "CiliumNetworkPolicy default/p spec.ingress[0].toPorts[0].rules.http[0]"),
                new HttpRule("POST", "/pkg.Svc/Allowed", null, List.of(new HttpRule.Header("Content-Type", "application/grpc")),
                        "CiliumNetworkPolicy default/q spec.ingress[0].toPorts[0].rules.http[0]")));
        assertTrue(a.denies("GET", "/public/x", "web", NO_HEADERS).isEmpty());
        assertEquals("POST /public is not allowed by the HTTP rules of CiliumNetworkPolicy default/p, CiliumNetworkPolicy default/q",
                a.denies("POST", "/public", "web", NO_HEADERS).orElseThrow());
        assertTrue(a.denies("GET", "/x/public", "web", NO_HEADERS).isPresent());
        Map<String, List<String>> grpc = Map.of("content-type", List.of("application/grpc"));
        assertTrue(a.denies("POST", "/pkg.Svc/Allowed", "", n -> grpc.getOrDefault(n, List.of())).isEmpty());
        assertTrue(a.denies("POST", "/pkg.Svc/Allowed", "", NO_HEADERS).isPresent());
        assertTrue(a.denies("POST", "/pkg.Svc/Other", "", n -> grpc.getOrDefault(n, List.of())).isPresent());
    }

    @Test
    void noRulesMeansAnyRequestAndABadRegexIsRefusedUpFront() {
        assertTrue(Admitted.ANY_REQUEST.denies("DELETE", "/", "", NO_HEADERS).isEmpty());
        assertThrows(java.util.regex.PatternSyntaxException.class, () -> new HttpRule("(", null, null, List.of(), "p"));
        assertThrows(IllegalArgumentException.class, () -> new Admitted(false, "no", List.of(HttpRule.any("p"))));
    }
}
