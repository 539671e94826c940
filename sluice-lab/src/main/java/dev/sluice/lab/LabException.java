package dev.sluice.lab;

/** A lab operation that cannot be done, with a message for the user. The lab is left as it was. */
public class LabException extends RuntimeException {
    public LabException(String message) {
        super(message);
    }

    public LabException(String message, Throwable cause) {
        super(message, cause);
    }
}
