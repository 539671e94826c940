package dev.sluice.model;

/**
 * Where a Service port sends traffic: a port number, or the name of a container port (resolved per pod,
 * since pods of one Service may number the same named port differently).
 *
 * @param number the port when not named, else 0
 * @param name the container port's name, or null
 */
public record TargetPort(int number, String name) {
    public TargetPort {
        if (name == null ? number < 1 || number > 65535 : number != 0) {
            throw new IllegalArgumentException("a target port is a number 1..65535 or a name, got " + number + " and " + name);
        }
    }

    public static TargetPort of(int number) {
        return new TargetPort(number, null);
    }

    public static TargetPort of(String name) {
        return new TargetPort(0, name);
    }

    public boolean named() {
        return name != null;
    }

    @Override
    public String toString() {
        return named() ? name : Integer.toString(number);
    }
}
