package dev.sluice.cni;

import dev.sluice.cni.AgentMessages.Endpoint;
import dev.sluice.cni.AgentMessages.Op;
import dev.sluice.cni.AgentMessages.Request;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;

/**
 * The {@code sluice-cni} plugin, run by the container runtime (kubelet's) once per call, as the CNI spec 1.0 says:
 * the command and container in {@code CNI_*} variables, the network configuration on stdin, the result or the
 * spec's error object on stdout (exit 0 or 1).
 *
 * <ul>
 *   <li>ADD: an address from the node's agent (IPAM in the agent), the pod's veth, the endpoint registered with the
 *       agent, which attaches the pod's programs before it answers; the result names both ends, the /32 and the
 *       route. A failure undoes what was made (veth, address).</li>
 *   <li>DEL: the node's end deleted, the endpoint and address released; what is already gone is not an error.</li>
 *   <li>CHECK: the agent still holds the endpoint, and the veth, address, MAC and routes are as ADD made them.</li>
 *   <li>VERSION; STATUS (1.1): whether the node's agent answers.</li>
 * </ul>
 */
public final class CniPlugin {
    /** A plugin-specific code (from 100) for what nothing else names: a bug, reported rather than a stack trace. */
    static final int UNEXPECTED = 999;

    private CniPlugin() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length == 1 && args[0].equals("aot-training")) {
            AotTraining.run();
            return;
        }
        int status = run(System.getenv(), System.in, System.out);
        System.out.flush();
        System.exit(status);
    }

    /** One call: what the runtime gave, what it reads back; returns the exit status. */
    public static int run(Map<String, String> environment, InputStream stdin, PrintStream out) {
        String version = NetConf.SUPPORTED.getFirst();
        try {
            byte[] config = stdin.readAllBytes();
            CniEnv env = CniEnv.parse(environment);
            if (env.command() == CniEnv.Command.VERSION) {
                String asked = versionOf(config);
                print(out, Json.object("cniVersion", NetConf.SUPPORTED.contains(asked) ? asked : version, "supportedVersions", NetConf.SUPPORTED));
                return 0;
            }
            NetConf conf = NetConf.parse(config);
            version = conf.cniVersion();
            AgentClient agent = new AgentClient(Path.of(conf.agentSocket()));
            switch (env.command()) {
                case ADD -> print(out, add(env, conf, agent).toMap());
                case DEL -> del(env, agent);
                case CHECK -> check(env, conf, agent);
                case STATUS -> status(agent);
                case VERSION -> throw new IllegalStateException();
            }
            return 0;
        } catch (CniError e) {
            print(out, e.toMap(version));
            return 1;
        } catch (IOException e) {
            print(out, new CniError(CniError.IO_FAILURE, "cannot read stdin: " + e.getMessage()).toMap(version));
            return 1;
        } catch (RuntimeException e) {
            print(out, new CniError(UNEXPECTED, "unexpected: " + e, stackTop(e)).toMap(version));
            return 1;
        }
    }

    static CniResult add(CniEnv env, NetConf conf, AgentClient agent) {
        String hostVeth = PodInterface.hostVeth(env.containerId(), env.ifname());
        String podMac = PodInterface.randomMac();
        String hostMac = PodInterface.randomMac();
        String name = env.podName(shortId(env.containerId()));
        Endpoint want = new Endpoint(env.containerId(), env.ifname(), env.podNamespace("default"), name, env.netns(), null,
                hostVeth, podMac, conf.labels());
        String ip = agent.require(new Request(Op.ALLOCATE, want)).ip();
        try {
            try {
                PodInterface.create(env.netns(), env.ifname(), hostVeth, hostMac, podMac, ip, conf.mtu());
            } catch (PodInterface.Exists e) {
                // The runtime repeats an ADD (after a timeout), or an earlier one did not finish: undone as DEL undoes
                // it (the agent detaches the old veth's programs before it answers), then made afresh. The veth's name
                // is the container's, so the agent would otherwise take the new veth for the old one.
                PodInterface.delete(hostVeth);
                agent.require(new Request(Op.RELEASE, want));
                ip = agent.require(new Request(Op.ALLOCATE, want)).ip();
                PodInterface.create(env.netns(), env.ifname(), hostVeth, hostMac, podMac, ip, conf.mtu());
            }
        } catch (CniError e) {
            releaseQuietly(agent, want, e);
            throw e;
        }
        try {
            agent.require(new Request(Op.REGISTER, want.withIp(ip)));
        } catch (CniError e) {
            try {
                PodInterface.delete(hostVeth);
            } catch (CniError cleanup) {
                e.addSuppressed(cleanup);
            }
            releaseQuietly(agent, want, e);
            throw e;
        }
        return CniResult.of(conf.cniVersion(), hostVeth, hostMac, env.ifname(), podMac, env.netns(), ip);
    }

    /** The node's end first, so that no address is handed out again while a route to it is still in place. */
    static void del(CniEnv env, AgentClient agent) {
        PodInterface.delete(PodInterface.hostVeth(env.containerId(), env.ifname()));
        agent.require(new Request(Op.RELEASE, key(env)));
    }

    static void check(CniEnv env, NetConf conf, AgentClient agent) {
        if (conf.prevResult() == null) {
            throw new CniError(CniError.INVALID_CONFIG, "CHECK needs prevResult, the result of ADD (spec: the runtime passes it)");
        }
        Endpoint held = agent.require(new Request(Op.GET, key(env)));
        if (held == null) {
            throw new CniError(CniError.CHECK_FAILED, "the Sluice agent holds no endpoint for container " + env.containerId()
                    + " interface " + env.ifname());
        }
        String prevIp = prevIp(conf.prevResult());
        if (!prevIp.equals(held.ip() + "/32")) {
            throw new CniError(CniError.CHECK_FAILED, "prevResult's address " + prevIp + " is not the agent's " + held.ip() + "/32");
        }
        PodInterface.check(env.netns(), env.ifname(), held.hostVeth(), held.ip(), held.mac());
    }

    static void status(AgentClient agent) {
        try {
            agent.require(new Request(Op.STATUS, null));
        } catch (CniError e) {
            throw new CniError(CniError.NOT_AVAILABLE, e.getMessage());
        }
    }

    private static String prevIp(Map<String, Object> prev) {
        return Json.text(prev, "ips", 0, "address");
    }

    private static Endpoint key(CniEnv env) {
        return new Endpoint(env.containerId(), env.ifname(), null, null, env.netns(), null, null, null, null);
    }

    private static void releaseQuietly(AgentClient agent, Endpoint endpoint, CniError into) {
        try {
            agent.call(new Request(Op.RELEASE, endpoint));
        } catch (CniError e) {
            into.addSuppressed(e);
        }
    }

    private static String shortId(String containerId) {
        return "cni-" + containerId.substring(0, Math.min(12, containerId.length())).toLowerCase(java.util.Locale.ROOT);
    }

    /** The cniVersion VERSION was asked with (its stdin holds only that), or "" if there is none. */
    private static String versionOf(byte[] config) {
        try {
            return Json.text(Json.parse(config), "cniVersion");
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    private static String stackTop(Throwable e) {
        StackTraceElement[] st = e.getStackTrace();
        return st.length == 0 ? "" : st[0].toString();
    }

    private static void print(PrintStream out, Object value) {
        out.writeBytes(Json.write(value));
        out.write('\n');
        out.flush();
    }
}
