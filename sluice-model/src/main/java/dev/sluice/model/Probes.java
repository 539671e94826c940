package dev.sluice.model;

import io.fabric8.kubernetes.api.model.HTTPHeader;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Probe;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Probes checked as the API server checks them, named ports resolved, Kubernetes' defaults filled in. */
final class Probes {
    private Probes() {
    }

    /** @param liveness liveness probes must have successThreshold 1 (as in the API) */
    static ProbeSpec probe(String at, Probe probe, List<ContainerPort> ports, boolean liveness) {
        if (probe == null) {
            return null;
        }
        List<ProbeSpec.Action> actions = new ArrayList<>();
        if (probe.getHttpGet() != null) {
            var get = probe.getHttpGet();
            String scheme = get.getScheme() == null ? "HTTP" : get.getScheme();
            if (!scheme.equals("HTTP")) {
                throw new FieldProblem(at + ".httpGet.scheme", "must be HTTP (the lab's probes do not speak HTTPS), got " + FieldProblem.show(scheme));
            }
            String path = get.getPath() == null || get.getPath().isEmpty() ? "/" : get.getPath();
            if (!path.startsWith("/")) {
                throw new FieldProblem(at + ".httpGet.path", "must start with '/', got " + FieldProblem.show(path));
            }
            Map<String, String> headers = new LinkedHashMap<>();
            List<HTTPHeader> declared = get.getHttpHeaders() == null ? List.of() : get.getHttpHeaders();
            for (int i = 0; i < declared.size(); i++) {
                if (declared.get(i).getName() == null || declared.get(i).getName().isBlank()) {
                    throw new FieldProblem(at + ".httpGet.httpHeaders[" + i + "].name", "is required");
                }
                headers.put(declared.get(i).getName(), declared.get(i).getValue() == null ? "" : declared.get(i).getValue());
            }
            actions.add(new ProbeSpec.HttpGet(scheme, blankToNull(get.getHost()), port(at + ".httpGet.port", get.getPort(), ports), path, headers));
        }
        if (probe.getTcpSocket() != null) {
            var tcp = probe.getTcpSocket();
            actions.add(new ProbeSpec.TcpSocket(blankToNull(tcp.getHost()), port(at + ".tcpSocket.port", tcp.getPort(), ports)));
        }
        if (probe.getExec() != null) {
            List<String> command = probe.getExec().getCommand() == null ? List.of() : probe.getExec().getCommand();
            if (command.isEmpty()) {
                throw new FieldProblem(at + ".exec.command", "must name a command to run");
            }
            actions.add(new ProbeSpec.Exec(command));
        }
        if (probe.getGrpc() != null) {
            var grpc = probe.getGrpc();
            actions.add(new ProbeSpec.Grpc(Ports.number(at + ".grpc.port", grpc.getPort()),
                    grpc.getService() == null ? "" : grpc.getService()));
        }
        if (actions.size() != 1) {
            throw new FieldProblem(at, actions.isEmpty() ? "must have one of httpGet, tcpSocket, exec or grpc"
                    : "may have only one of httpGet, tcpSocket, exec or grpc, has " + actions.size());
        }
        int initialDelay = seconds(at + ".initialDelaySeconds", probe.getInitialDelaySeconds(), 0, 0);
        int period = seconds(at + ".periodSeconds", probe.getPeriodSeconds(), 10, 1);
        int timeout = seconds(at + ".timeoutSeconds", probe.getTimeoutSeconds(), 1, 1);
        int success = seconds(at + ".successThreshold", probe.getSuccessThreshold(), 1, 1);
        int failure = seconds(at + ".failureThreshold", probe.getFailureThreshold(), 3, 1);
        if (liveness && success != 1) {
            throw new FieldProblem(at + ".successThreshold", "must be 1 for a liveness probe, got " + success);
        }
        return new ProbeSpec(actions.getFirst(), initialDelay, period, timeout, success, failure);
    }

    /** A value with Kubernetes' default when absent (or 0, which the API server defaults too), else at least {@code min}. */
    private static int seconds(String field, Integer value, int byDefault, int min) {
        if (value == null || (value == 0 && min > 0)) {
            return byDefault;
        }
        if (value < min) {
            throw new FieldProblem(field, "must be " + (min == 0 ? "0 or more" : "at least " + min) + ", got " + value);
        }
        return value;
    }

    /** A port by number, or by the name of one of the container's ports. */
    private static int port(String field, IntOrString port, List<ContainerPort> ports) {
        if (port == null || (port.getIntVal() == null && port.getStrVal() == null)) {
            throw new FieldProblem(field, "is required");
        }
        if (port.getIntVal() != null) {
            return Ports.number(field, port.getIntVal());
        }
        String name = port.getStrVal();
        if (name.matches("\\d+")) {
            return Ports.number(field, Integer.parseInt(name));
        }
        return ports.stream().filter(p -> name.equals(p.name())).map(ContainerPort::port).findFirst()
                .orElseThrow(() -> new FieldProblem(field, "names no port of this container: " + FieldProblem.show(name)
                        + " (its ports: " + ports.stream().map(ContainerPort::name).filter(java.util.Objects::nonNull).toList() + ")"));
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
