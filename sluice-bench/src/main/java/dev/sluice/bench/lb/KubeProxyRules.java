package dev.sluice.bench.lb;

import dev.sluice.datapath.lb.Backend;
import dev.sluice.datapath.lb.Frontend;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Locale;

/**
 * The iptables-restore input kube-proxy's iptables mode writes for ClusterIP Services, modelled on
 * kube-proxy's own expected output (pkg/proxy/iptables/proxier_test.go, v1.27+ layout):
 *
 * <ul>
 *   <li>{@code nat}: PREROUTING and OUTPUT jump to KUBE-SERVICES, POSTROUTING to KUBE-POSTROUTING;
 *       KUBE-SERVICES holds one rule per Service port ({@code -d VIP -p tcp --dport PORT -j KUBE-SVC-HASH}),
 *       matched one after another, then the KUBE-NODEPORTS rule that must be last; each KUBE-SVC chain
 *       starts with the masquerade-mark rule for sources outside the cluster CIDR, then picks an endpoint
 *       with {@code -m statistic --mode random --probability 1/(n-i)} (the last without); each KUBE-SEP chain
 *       marks hairpin traffic and DNATs to the endpoint;</li>
 *   <li>{@code filter}: the chains and jump rules kube-proxy keeps there (KUBE-PROXY-FIREWALL,
 *       KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, KUBE-NODEPORTS, KUBE-FORWARD, KUBE-FIREWALL). Services that
 *       have endpoints add nothing to them.</li>
 * </ul>
 *
 * Chain names are kube-proxy's: {@code KUBE-SVC-} + the first 16 base32 characters of
 * sha256(servicePortName + "tcp"), {@code KUBE-SEP-} likewise of sha256(servicePortName + "tcp" + endpoint).
 * As kube-proxy does above 1000 endpoints ("large cluster mode"), the per-endpoint rules then carry no comment.
 *
 * <p>Not modelled: NodePorts, external and load-balancer IPs, session affinity ({@code -m recent}),
 * traffic policies (KUBE-SVL/KUBE-EXT chains), the REJECT rules of Services without endpoints, and the
 * order: kube-proxy writes Services in Go map order (random), this puts them in index order, so the
 * benchmark's target (the last Service) sits behind every other one in KUBE-SERVICES: the worst case.
 */
public final class KubeProxyRules {
    static final int LARGE_CLUSTER_ENDPOINTS = 1000;

    private KubeProxyRules() {
    }

