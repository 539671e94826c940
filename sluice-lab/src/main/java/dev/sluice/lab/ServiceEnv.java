package dev.sluice.lab;

import dev.sluice.model.ServicePort;
import dev.sluice.model.ServiceSpec;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The variables the kubelet gives a container for each Service of its namespace that has a ClusterIP when the
 * container starts ({@code enableServiceLinks}, on by default): {@code WEB_SERVICE_HOST}, {@code WEB_SERVICE_PORT}
 * (the first port), {@code WEB_SERVICE_PORT_GRPC} per named port, and the Docker-link style {@code WEB_PORT},
 * {@code WEB_PORT_50051_TCP}, {@code ..._PROTO}, {@code ..._PORT}, {@code ..._ADDR}. Services made later are
 * found through DNS, as in Kubernetes.
 *
 * <p>Bounded: past {@link #LIMIT_BYTES} of variables (about 1,500 Services in one namespace) none are given, and
 * the lab says so. The kernel refuses to start a process whose environment and arguments pass a quarter of its
 * stack limit (E2BIG; 2 MiB by default), which is how a Kubernetes pod in a namespace with thousands of Services
 * fails ("argument list too long", the reason for {@code enableServiceLinks: false}); a lab pod starts instead,
 * and finds its Services through DNS.
 */
final class ServiceEnv {
    private ServiceEnv() {
    }

    /** The most bytes of Service variables a container is given (a quarter of what the kernel accepts). */
    static final int LIMIT_BYTES = 512 * 1024;

    static Map<String, String> of(String namespace, Iterable<ServiceSpec> services, Map<String, String> clusterIps) {
        Map<String, String> env = links(namespace, services, clusterIps);
        long bytes = env.entrySet().stream().mapToLong(e -> e.getKey().length() + e.getValue().length() + 2).sum();
        if (bytes > LIMIT_BYTES) {
            System.err.println("lab: namespace " + namespace + " has too many Services for their environment variables ("
                    + env.size() + " variables, " + bytes / 1024 + " KiB; at most " + LIMIT_BYTES / 1024
                    + " KiB are given): its containers get none, and find Services through cluster DNS");
            return Map.of();
        }
        return env;
    }

    private static Map<String, String> links(String namespace, Iterable<ServiceSpec> services, Map<String, String> clusterIps) {
        Map<String, String> env = new LinkedHashMap<>();
        for (ServiceSpec s : services) {
            String ip = clusterIps.get(s.ref().toString());
            if (!s.ref().namespace().equals(namespace) || s.headless() || ip == null || s.ports().isEmpty()) {
                continue;
            }
            String name = s.ref().name().toUpperCase(Locale.ROOT).replace('-', '_');
            env.put(name + "_SERVICE_HOST", ip);
            env.put(name + "_SERVICE_PORT", Integer.toString(s.ports().getFirst().port()));
            for (ServicePort p : s.ports()) {
                if (p.name() != null) {
                    env.put(name + "_SERVICE_PORT_" + p.name().toUpperCase(Locale.ROOT).replace('-', '_'), Integer.toString(p.port()));
                }
            }
            ServicePort first = s.ports().getFirst();
            env.put(name + "_PORT", url(first, ip));
            for (ServicePort p : s.ports()) {
                String proto = p.protocol().name();
                String prefix = name + "_PORT_" + p.port() + "_" + proto;
                env.put(prefix, url(p, ip));
                env.put(prefix + "_PROTO", proto.toLowerCase(Locale.ROOT));
                env.put(prefix + "_PORT", Integer.toString(p.port()));
                env.put(prefix + "_ADDR", ip);
            }
        }
        return env;
    }

    private static String url(ServicePort p, String ip) {
        return p.protocol().name().toLowerCase(Locale.ROOT) + "://" + ip + ":" + p.port();
    }
}
