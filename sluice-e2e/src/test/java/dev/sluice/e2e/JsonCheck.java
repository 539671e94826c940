package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;

import static org.junit.jupiter.api.Assertions.assertEquals;

final class JsonCheck {
    private JsonCheck() {
    }

    static void noFailures(JsonNode summary) {
        assertEquals(0, summary.get("failures").asLong(), summary.toString());
    }
}
