package dev.sluice.cni;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The pod's veth pair, made as the lab makes its pods' (docs/lab.md): the node's end {@code lxc...} owns the pods'
 * gateway 169.254.1.1/32 and routes the pod's /32 to it; the pod's end ({@code CNI_IFNAME}, normally {@code eth0})
 * in {@code CNI_NETNS} holds the /32 with a default route via the gateway. Made with two {@code ip -batch} runs
 * (the node's side here, the pod's through {@code nsenter}), since every process costs the kubelet's wait.
 */
public final class PodInterface {
    private PodInterface() {
    }

    /**
     * The node's end's name: derived from the container and interface, so DEL finds it without the agent, and
     * another pod's never collides with it (15 characters at most, as the kernel allows). FNV-1a (64 bits, 44 of them
     * used) rather than a MessageDigest: the JDK's security providers cost a process per call tens of ms to load.
     */
    public static String hostVeth(String containerId, String ifname) {
        long h = 0xcbf29ce484222325L;
        for (byte b : (containerId + "/" + ifname).getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return "lxc" + HexFormat.of().toHexDigits(h).substring(0, 11);
    }

    /**
     * A random, locally administered unicast MAC, chosen here so that the agent can record it for the source MAC check.
     * Not SecureRandom (whose provider costs start-up time): it only has to differ from the node's other pods'.
     */
    public static String randomMac() {
        byte[] b = new byte[6];
        ThreadLocalRandom.current().nextBytes(b);
        b[0] = (byte) ((b[0] & 0xFC) | 0x02);
        return HexFormat.ofDelimiter(":").formatHex(b);
    }

    /** Makes both ends; on a failure of the pod's side the node's end (and with it the pod's) is deleted again. */
    public static void create(String netns, String ifname, String hostVeth, String hostMac, String podMac, String ip, int mtu) {
        if (!Files.exists(Path.of(netns))) {
            throw new CniError(CniError.INVALID_ENVIRONMENT, "CNI_NETNS " + netns + " does not exist");
        }
        String mtuOpt = mtu > 0 ? " mtu " + mtu : "";
        List<String> nodeSide = List.of(
                "link add " + hostVeth + mtuOpt + " address " + hostMac + " type veth peer name " + ifname + mtuOpt
                        + " address " + podMac + " netns " + netns,
                "addr add " + CniResult.GATEWAY + "/32 dev " + hostVeth,
                "link set " + hostVeth + " up",
                "route replace " + ip + "/32 dev " + hostVeth + " scope link");
        Result made = exec(List.of("ip", "-batch", "-"), nodeSide);
        if (made.status != 0 && made.stderr.contains("File exists")) {
            throw new Exists("the node's end " + hostVeth + " of this container's veth exists already: " + made.stderr.strip());
        }
        if (made.status != 0) {
            throw new CniError(CniError.INTERFACE_FAILURE, "cannot make the node's end of the pod's veth: ip -batch: " + made.stderr.strip());
        }
        try {
            run(List.of("nsenter", "--net=" + netns, "ip", "-batch", "-"), List.of(
                    "link set lo up",
                    "addr add " + ip + "/32 dev " + ifname,
                    "link set " + ifname + " up",
                    "route add " + CniResult.GATEWAY + " dev " + ifname + " scope link",
                    "route add default via " + CniResult.GATEWAY + " dev " + ifname), "the pod's end of its veth in " + netns);
        } catch (CniError e) {
            delete(hostVeth);
            throw e;
        }
    }

    /** The container's veth is there already: an earlier ADD of it that did not finish, or one the runtime repeats. */
    public static final class Exists extends CniError {
        private static final long serialVersionUID = 1L;

        Exists(String msg) {
            super(CniError.INTERFACE_FAILURE, msg);
        }
    }

    /** Deletes the node's end (the pod's end goes with it); one that is not there is not an error. */
    public static void delete(String hostVeth) {
        Result r = exec(List.of("ip", "link", "del", hostVeth), List.of());
        if (r.status != 0 && !r.stderr.contains("Cannot find device")) {
            throw new CniError(CniError.INTERFACE_FAILURE, "ip link del " + hostVeth + ": " + r.stderr.strip());
        }
    }

    /**
     * CHECK: both ends exist and are up, the pod's end has its address and MAC and the default route via the gateway,
     * and the node routes the address to its end. Throws {@link CniError#CHECK_FAILED} naming what differs.
     */
    public static void check(String netns, String ifname, String hostVeth, String ip, String podMac) {
        List<String> wrong = new ArrayList<>();
        Result host = exec(List.of("ip", "-j", "link", "show", "dev", hostVeth), List.of());
        if (host.status != 0) {
            throw new CniError(CniError.CHECK_FAILED, "the node's end " + hostVeth + " of the pod's veth is gone: " + host.stderr.strip());
        }
        if (!flags(json(host.stdout), 0).contains("UP")) {
            wrong.add(hostVeth + " is down");
        }
        Result route = exec(List.of("ip", "-j", "route", "show", ip + "/32"), List.of());
        if (!Json.text(json(route.stdout), 0, "dev").equals(hostVeth)) {
            wrong.add("the node does not route " + ip + "/32 to " + hostVeth + " (" + route.stdout.strip() + ")");
        }
        if (!Files.exists(Path.of(netns))) {
            throw new CniError(CniError.CHECK_FAILED, "the pod's network namespace " + netns + " is gone");
        }
        Result pod = exec(List.of("nsenter", "--net=" + netns, "ip", "-j", "addr", "show", "dev", ifname), List.of());
        if (pod.status != 0) {
            throw new CniError(CniError.CHECK_FAILED, "the pod's interface " + ifname + " in " + netns + " is gone: " + pod.stderr.strip());
        }
        Object link = Json.at(json(pod.stdout), 0);
        if (!flags(link).contains("UP")) {
            wrong.add(ifname + " is down");
        }
        if (podMac != null && !podMac.isEmpty() && !podMac.equalsIgnoreCase(Json.text(link, "address"))) {
            wrong.add(ifname + " has MAC " + Json.text(link, "address") + ", not " + podMac);
        }
        boolean hasIp = false;
        if (Json.at(link, "addr_info") instanceof List<?> addrs) {
            for (Object a : addrs) {
                hasIp |= Json.text(a, "local").equals(ip) && Long.valueOf(32).equals(Json.at(a, "prefixlen"));
            }
        }
        if (!hasIp) {
            wrong.add(ifname + " does not hold " + ip + "/32");
        }
        Result def = exec(List.of("nsenter", "--net=" + netns, "ip", "-j", "route", "show", "default"), List.of());
        if (!Json.text(json(def.stdout), 0, "gateway").equals(CniResult.GATEWAY)) {
            wrong.add("the pod's default route is not via " + CniResult.GATEWAY + " (" + def.stdout.strip() + ")");
        }
        if (!wrong.isEmpty()) {
            throw new CniError(CniError.CHECK_FAILED, String.join("; ", wrong));
        }
    }

    private static Object json(String s) {
        try {
            return Json.parse(s.isBlank() ? "[]" : s);
        } catch (IOException e) {
            return List.of();
        }
    }

    private static List<?> flags(Object root, Object... path) {
        return Json.at(root, path.length == 0 ? new Object[] {"flags"} : new Object[] {path[0], "flags"}) instanceof List<?> l ? l : List.of();
    }

    private record Result(int status, String stdout, String stderr) {
    }

    private static void run(List<String> cmd, List<String> stdin, String what) {
        Result r = exec(cmd, stdin);
        if (r.status != 0) {
            throw new CniError(CniError.INTERFACE_FAILURE, "cannot make " + what + ": " + String.join(" ", cmd) + ": " + r.stderr.strip());
        }
    }

    private static Result exec(List<String> cmd, List<String> stdin) {
        try {
            Process p = new ProcessBuilder(cmd).start();
            try (var in = p.getOutputStream()) {
                for (String line : stdin) {
                    in.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                }
            }
            // Small outputs: read stdout, then stderr, without a thread each.
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            return new Result(p.waitFor(), out, err);
        } catch (IOException e) {
            throw new CniError(CniError.INTERFACE_FAILURE, "cannot run " + cmd.getFirst() + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CniError(CniError.INTERFACE_FAILURE, "interrupted running " + cmd.getFirst());
        }
    }
}
