package dev.sluice.policy;

import dev.sluice.model.ContainerPort;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.Protocol;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The small cluster every scenario runs in: three namespaces, a handful of pods with named ports, and the peers
 * outside them. Policies are read from YAML through the same path users' manifests take.
 */
final class Cluster {
    static final Map<String, Map<String, String>> NAMESPACES = Map.of(
            "prod", Map.of("team", "a", "env", "prod"),
            "staging", Map.of("env", "staging"),
            "kube-system", Map.of());

    final IdentityAllocator allocator = new IdentityAllocator();
    final Map<String, Endpoint> pods = new LinkedHashMap<>();
    final List<String> warnings = new ArrayList<>();

    Cluster() {
        pod("prod", "web", Map.of("app", "web", "tier", "front", "pod-template-hash", "7d9f"),
                port("http", 8080, Protocol.TCP), port("metrics", 9090, Protocol.TCP));
        pod("prod", "api", Map.of("app", "api", "version", "v1"), port("grpc", 50051, Protocol.TCP));
        pod("prod", "db", Map.of("app", "db"), port("postgres", 5432, Protocol.TCP));
        pod("prod", "client", Map.of("app", "client"));
        pod("staging", "web", Map.of("app", "web", "tier", "front"), port("http", 8080, Protocol.TCP));
        pod("staging", "client", Map.of("app", "client"));
        pod("kube-system", "dns", Map.of("k8s-app", "kube-dns"),
                port("dns", 53, Protocol.UDP), port("dns-tcp", 53, Protocol.TCP));
        // A second replica of prod/web (same labels, so the same identity) at 10.244.0.17.
        pod("prod", "web-2", Map.of("app", "web", "tier", "front", "pod-template-hash", "7d9f"),
                port("http", 8080, Protocol.TCP), port("metrics", 9090, Protocol.TCP));
    }

    /** Pods are numbered 10.244.0.10, .11, ... in the order they are made: ipBlocks select them by address. */
    private void pod(String namespace, String name, Map<String, String> labels, ContainerPort... ports) {
        java.net.Inet4Address address = (java.net.Inet4Address) Cidr.address("10.244.0." + (10 + pods.size()));
        pods.put(namespace + "/" + name, Endpoint.of(allocator, namespace, name, labels, NAMESPACES.get(namespace), List.of(ports))
                .at(address));
    }

    private static ContainerPort port(String name, int number, Protocol protocol) {
        return new ContainerPort(name, number, protocol);
    }

    Endpoint pod(String namespaceAndName) {
        Endpoint pod = pods.get(namespaceAndName);
        if (pod == null) {
            throw new IllegalArgumentException("no pod " + namespaceAndName);
        }
        return pod;
    }

    /** {@code prod/web}, {@code host}, {@code world}, {@code remote-node}, ... or {@code ip:203.0.113.7}. */
    Peer peer(String text) {
        if (text.startsWith("ip:")) {
            return Peer.External.of(text.substring(3));
        }
        if (text.contains("/")) {
            return pod(text);
        }
        for (ReservedIdentity reserved : ReservedIdentity.values()) {
            if (reserved.label().equals(text)) {
                return new Peer.Reserved(reserved);
            }
        }
        throw new IllegalArgumentException("no peer " + text);
    }

    /** The policies in {@code yaml}, written to {@code dir/file} and read with {@link ManifestReader}. */
    PolicySet policies(Path dir, String file, String yaml) {
        try {
            Path path = dir.resolve(file);
            Files.writeString(path, yaml);
            return PolicyParser.parseAll(ManifestReader.read(List.of(path)).others(), warnings::add);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
