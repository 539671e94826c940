package dev.sluice.model;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Services, checked as the API server would and turned into Sluice's model. */
final class Services {
    private static final Set<String> TYPES = Set.of("ClusterIP", "NodePort", "LoadBalancer", "ExternalName");

    private Services() {
    }

    static ServiceSpec service(Service service, ObjectRef ref, Source source) {
        var spec = service.getSpec();
        if (spec == null) {
            throw new FieldProblem("spec", "is required");
        }
        String type = spec.getType() == null ? "ClusterIP" : spec.getType();
        if (!TYPES.contains(type)) {
            throw new FieldProblem("spec.type", "must be ClusterIP, NodePort, LoadBalancer or ExternalName, got " + FieldProblem.show(type));
        }
        List<ServicePort> ports = ports(spec.getPorts() == null ? List.of() : spec.getPorts(), type);
        boolean clientIpAffinity = switch (spec.getSessionAffinity()) {
            case null -> false;
            case "None" -> false;
            case "ClientIP" -> true;
            default -> throw new FieldProblem("spec.sessionAffinity", "must be None or ClientIP, got " + FieldProblem.show(spec.getSessionAffinity()));
        };
        Map<String, String> selector = new LinkedHashMap<>();
        if (spec.getSelector() != null) {
            spec.getSelector().forEach((key, value) -> selector.put(key, value == null ? "" : value));
        }
        return new ServiceSpec(ref, type, clusterIp(spec.getClusterIP()), ports, selector, clientIpAffinity, source);
    }

    private static String clusterIp(String clusterIp) {
        if (clusterIp == null || clusterIp.isEmpty()) {
            return null;
        }
        if (clusterIp.equals(ServiceSpec.HEADLESS) || Names.isIpv4(clusterIp)) {
            return clusterIp;
        }
        throw new FieldProblem("spec.clusterIP", "must be empty (to allocate one), \"None\" (headless) or an IPv4 address, got "
                + FieldProblem.show(clusterIp));
    }

    private static List<ServicePort> ports(List<io.fabric8.kubernetes.api.model.ServicePort> declared, String type) {
        // An ExternalName Service is a DNS alias: its ports, if any, are informative.
        if (declared.isEmpty() && !type.equals("ExternalName")) {
            throw new FieldProblem("spec.ports", "must list at least one port");
        }
        List<ServicePort> ports = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < declared.size(); i++) {
            var port = declared.get(i);
            String at = "spec.ports[" + i + "]";
            String name = port.getName() == null || port.getName().isEmpty() ? null : port.getName();
            // With several ports, the name is what endpoints and routes refer to.
            if (declared.size() > 1 && name == null) {
                throw new FieldProblem(at + ".name", "is required when a Service has more than one port");
            }
            if (name != null && !names.add(name)) {
                throw new FieldProblem(at + ".name", "must be unique in the Service: " + FieldProblem.show(name) + " is used twice");
            }
            int number = Ports.number(at + ".port", port.getPort());
            ports.add(new ServicePort(name, number, targetPort(at + ".targetPort", port.getTargetPort(), number),
                    Ports.protocol(at + ".protocol", port.getProtocol())));
        }
        return ports;
    }

    private static TargetPort targetPort(String field, IntOrString target, int port) {
        if (target == null) {
            return TargetPort.of(port);
        }
        if (target.getIntVal() != null) {
            return TargetPort.of(Ports.number(field, target.getIntVal()));
        }
        String name = target.getStrVal();
        if (Names.isPortName(name)) {
            return TargetPort.of(name);
        }
        String hint = !name.isEmpty() && name.chars().allMatch(Character::isDigit)
                ? " (a quoted number is read as a port name: write it without quotes)" : "";
        throw new FieldProblem(field, "must be a port number 1..65535 or a port name (at most 15 lowercase letters,"
                + " digits and '-', with at least one letter), got " + FieldProblem.show(name) + hint);
    }
}
