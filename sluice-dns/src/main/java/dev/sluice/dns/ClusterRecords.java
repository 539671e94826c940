package dev.sluice.dns;

import dev.sluice.model.ContainerPort;
import dev.sluice.model.ServicePort;
import dev.sluice.model.ServiceSpec;
import dev.sluice.model.TargetPort;
import dev.sluice.model.cluster.ClusterView;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Name;
import org.xbill.DNS.PTRRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.ReverseMap;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.TextParseException;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Every record cluster DNS serves for one view of the cluster, as CoreDNS's kubernetes plugin names them:
 * <ul>
 *   <li>{@code svc.ns.svc.cluster.local} A: the ClusterIP, or for a headless Service each ready pod;</li>
 *   <li>{@code _port._proto.svc.ns.svc.cluster.local} SRV per named port: the Service's name and port, or for
 *       a headless Service each ready pod as {@code a-b-c-d.svc.ns.svc.cluster.local} and its target port;</li>
 *   <li>{@code a-b-c-d.ns.pod.cluster.local} A for every pod (CoreDNS's {@code pods verified});</li>
 *   <li>PTR for ClusterIPs and pod addresses (a pod behind a headless Service by its name there).</li>
 * </ul>
 * Immutable: a new view makes a new instance, swapped in whole, so a query never sees half a change.
 */
public final class ClusterRecords {
    /** CoreDNS's kubernetes plugin's default TTL: short, so that clients follow changes. */
    static final long TTL = 5;

    private final Name domain;
    private final Map<Name, List<Record>> byName;
    /** Names with records, and every name above them inside a zone (empty non-terminals: NODATA, not NXDOMAIN). */
    private final Set<Name> existing;
    /** The zones answered with authority: the cluster domain and the reverse zones of the cluster's addresses. */
    private final List<Name> zones;
    private final long serial;

    private ClusterRecords(Name domain, Map<Name, List<Record>> byName, Set<Name> existing, List<Name> zones, long serial) {
        this.domain = domain;
        this.byName = byName;
        this.existing = existing;
        this.zones = zones;
        this.serial = serial;
    }

    /** The records of {@code view} under {@code domain} (e.g. {@code cluster.local}); {@code serial} goes in the SOA. */
    public static ClusterRecords of(ClusterView view, String domain, long serial) {
        return new Builder(name(domain.endsWith(".") ? domain : domain + "."), view).build(serial);
    }

    public Name domain() {
        return domain;
    }

    /** The zone that holds {@code name} with authority, if any. */
    Optional<Name> zoneOf(Name name) {
        return zones.stream().filter(name::subdomain).findFirst();
    }

    /** The records of {@code name}, of every type; empty if none. */
    List<Record> records(Name name) {
        return byName.getOrDefault(name.canonicalize(), List.of());
    }

    boolean exists(Name name) {
        return existing.contains(name.canonicalize());
    }

    /** The SOA of {@code zone}, for the authority section of negative answers (its minimum is the negative TTL). */
    SOARecord soa(Name zone) {
        return new SOARecord(zone, DClass.IN, TTL, name("ns.dns." + domain), name("hostmaster." + domain), serial, 7200, 1800, 86400, TTL);
    }

    /** How many names have records: for the server's log. */
    public int size() {
        return byName.size();
    }

    private static Name name(String s) {
        try {
            return Name.fromString(s.toLowerCase(Locale.ROOT), Name.root);
        } catch (TextParseException e) {
            throw new IllegalArgumentException("not a DNS name: " + s, e);
        }
    }

    private static InetAddress address(String ip) {
        try {
            return InetAddress.getByAddress(InetAddress.getByName(ip).getAddress()); // a literal: no lookup
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IPv4 address: " + ip, e);
        }
    }

    /** {@code 10.244.1.5} as CoreDNS writes it in a name: {@code 10-244-1-5}. */
    static String dashed(String ip) {
        return ip.replace('.', '-');
    }

    private static final class Builder {
        private final Name domain;
        private final ClusterView view;
        private final Map<Name, List<Record>> byName = new HashMap<>();
        private final Set<Name> zones = new LinkedHashSet<>();
        /** Addresses that already have a PTR (a pod behind a headless Service keeps that name). */
        private final Set<String> reversed = new HashSet<>();

        Builder(Name domain, ClusterView view) {
            this.domain = domain;
            this.view = view;
            zones.add(domain);
        }

        ClusterRecords build(long serial) {
            for (ServiceSpec s : view.services()) {
                service(s);
            }
            for (ClusterView.Pod p : view.pods()) {
                if (p.ip() == null || p.ip().isEmpty()) {
                    continue;
                }
                Name podName = name(dashed(p.ip()) + "." + p.namespace() + ".pod." + domain);
                add(new ARecord(podName, DClass.IN, TTL, address(p.ip())));
                ptr(p.ip(), podName);
            }
            for (ClusterView.Node n : view.nodes()) {
                reverseZone(n.podCidr());
            }
            Set<Name> existing = new HashSet<>();
            for (Name n : byName.keySet()) {
                Optional<Name> zone = zones.stream().filter(n::subdomain).findFirst();
                // The name and every name between it and its zone's apex exist.
                for (int drop = 0; zone.isPresent() && n.labels() - drop >= zone.get().labels(); drop++) {
                    existing.add(new Name(n, drop));
                }
            }
            return new ClusterRecords(domain, Map.copyOf(byName), Set.copyOf(existing), List.copyOf(zones), serial);
        }

        private void service(ServiceSpec s) {
            String ns = s.ref().namespace();
            Name svcName = name(s.ref().name() + "." + ns + ".svc." + domain);
            if (s.headless()) {
                List<ClusterView.Pod> ready = view.pods().stream()
                        .filter(p -> p.ready() && p.namespace().equals(ns) && selects(s, p)).toList();
                for (ClusterView.Pod p : ready) {
                    Name podName = name(dashed(p.ip()) + "." + s.ref().name() + "." + ns + ".svc." + domain);
                    add(new ARecord(svcName, DClass.IN, TTL, address(p.ip())));
                    add(new ARecord(podName, DClass.IN, TTL, address(p.ip())));
                    ptr(p.ip(), podName);
                    for (ServicePort port : s.ports()) {
                        targetPort(port.targetPort(), p).ifPresent(number -> srv(port, svcName, number, podName));
                    }
                }
                return;
            }
            String ip = view.clusterIps().get(s.ref().toString());
            if (ip == null) {
                return; // an ExternalName Service, or one not given an address yet
            }
            add(new ARecord(svcName, DClass.IN, TTL, address(ip)));
            ptr(ip, svcName);
            reverseZone(ip.substring(0, ip.indexOf('.', ip.indexOf('.') + 1)) + ".0.0/16");
            for (ServicePort port : s.ports()) {
                srv(port, svcName, port.port(), svcName);
            }
        }

        /** SRV only for named ports, as Kubernetes: {@code _name._tcp.svc.ns.svc.cluster.local}. */
        private void srv(ServicePort port, Name svcName, int number, Name target) {
            if (port.name() == null) {
                return;
            }
            Name srvName = name("_" + port.name() + "._" + port.protocol().name().toLowerCase(Locale.ROOT) + "." + svcName);
            add(new SRVRecord(srvName, DClass.IN, TTL, 0, 100, number, target));
        }

        private static Optional<Integer> targetPort(TargetPort target, ClusterView.Pod pod) {
            if (!target.named()) {
                return Optional.of(target.number());
            }
            return pod.ports().stream().filter(c -> target.name().equals(c.name())).map(ContainerPort::port).findFirst();
        }

        private static boolean selects(ServiceSpec s, ClusterView.Pod p) {
            return !s.selector().isEmpty() && s.selector().entrySet().stream()
                    .allMatch(e -> e.getValue().equals(p.labels().get(e.getKey())));
        }

        private void ptr(String ip, Name target) {
            if (reversed.add(ip)) {
                add(new PTRRecord(ReverseMap.fromAddress(address(ip)), DClass.IN, TTL, target));
            }
        }

        /** The reverse zone of an IPv4 CIDR of /8, /16 or /24 (the lab's Service and pod ranges). */
        private void reverseZone(String cidr) {
            int slash = cidr.indexOf('/');
            if (slash < 0) {
                return;
            }
            int bits = Integer.parseInt(cidr.substring(slash + 1));
            String[] octets = cidr.substring(0, slash).split("\\.");
            StringBuilder zone = new StringBuilder();
            for (int i = Math.min(bits / 8, 4) - 1; i >= 0; i--) {
                zone.append(octets[i]).append('.');
            }
            zones.add(name(zone + "in-addr.arpa."));
        }

        private void add(Record r) {
            byName.computeIfAbsent(r.getName().canonicalize(), k -> new ArrayList<>()).add(r);
        }
    }
}
