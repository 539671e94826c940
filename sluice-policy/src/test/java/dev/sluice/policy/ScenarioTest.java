package dev.sluice.policy;

import static dev.sluice.policy.Direction.EGRESS;
import static dev.sluice.policy.Direction.INGRESS;
import static dev.sluice.model.Protocol.SCTP;
import static dev.sluice.model.Protocol.TCP;
import static dev.sluice.model.Protocol.UDP;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sluice.model.Protocol;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The reference evaluator on the scenarios users meet, each asserting the verdict and its attribution: which
 * policy and rule allowed or denied the connection, or that no policy was involved.
 */
class ScenarioTest {
    @TempDir
    Path dir;

    /**
     * @param expect {@code ALLOW none} (no policy involved), {@code ALLOW <policy> <rule>}, or
     *               {@code DENY <code> <policy> <rule>} with Cilium's drop reason code, 133 or 181
     */
    record Scenario(String name, String policies, String local, Direction direction, String remote, Protocol proto,
                    int port, String expect) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static Scenario s(String name, String policies, String local, Direction direction, String remote,
                              Protocol proto, int port, String expect) {
        return new Scenario(name, policies, local, direction, remote, proto, port, expect);
    }

    // L3 by labels: a peer selector without a namespace means the policy's own namespace.
    static final String API_FROM_FRONT = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: api-from-front, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: api}}
              ingress:
              - fromEndpoints:
                - matchLabels: {tier: front}
            """;

    // Across namespaces: by the namespace label, and by a label of the namespace.
    static final String API_FROM_STAGING = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: api-from-staging, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: api}}
              ingress:
              - fromEndpoints:
                - matchLabels: {k8s:io.kubernetes.pod.namespace: staging, k8s:app: client}
              - fromEndpoints:
                - matchLabels: {io.cilium.k8s.namespace.labels.env: staging, tier: front}
            """;

    static final String EXPRESSIONS = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: expressions, namespace: prod}
            spec:
              endpointSelector:
                matchExpressions:
                - {key: app, operator: In, values: [api, db]}
              ingress:
              - fromEndpoints:
                - matchExpressions:
                  - {key: app, operator: In, values: [client, web]}
                  - {key: tier, operator: DoesNotExist}
              - fromEndpoints:
                - matchExpressions:
                  - {key: k8s:io.kubernetes.pod.namespace, operator: In, values: [staging]}
                  - {key: app, operator: NotIn, values: [client]}
            """;

    // L4: toPorts alone allows those ports from any peer; ranges; ANY covers TCP, UDP and SCTP.
    static final String WEB_PORTS = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: web-ports, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              ingress:
              - toPorts:
                - ports:
                  - {port: "8080", protocol: TCP}
                  - {port: "9000", endPort: 9100, protocol: TCP}
              - fromEndpoints:
                - matchLabels: {app: api}
                toPorts:
                - ports:
                  - port: "53"
            """;

    static final String NAMED_PORTS = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: named-ports, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              ingress:
              - toPorts:
                - ports:
                  - {port: http, protocol: TCP}
              egress:
              - toEndpoints:
                - matchLabels: {app: db}
                toPorts:
                - ports:
                  - port: postgres
              - toPorts:
                - ports:
                  - {port: GRPC, protocol: TCP}
            """;

    static final String API_CIDR = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: api-cidr, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: api}}
              egress:
              - toCIDRSet:
                - cidr: 10.0.0.0/8
                  except: [10.96.0.0/12]
              - toCIDR: [192.0.2.10]
                toPorts:
                - ports:
                  - {port: "443", protocol: TCP}
            """;

    static final String DB_ENTITIES = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: db-entities, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: db}}
              ingress:
              - fromEntities: [cluster]
              egress:
              - toEntities: [world]
                toPorts:
                - ports:
                  - {port: "443", protocol: TCP}
              - toEntities: [host]
            """;

    // Deny beats allow; a clusterwide policy of deny rules only still puts what it selects in default deny.
    static final String DENIES = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: api-open, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: api}}
              ingress:
              - fromEntities: [all]
              ingressDeny:
              - fromEndpoints:
                - matchLabels: {app: db}
                toPorts:
                - ports:
                  - {port: "50051", protocol: TCP}
            ---
            apiVersion: cilium.io/v2
            kind: CiliumClusterwideNetworkPolicy
            metadata: {name: no-world}
            spec:
              endpointSelector: {}
              ingressDeny:
              - fromEntities: [world]
            """;

    static final String CLIENT_TO_API = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: client-out, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: client}}
              egress:
              - toEndpoints:
                - matchLabels: {app: api}
                toPorts:
                - ports:
                  - {port: "50051", protocol: TCP}
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: api-in, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: api}}
              ingress:
              - fromEndpoints:
                - matchLabels: {app: client}
            """;

    // Clusterwide: {} selects every pod; a peer {} means every pod of any namespace, not the world.
    static final String CLUSTERWIDE = """
            apiVersion: cilium.io/v2
            kind: CiliumClusterwideNetworkPolicy
            metadata: {name: dns-only}
            specs:
            - endpointSelector: {matchLabels: {app: web}}
              egress:
              - toEndpoints:
                - matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}
                toPorts:
                - ports:
                  - {port: "53", protocol: UDP}
            - endpointSelector: {matchLabels: {app: db}}
              ingress:
              - fromEndpoints: [{}]
            """;

    static final String NAMESPACE_WIDE = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: db-from-namespace, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: db}}
              ingress:
              - fromEndpoints: [{}]
            """;

    static final String NETPOL = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: api-np, namespace: prod}
            spec:
              podSelector:
                matchLabels: {app: api}
              ingress:
              - from:
                - namespaceSelector:
                    matchLabels: {env: staging}
                  podSelector:
                    matchLabels: {app: client}
                - podSelector:
                    matchLabels: {app: web}
                ports:
                - port: 50051
              - from:
                - ipBlock:
                    cidr: 203.0.113.0/24
                    except: [203.0.113.128/25]
            """;

    /** prod/web is 10.244.0.10, prod/api .11, prod/db .12, prod/client .13, staging/web .14, web-2 .17 (Cluster). */
    static final String IPBLOCK_PODS = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: client-egress, namespace: prod}
            spec:
              podSelector:
                matchLabels: {app: client}
              policyTypes: [Egress]
              egress:
              - to:
                - ipBlock: {cidr: 10.244.0.10/32}
              - to:
                - ipBlock:
                    cidr: 10.244.0.0/24
                    except: [10.244.0.12/32, 10.244.0.16/30]
                ports:
                - port: 50051
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: db-ingress, namespace: prod}
            spec:
              podSelector:
                matchLabels: {app: db}
              ingress:
              - from:
                - ipBlock: {cidr: 10.244.0.13/32}
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: web-cidr, namespace: staging}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              egress:
              - toCIDR: [10.244.0.10/32]
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata:
              name: client-cidr
              namespace: staging
              annotations: {policy.sluice.dev/cidr-selects-pods: "true"}
            spec:
              endpointSelector: {matchLabels: {app: client}}
              egress:
              - toCIDRSet: [{cidr: 10.244.0.0/24, except: [10.244.0.11/32]}]
            """;

    static final String NETPOL_TYPES = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: no-egress, namespace: prod}
            spec:
              podSelector: {}
              policyTypes: [Egress]
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: db-from-any-namespace, namespace: prod}
            spec:
              podSelector:
                matchLabels: {app: db}
              ingress:
              - from:
                - namespaceSelector: {}
                ports:
                - {protocol: UDP}
              - from:
                - namespaceSelector:
                    matchLabels: {kubernetes.io/metadata.name: kube-system}
            """;

    static final String NETPOL_DEFAULTS = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: deny-all, namespace: staging}
            spec:
              podSelector: {}
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: allow-all, namespace: prod}
            spec:
              podSelector:
                matchLabels: {app: web}
              ingress:
              - {}
            """;

    static final String EMPTY_RULES = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: deny-web-ingress, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              ingress:
              - {}
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: empty-list, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: api}}
              ingress: []
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: additive, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: db}}
              enableDefaultDeny: {ingress: false}
              ingress:
              - fromEndpoints:
                - matchLabels: {app: api}
            """;

    static final String L7 = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: web-l7, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              ingress:
              - fromEndpoints:
                - matchLabels: {app: api}
                toPorts:
                - ports:
                  - {port: "8080", protocol: TCP}
                  rules:
                    http:
                    - {method: GET, path: /health}
              - fromEndpoints:
                - matchLabels: {app: db}
                toPorts:
                - ports:
                  - {port: "8080", protocol: TCP}
            """;

    static Stream<Scenario> scenarios() {
        return Stream.of(
                // L3 by labels
                s("label selector allows its peer", API_FROM_FRONT, "prod/api", INGRESS, "prod/web", TCP, 50051,
                        "ALLOW CiliumNetworkPolicy prod/api-from-front spec.ingress[0]"),
                s("peer without the label is denied by default", API_FROM_FRONT, "prod/api", INGRESS, "prod/db", TCP, 50051,
                        "DENY 133 CiliumNetworkPolicy prod/api-from-front spec.endpointSelector"),
                s("same labels in another namespace are not the policy's namespace", API_FROM_FRONT, "prod/api", INGRESS,
                        "staging/web", TCP, 50051, "DENY 133 CiliumNetworkPolicy prod/api-from-front spec.endpointSelector"),
                s("an endpoint no policy selects allows everything", API_FROM_FRONT, "prod/web", INGRESS, "ip:203.0.113.7",
                        TCP, 80, "ALLOW none"),
                s("an ingress policy leaves egress open", API_FROM_FRONT, "prod/api", EGRESS, "ip:203.0.113.7", TCP, 443,
                        "ALLOW none"),
                s("namespace label selects another namespace", API_FROM_STAGING, "prod/api", INGRESS, "staging/client",
                        TCP, 50051, "ALLOW CiliumNetworkPolicy prod/api-from-staging spec.ingress[0]"),
                s("namespace's own labels select its pods", API_FROM_STAGING, "prod/api", INGRESS, "staging/web", TCP,
                        50051, "ALLOW CiliumNetworkPolicy prod/api-from-staging spec.ingress[1]"),
                s("a namespace-label selector does not take in the policy's namespace", API_FROM_STAGING, "prod/api",
                        INGRESS, "prod/web", TCP, 50051, "DENY 133 CiliumNetworkPolicy prod/api-from-staging spec.endpointSelector"),

                // matchExpressions
                s("In and DoesNotExist both hold", EXPRESSIONS, "prod/db", INGRESS, "prod/client", TCP, 5432,
                        "ALLOW CiliumNetworkPolicy prod/expressions spec.ingress[0]"),
                s("DoesNotExist fails on a present label", EXPRESSIONS, "prod/db", INGRESS, "prod/web", TCP, 5432,
                        "DENY 133 CiliumNetworkPolicy prod/expressions spec.endpointSelector"),
                s("namespace In and NotIn", EXPRESSIONS, "prod/api", INGRESS, "staging/web", TCP, 50051,
                        "ALLOW CiliumNetworkPolicy prod/expressions spec.ingress[1]"),
                s("NotIn excludes its value", EXPRESSIONS, "prod/api", INGRESS, "staging/client", TCP, 50051,
                        "DENY 133 CiliumNetworkPolicy prod/expressions spec.endpointSelector"),
                s("endpointSelector In leaves other pods alone", EXPRESSIONS, "prod/web", INGRESS, "staging/client", TCP,
                        8080, "ALLOW none"),

                // L4 ports and ranges, protocol ANY vs TCP/UDP
                s("toPorts alone allows the port from any pod", WEB_PORTS, "prod/web", INGRESS, "prod/db", TCP, 8080,
                        "ALLOW CiliumNetworkPolicy prod/web-ports spec.ingress[0]"),
                s("toPorts alone allows the port from the world", WEB_PORTS, "prod/web", INGRESS, "ip:198.51.100.1", TCP,
                        8080, "ALLOW CiliumNetworkPolicy prod/web-ports spec.ingress[0]"),
                s("TCP port does not allow UDP", WEB_PORTS, "prod/web", INGRESS, "prod/db", UDP, 8080,
                        "DENY 133 CiliumNetworkPolicy prod/web-ports spec.endpointSelector"),
                s("inside an endPort range", WEB_PORTS, "prod/web", INGRESS, "prod/db", TCP, 9050,
                        "ALLOW CiliumNetworkPolicy prod/web-ports spec.ingress[0]"),
                s("range includes its end", WEB_PORTS, "prod/web", INGRESS, "prod/db", TCP, 9100,
                        "ALLOW CiliumNetworkPolicy prod/web-ports spec.ingress[0]"),
                s("just past the range", WEB_PORTS, "prod/web", INGRESS, "prod/db", TCP, 9101,
                        "DENY 133 CiliumNetworkPolicy prod/web-ports spec.endpointSelector"),
                s("protocol omitted is ANY: UDP", WEB_PORTS, "prod/web", INGRESS, "prod/api", UDP, 53,
                        "ALLOW CiliumNetworkPolicy prod/web-ports spec.ingress[1]"),
                s("protocol omitted is ANY: SCTP", WEB_PORTS, "prod/web", INGRESS, "prod/api", SCTP, 53,
                        "ALLOW CiliumNetworkPolicy prod/web-ports spec.ingress[1]"),
                s("peer and port combine with AND", WEB_PORTS, "prod/web", INGRESS, "prod/db", UDP, 53,
                        "DENY 133 CiliumNetworkPolicy prod/web-ports spec.endpointSelector"),

                // named ports resolve against the destination pod
                s("named port of the local pod on ingress", NAMED_PORTS, "prod/web", INGRESS, "prod/db", TCP, 8080,
                        "ALLOW CiliumNetworkPolicy prod/named-ports spec.ingress[0]"),
                s("another of its ports is not the named one", NAMED_PORTS, "prod/web", INGRESS, "prod/db", TCP, 9090,
                        "DENY 133 CiliumNetworkPolicy prod/named-ports spec.endpointSelector"),
                s("named port of the destination on egress", NAMED_PORTS, "prod/web", EGRESS, "prod/db", TCP, 5432,
                        "ALLOW CiliumNetworkPolicy prod/named-ports spec.egress[0]"),
                s("named port with the protocol the container serves it on", NAMED_PORTS, "prod/web", EGRESS, "prod/db",
                        UDP, 5432, "DENY 133 CiliumNetworkPolicy prod/named-ports spec.endpointSelector"),
                s("port names are compared without case", NAMED_PORTS, "prod/web", EGRESS, "prod/api", TCP, 50051,
                        "ALLOW CiliumNetworkPolicy prod/named-ports spec.egress[1]"),
                s("a named port does not resolve outside the cluster", NAMED_PORTS, "prod/web", EGRESS, "ip:203.0.113.7",
                        TCP, 50051, "DENY 133 CiliumNetworkPolicy prod/named-ports spec.endpointSelector"),

                // CIDR with except
                s("inside the CIDR", API_CIDR, "prod/api", EGRESS, "ip:10.1.2.3", TCP, 80,
                        "ALLOW CiliumNetworkPolicy prod/api-cidr spec.egress[0]"),
                s("in the except list", API_CIDR, "prod/api", EGRESS, "ip:10.96.5.5", TCP, 80,
                        "DENY 133 CiliumNetworkPolicy prod/api-cidr spec.endpointSelector"),
                s("bare address with a port", API_CIDR, "prod/api", EGRESS, "ip:192.0.2.10", TCP, 443,
                        "ALLOW CiliumNetworkPolicy prod/api-cidr spec.egress[1]"),
                s("bare address on another port", API_CIDR, "prod/api", EGRESS, "ip:192.0.2.10", TCP, 80,
                        "DENY 133 CiliumNetworkPolicy prod/api-cidr spec.endpointSelector"),
                s("a CIDR never matches a pod", API_CIDR, "prod/api", EGRESS, "prod/db", TCP, 5432,
                        "DENY 133 CiliumNetworkPolicy prod/api-cidr spec.endpointSelector"),

                // entities
                s("cluster takes in other nodes", DB_ENTITIES, "prod/db", INGRESS, "remote-node", TCP, 5432,
                        "ALLOW CiliumNetworkPolicy prod/db-entities spec.ingress[0]"),
                s("cluster takes in pods of any namespace", DB_ENTITIES, "prod/db", INGRESS, "staging/client", TCP, 5432,
                        "ALLOW CiliumNetworkPolicy prod/db-entities spec.ingress[0]"),
                s("the world is not the cluster", DB_ENTITIES, "prod/db", INGRESS, "ip:203.0.113.7", TCP, 5432,
                        "DENY 133 CiliumNetworkPolicy prod/db-entities spec.endpointSelector"),
                s("world takes in outside addresses", DB_ENTITIES, "prod/db", EGRESS, "ip:203.0.113.7", TCP, 443,
                        "ALLOW CiliumNetworkPolicy prod/db-entities spec.egress[0]"),
                s("world takes in the reserved world", DB_ENTITIES, "prod/db", EGRESS, "world", TCP, 443,
                        "ALLOW CiliumNetworkPolicy prod/db-entities spec.egress[0]"),
                s("host entity", DB_ENTITIES, "prod/db", EGRESS, "host", TCP, 10250,
                        "ALLOW CiliumNetworkPolicy prod/db-entities spec.egress[1]"),
                s("host is not remote-node", DB_ENTITIES, "prod/db", EGRESS, "remote-node", TCP, 10250,
                        "DENY 133 CiliumNetworkPolicy prod/db-entities spec.endpointSelector"),
                s("world is not a pod", DB_ENTITIES, "prod/db", EGRESS, "prod/api", TCP, 443,
                        "DENY 133 CiliumNetworkPolicy prod/db-entities spec.endpointSelector"),
                s("the local host always reaches local pods", API_FROM_FRONT, "prod/api", INGRESS, "host", TCP, 50051,
                        "ALLOW none"),

                // deny beats allow
                s("deny rule wins over an allow-all", DENIES, "prod/api", INGRESS, "prod/db", TCP, 50051,
                        "DENY 181 CiliumNetworkPolicy prod/api-open spec.ingressDeny[0]"),
                s("deny rule limited to its port", DENIES, "prod/api", INGRESS, "prod/db", TCP, 8080,
                        "ALLOW CiliumNetworkPolicy prod/api-open spec.ingress[0]"),
                s("clusterwide deny wins over a namespaced allow", DENIES, "prod/api", INGRESS, "ip:203.0.113.7", TCP,
                        50051, "DENY 181 CiliumClusterwideNetworkPolicy no-world spec.ingressDeny[0]"),
                s("deny rules alone put the endpoint in default deny", DENIES, "prod/web", INGRESS, "remote-node", TCP,
                        8080, "DENY 133 CiliumClusterwideNetworkPolicy no-world spec.endpointSelector"),
                s("deny rules apply to egress only when written for it", DENIES, "prod/web", EGRESS, "ip:203.0.113.7",
                        TCP, 443, "ALLOW none"),

                // egress and ingress together
                s("client's egress allows the api", CLIENT_TO_API, "prod/client", EGRESS, "prod/api", TCP, 50051,
                        "ALLOW CiliumNetworkPolicy prod/client-out spec.egress[0]"),
                s("api's ingress allows the client", CLIENT_TO_API, "prod/api", INGRESS, "prod/client", TCP, 50051,
                        "ALLOW CiliumNetworkPolicy prod/api-in spec.ingress[0]"),
                s("client's egress stops other destinations", CLIENT_TO_API, "prod/client", EGRESS, "prod/web", TCP, 8080,
                        "DENY 133 CiliumNetworkPolicy prod/client-out spec.endpointSelector"),

                // namespaced vs clusterwide selection
                s("clusterwide selects pods of every namespace", CLUSTERWIDE, "staging/web", EGRESS, "kube-system/dns",
                        UDP, 53, "ALLOW CiliumClusterwideNetworkPolicy dns-only specs[0].egress[0]"),
                s("clusterwide default deny names its rule", CLUSTERWIDE, "prod/web", EGRESS, "ip:8.8.8.8", UDP, 53,
                        "DENY 133 CiliumClusterwideNetworkPolicy dns-only specs[0].endpointSelector"),
                s("clusterwide peer {} is any pod", CLUSTERWIDE, "prod/db", INGRESS, "staging/client", TCP, 5432,
                        "ALLOW CiliumClusterwideNetworkPolicy dns-only specs[1].ingress[0]"),
                s("clusterwide peer {} is not the world", CLUSTERWIDE, "prod/db", INGRESS, "ip:203.0.113.7", TCP, 5432,
                        "DENY 133 CiliumClusterwideNetworkPolicy dns-only specs[1].endpointSelector"),
                s("namespaced peer {} is its namespace", NAMESPACE_WIDE, "prod/db", INGRESS, "prod/web", TCP, 5432,
                        "ALLOW CiliumNetworkPolicy prod/db-from-namespace spec.ingress[0]"),
                s("namespaced peer {} is only its namespace", NAMESPACE_WIDE, "prod/db", INGRESS, "staging/client", TCP,
                        5432, "DENY 133 CiliumNetworkPolicy prod/db-from-namespace spec.endpointSelector"),

                // NetworkPolicy
                s("namespaceSelector and podSelector together", NETPOL, "prod/api", INGRESS, "staging/client", TCP,
                        50051, "ALLOW NetworkPolicy prod/api-np spec.ingress[0]"),
                s("namespaceSelector and podSelector must both hold", NETPOL, "prod/api", INGRESS, "staging/web", TCP,
                        50051, "DENY 133 NetworkPolicy prod/api-np spec.podSelector"),
                s("namespaceSelector does not match the policy's own namespace", NETPOL, "prod/api", INGRESS,
                        "prod/client", TCP, 50051, "DENY 133 NetworkPolicy prod/api-np spec.podSelector"),
                s("podSelector alone is the policy's namespace", NETPOL, "prod/api", INGRESS, "prod/web", TCP, 50051,
                        "ALLOW NetworkPolicy prod/api-np spec.ingress[0]"),
                s("NetworkPolicy ports default to TCP", NETPOL, "prod/api", INGRESS, "prod/web", UDP, 50051,
                        "DENY 133 NetworkPolicy prod/api-np spec.podSelector"),
                s("ipBlock without ports allows every port", NETPOL, "prod/api", INGRESS, "ip:203.0.113.7", TCP, 80,
                        "ALLOW NetworkPolicy prod/api-np spec.ingress[1]"),
                s("ipBlock except", NETPOL, "prod/api", INGRESS, "ip:203.0.113.200", TCP, 80,
                        "DENY 133 NetworkPolicy prod/api-np spec.podSelector"),
                s("policyTypes default to Ingress only", NETPOL, "prod/api", EGRESS, "ip:203.0.113.7", TCP, 443,
                        "ALLOW none"),
                s("policyTypes Egress with no rules denies all egress", NETPOL_TYPES, "prod/web", EGRESS, "prod/api", TCP,
                        50051, "DENY 133 NetworkPolicy prod/no-egress spec.podSelector"),
                s("policyTypes Egress leaves ingress open", NETPOL_TYPES, "prod/web", INGRESS, "ip:203.0.113.7", TCP,
                        8080, "ALLOW none"),
                s("empty namespaceSelector is every namespace", NETPOL_TYPES, "prod/db", INGRESS, "staging/web", UDP,
                        5432, "ALLOW NetworkPolicy prod/db-from-any-namespace spec.ingress[0]"),
                s("empty namespaceSelector is only pods", NETPOL_TYPES, "prod/db", INGRESS, "ip:203.0.113.7", UDP, 5432,
                        "DENY 133 NetworkPolicy prod/db-from-any-namespace spec.podSelector"),
                s("port with only a protocol is every port of it", NETPOL_TYPES, "prod/db", INGRESS, "staging/web", TCP,
                        5432, "DENY 133 NetworkPolicy prod/db-from-any-namespace spec.podSelector"),
                s("namespaces carry kubernetes.io/metadata.name", NETPOL_TYPES, "prod/db", INGRESS, "kube-system/dns",
                        TCP, 5432, "ALLOW NetworkPolicy prod/db-from-any-namespace spec.ingress[1]"),
                s("podSelector {} without rules denies all ingress", NETPOL_DEFAULTS, "staging/web", INGRESS,
                        "staging/client", TCP, 8080, "DENY 133 NetworkPolicy staging/deny-all spec.podSelector"),
                s("ingress [{}] in a NetworkPolicy allows even the world", NETPOL_DEFAULTS, "prod/web", INGRESS,
                        "ip:203.0.113.7", TCP, 8080, "ALLOW NetworkPolicy prod/allow-all spec.ingress[0]"),

                // ipBlock selects pods by address (upstream NetworkPolicy); Cilium's CIDRs do not unless opted in
                s("ipBlock /32 selects the pod at that address", IPBLOCK_PODS, "prod/client", EGRESS, "prod/web", TCP, 8080,
                        "ALLOW NetworkPolicy prod/client-egress spec.egress[0]"),
                s("ipBlock /32 does not select a replica with the same labels elsewhere", IPBLOCK_PODS, "prod/client", EGRESS,
                        "prod/web-2", TCP, 8080, "DENY 133 NetworkPolicy prod/client-egress spec.podSelector"),
                s("ipBlock with except selects the pods it covers", IPBLOCK_PODS, "prod/client", EGRESS, "prod/api", TCP, 50051,
                        "ALLOW NetworkPolicy prod/client-egress spec.egress[1]"),
                s("ipBlock except leaves a pod out", IPBLOCK_PODS, "prod/client", EGRESS, "prod/db", TCP, 50051,
                        "DENY 133 NetworkPolicy prod/client-egress spec.podSelector"),
                s("ipBlock except of a range leaves its pods out", IPBLOCK_PODS, "prod/client", EGRESS, "prod/web-2", TCP, 50051,
                        "DENY 133 NetworkPolicy prod/client-egress spec.podSelector"),
                s("ipBlock still needs the port", IPBLOCK_PODS, "prod/client", EGRESS, "prod/api", TCP, 8080,
                        "DENY 133 NetworkPolicy prod/client-egress spec.podSelector"),
                s("ipBlock on ingress selects the pod at that address", IPBLOCK_PODS, "prod/db", INGRESS, "prod/client", TCP, 5432,
                        "ALLOW NetworkPolicy prod/db-ingress spec.ingress[0]"),
                s("ipBlock on ingress selects no other pod", IPBLOCK_PODS, "prod/db", INGRESS, "prod/web", TCP, 5432,
                        "DENY 133 NetworkPolicy prod/db-ingress spec.podSelector"),
                s("ipBlock still selects outside addresses", IPBLOCK_PODS, "prod/client", EGRESS, "ip:10.244.0.200", TCP, 50051,
                        "ALLOW NetworkPolicy prod/client-egress spec.egress[1]"),
                s("Cilium's toCIDR never selects a pod", IPBLOCK_PODS, "staging/web", EGRESS, "prod/web", TCP, 8080,
                        "DENY 133 CiliumNetworkPolicy staging/web-cidr spec.endpointSelector"),
                s("Cilium's toCIDR with the opt-in annotation selects pods", IPBLOCK_PODS, "staging/client", EGRESS, "prod/web",
                        TCP, 8080, "ALLOW CiliumNetworkPolicy staging/client-cidr spec.egress[0]"),
                s("and honours its except", IPBLOCK_PODS, "staging/client", EGRESS, "prod/api", TCP, 50051,
                        "DENY 133 CiliumNetworkPolicy staging/client-cidr spec.endpointSelector"),

                // empty rules
                s("ingress [{}] denies all ingress", EMPTY_RULES, "prod/web", INGRESS, "prod/client", TCP, 8080,
                        "DENY 133 CiliumNetworkPolicy prod/deny-web-ingress spec.endpointSelector"),
                s("ingress [{}] denies the world too", EMPTY_RULES, "prod/web", INGRESS, "world", TCP, 8080,
                        "DENY 133 CiliumNetworkPolicy prod/deny-web-ingress spec.endpointSelector"),
                s("ingress [] is no ingress section", EMPTY_RULES, "prod/api", INGRESS, "prod/client", TCP, 50051,
                        "ALLOW none"),
                s("enableDefaultDeny false leaves other traffic allowed", EMPTY_RULES, "prod/db", INGRESS,
                        "ip:203.0.113.7", TCP, 5432, "ALLOW none"),

                // HTTP rules: the peer reaches the port through the node proxy only (docs/l7.md); directly it is
                // dropped by the default deny, and the nodes (the proxies) are admitted there
                s("HTTP-bearing rule does not admit its peer directly", L7, "prod/web", INGRESS, "prod/api", TCP, 8080,
                        "DENY 133 CiliumNetworkPolicy prod/web-l7 spec.endpointSelector"),
                s("the proxies of other nodes reach the HTTP port", L7, "prod/web", INGRESS, "remote-node", TCP, 8080,
                        "ALLOW none"),
                s("but not another port", L7, "prod/web", INGRESS, "remote-node", TCP, 9090,
                        "DENY 133 CiliumNetworkPolicy prod/web-l7 spec.endpointSelector"),
                s("L7-bearing rule is still bound to its port", L7, "prod/web", INGRESS, "prod/api", TCP, 9090,
                        "DENY 133 CiliumNetworkPolicy prod/web-l7 spec.endpointSelector"),
                s("plain L4 rule for another peer", L7, "prod/web", INGRESS, "prod/db", TCP, 8080,
                        "ALLOW CiliumNetworkPolicy prod/web-l7 spec.ingress[1]"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void decides(Scenario scenario) {
        Cluster cluster = new Cluster();
        PolicySet policies = cluster.policies(dir, "policies.yaml", scenario.policies());
        Decision decision = ReferenceEvaluator.kubernetesDefaults().decide(policies, cluster.pod(scenario.local()),
                scenario.direction(), cluster.peer(scenario.remote()), scenario.proto(), scenario.port());
        assertEquals(scenario.expect(), summary(decision), decision.toString());
    }

    static String summary(Decision decision) {
        String code = decision.allowed() ? "" : " " + decision.dropReasonCode();
        String who = decision.policy() == null ? " none" : " " + decision.policy() + " " + decision.rule();
        return decision.verdict() + code + who;
    }
}
