package dev.sluice.workload;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The body of every plain HTTP answer: the pod's {@link Identity} in its JSON form, then how the request reached
 * it. Written with jackson-core's generator, not databind: databind's start-up (about 150 ms) would nearly double
 * the time a lab pod takes to listen.
 */
final class EchoJson {
    private static final JsonFactory FACTORY = new JsonFactory();

    private final Identity identity;

    EchoJson(Identity identity) {
        this.identity = identity;
    }

    byte[] render(String protocol, String method, String path) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try (JsonGenerator json = FACTORY.createGenerator(out)) {
            json.writeStartObject();
            json.writeStringField("pod", identity.pod());
            json.writeStringField("namespace", identity.namespace());
            json.writeStringField("node", identity.node());
            json.writeStringField("version", identity.version());
            json.writeObjectFieldStart("labels");
            for (Map.Entry<String, String> label : identity.labels().entrySet()) {
                json.writeStringField(label.getKey(), label.getValue());
            }
            json.writeEndObject();
            json.writeStringField("protocol", protocol);
            json.writeStringField("method", method);
            json.writeStringField("path", path);
            json.writeEndObject();
        } catch (IOException e) {
            // Writing to memory does not fail; this would be a Jackson bug.
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }
}
