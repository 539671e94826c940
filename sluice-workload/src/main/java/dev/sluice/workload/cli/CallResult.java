package dev.sluice.workload.cli;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.sluice.workload.EchoClient;
import dev.sluice.workload.Identity;

import java.util.ArrayList;
import java.util.List;

/**
 * One call of {@code sluice call}: who answered and over what, the health status for {@code --health}, or why the
 * call failed. Its JSON form is one line of {@code -o json}.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
record CallResult(int call, boolean ok, String protocol, Identity identity, String health, String error, long atMs) {
    static CallResult answered(int call, EchoClient.Reply reply) {
        return new CallResult(call, true, reply.protocol(), reply.identity(), null, null, System.currentTimeMillis());
    }

    static CallResult health(int call, String status) {
        return new CallResult(call, "SERVING".equals(status), "grpc", null, status, null, System.currentTimeMillis());
    }

    static CallResult failed(int call, Throwable error) {
        return new CallResult(call, false, null, null, null, describe(error), System.currentTimeMillis());
    }

    /** The first message along the causes (java.net.http often has none), else the exception's name. */
    private static String describe(Throwable error) {
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            if (cause.getMessage() != null) {
                return cause.getMessage();
            }
        }
        return error.getClass().getSimpleName();
    }

    /** e.g. "1: product-service-v1-7c9f-abcde (version v1, node n1) over grpc". */
    String text() {
        if (error != null) {
            return call + ": failed: " + error;
        }
        if (health != null) {
            return call + ": " + health;
        }
        List<String> where = new ArrayList<>();
        if (!identity.version().isEmpty()) {
            where.add("version " + identity.version());
        }
        if (!identity.node().isEmpty()) {
            where.add("node " + identity.node());
        }
        String details = where.isEmpty() ? "" : " (" + String.join(", ", where) + ")";
        return call + ": " + identity.pod() + details + " over " + protocol;
    }
}
