package dev.sluice.workload;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class EchoJsonTest {
    @Test
    void writesIdentityExactlyAsDatabindDoesThenTheRequest() throws Exception {
        ObjectMapper databind = new ObjectMapper();
        Identity identity = new Identity("pod \"a\"", "shop", "n1", Map.of("version", "v1", "app", "ünïcode"));
        ObjectNode expected = databind.<ObjectNode>valueToTree(identity)
                .put("protocol", "HTTP/1.1")
                .put("method", "GET")
                .put("path", "/x?y=z");
        byte[] body = new EchoJson(identity).render("HTTP/1.1", "GET", "/x?y=z");
        assertEquals(databind.writeValueAsString(expected), new String(body, "UTF-8"));
    }
}
