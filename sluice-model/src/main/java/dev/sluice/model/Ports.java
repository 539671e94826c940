package dev.sluice.model;

/** The rules container and Service ports share. */
final class Ports {
    private Ports() {
    }

    static int number(String field, Integer port) {
        if (port == null) {
            throw new FieldProblem(field, "is required");
        }
        if (port < 1 || port > 65535) {
            throw new FieldProblem(field, "must be a port number 1..65535, got " + port);
        }
        return port;
    }

    /** Kubernetes' default is TCP; the names are case-sensitive there too. */
    static Protocol protocol(String field, String protocol) {
        if (protocol == null) {
            return Protocol.TCP;
        }
        return switch (protocol) {
            case "TCP" -> Protocol.TCP;
            case "UDP" -> Protocol.UDP;
            case "SCTP" -> Protocol.SCTP;
            default -> throw new FieldProblem(field, "must be TCP, UDP or SCTP, got " + FieldProblem.show(protocol));
        };
    }
}
