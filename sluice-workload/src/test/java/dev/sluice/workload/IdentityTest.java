package dev.sluice.workload;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class IdentityTest {
    private final ObjectMapper json = new ObjectMapper();

    @Test
    void versionIsTheVersionLabel() {
        assertEquals("v2", new Identity("p", "ns", "n", Map.of("version", "v2")).version());
        assertEquals("", new Identity("p", "ns", "n", Map.of("app", "a")).version());
    }

    @Test
    void jsonListsIdentityFieldsThenSortedLabels() throws Exception {
        Identity identity = new Identity("product-v1-abc", "shop", "n1", Map.of("version", "v1", "app", "product"));
        assertEquals("{\"pod\":\"product-v1-abc\",\"namespace\":\"shop\",\"node\":\"n1\",\"version\":\"v1\","
                + "\"labels\":{\"app\":\"product\",\"version\":\"v1\"}}", json.writeValueAsString(identity));
    }

    @Test
    void jsonReadsBackAndSkipsFieldsAroundTheIdentity() throws Exception {
        Identity identity = new Identity("p", "ns", "n", Map.of("version", "v1"));
        String reply = "{\"pod\":\"p\",\"namespace\":\"ns\",\"node\":\"n\",\"version\":\"v1\","
                + "\"labels\":{\"version\":\"v1\"},\"protocol\":\"HTTP/1.1\",\"method\":\"GET\",\"path\":\"/\"}";
        assertEquals(identity, json.readValue(reply, Identity.class));
    }
}
