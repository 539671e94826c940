package dev.sluice.install;

/** What became of one key of the values file: it shows in the rendered objects, or it is reported as unsupported. */
public sealed interface KeyOutcome {
    /** The dotted key, as the file writes it: {@code hubble.relay.enabled}. */
    String key();

    /** @param into the objects (and fields) the key decides, e.g. {@code Deployment sluice-relay, Service sluice-relay} */
    record Rendered(String key, String into) implements KeyOutcome {
        @Override
        public String toString() {
            return key + ": " + into;
        }
    }

    /** @param reason why nothing rendered follows the key, a sentence the user can act on */
    record Unsupported(String key, String reason) implements KeyOutcome {
        @Override
        public String toString() {
            return key + ": unsupported: " + reason;
        }
    }
}