    /** The restore input for {@code frontends}; {@link Rendered#rules()} counts the {@code -A} lines. */
    public static Rendered render(List<Frontend> frontends, String clusterCidr) {
        long endpoints = frontends.stream().mapToLong(f -> f.backends().size()).sum();
        boolean largeCluster = endpoints > LARGE_CLUSTER_ENDPOINTS;
        StringBuilder filter = new StringBuilder(4096);
        StringBuilder natChains = new StringBuilder(frontends.size() * 200);
        StringBuilder natServices = new StringBuilder(frontends.size() * 160);
        StringBuilder natRules = new StringBuilder(frontends.size() * 900);
        int[] rules = {0};

        filter.append("*filter\n")
                .append(":INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
                .append(":KUBE-NODEPORTS - [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-EXTERNAL-SERVICES - [0:0]\n")
                .append(":KUBE-FIREWALL - [0:0]\n:KUBE-FORWARD - [0:0]\n:KUBE-PROXY-FIREWALL - [0:0]\n");
        rule(filter, rules, "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL");
        rule(filter, rules, "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS");
        rule(filter, rules, "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES");
        rule(filter, rules, "-A INPUT -j KUBE-FIREWALL");
        rule(filter, rules, "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL");
        rule(filter, rules, "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD");
        rule(filter, rules, "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES");
        rule(filter, rules, "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES");
        rule(filter, rules, "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL");
        rule(filter, rules, "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES");
        rule(filter, rules, "-A OUTPUT -j KUBE-FIREWALL");
        rule(filter, rules, "-A KUBE-FIREWALL -m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8 ! -s 127.0.0.0/8 "
                + "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP");
        rule(filter, rules, "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP");
        rule(filter, rules, "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT");
        rule(filter, rules, "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
        filter.append("COMMIT\n");

        for (Frontend f : frontends) {
            String name = f.service() + ":" + f.portName(); // ns/name:port, kube-proxy's ServicePortName
            String proto = "tcp";
            String svcChain = "KUBE-SVC-" + hash16(name + proto);
            String vip = f.address();
            natChains.append(':').append(svcChain).append(" - [0:0]\n");
            rule(natServices, rules, "-A KUBE-SERVICES -m comment --comment \"" + name + " cluster IP\" -m tcp -p tcp -d " + vip
                    + " --dport " + f.port() + " -j " + svcChain);
            rule(natRules, rules, "-A " + svcChain + " -m comment --comment \"" + name + " cluster IP\" -m tcp -p tcp -d " + vip
                    + " --dport " + f.port() + " ! -s " + clusterCidr + " -j KUBE-MARK-MASQ");
            List<Backend> eps = f.backends();
            for (int i = 0; i < eps.size(); i++) {
                String ep = eps.get(i).address() + ":" + eps.get(i).port();
                String sepChain = "KUBE-SEP-" + hash16(name + proto + ep);
                natChains.append(':').append(sepChain).append(" - [0:0]\n");
                StringBuilder jump = new StringBuilder("-A ").append(svcChain);
                if (!largeCluster) {
                    jump.append(" -m comment --comment \"").append(name).append(" -> ").append(ep).append('"');
                }
                if (i < eps.size() - 1) {
                    jump.append(" -m statistic --mode random --probability ")
                            .append(String.format(Locale.ROOT, "%.10f", 1.0 / (eps.size() - i)));
                }
                jump.append(" -j ").append(sepChain);
                rule(natRules, rules, jump.toString());
                String comment = largeCluster ? "" : " -m comment --comment " + name;
                rule(natRules, rules, "-A " + sepChain + comment + " -s " + eps.get(i).address() + " -j KUBE-MARK-MASQ");
                rule(natRules, rules, "-A " + sepChain + comment + " -m tcp -p tcp -j DNAT --to-destination " + ep);
            }
        }

        StringBuilder nat = new StringBuilder(filter.length() + natChains.length() + natServices.length() + natRules.length() + 4096);
        nat.append("*nat\n")
                .append(":PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n")
                .append(":KUBE-NODEPORTS - [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-POSTROUTING - [0:0]\n")
                .append(natChains);
        rule(nat, rules, "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES");
        rule(nat, rules, "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES");
        rule(nat, rules, "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING");
        nat.append(natServices);
        rule(nat, rules, "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" "
                + "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS");
        rule(nat, rules, "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000");
        rule(nat, rules, "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN");
        rule(nat, rules, "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000");
        rule(nat, rules, "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully");
        nat.append(natRules).append("COMMIT\n");
        return new Rendered(filter + nat.toString(), rules[0], frontends.size() + 1);
    }

    /** The restore input, its number of rules, and how many of them are in nat KUBE-SERVICES. */
    public record Rendered(String text, int rules, int kubeServicesRules) {
    }

    private static void rule(StringBuilder out, int[] count, String line) {
        out.append(line).append('\n');
        count[0]++;
    }

    /** The first 16 characters of base32(sha256(s)), as kube-proxy names its chains. */
    static String hash16(String s) {
        byte[] h;
        try {
            h = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        StringBuilder out = new StringBuilder(16);
        int buffer = 0;
        int bits = 0;
        for (byte b : h) {
            buffer = (buffer << 8) | (b & 0xff);
            bits += 8;
            while (bits >= 5 && out.length() < 16) {
                out.append(alphabet.charAt((buffer >> (bits - 5)) & 31));
                bits -= 5;
            }
            if (out.length() == 16) {
                break;
            }
        }
        return out.toString();
    }
}
