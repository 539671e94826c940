package dev.sluice.l7.xds;

/** xDS resources the proxy cannot use; the message names the resource and field, and goes back in the NACK. */
public final class XdsException extends Exception {
    public XdsException(String message) {
        super(message);
    }
}
