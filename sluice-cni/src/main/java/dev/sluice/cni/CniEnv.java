package dev.sluice.cni;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The CNI_* environment variables a runtime sets for one call (spec, "Parameters"), checked as the spec asks: a
 * missing or malformed variable the command needs is error 4 naming every such variable.
 *
 * @param args {@code CNI_ARGS} as key/value pairs ({@code K8S_POD_NAMESPACE}, {@code K8S_POD_NAME}, ... from kubelet)
 */
public record CniEnv(Command command, String containerId, String netns, String ifname, Map<String, String> args, String path) {

    public enum Command {
        ADD, DEL, CHECK, VERSION, STATUS
    }

    /** The spec: alphanumerics, then alphanumerics, underscore, period and hyphen. */
    private static final Pattern CONTAINER_ID = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9_.\\-]*");

    public CniEnv {
        args = Map.copyOf(args);
    }

    /** The pod's namespace as kubelet names it in CNI_ARGS, or {@code fallback}. */
    public String podNamespace(String fallback) {
        return args.getOrDefault("K8S_POD_NAMESPACE", fallback);
    }

    public String podName(String fallback) {
        return args.getOrDefault("K8S_POD_NAME", fallback);
    }

    public static CniEnv parse(Map<String, String> env) {
        String cmd = env.getOrDefault("CNI_COMMAND", "");
        Command command;
        try {
            command = Command.valueOf(cmd);
        } catch (IllegalArgumentException e) {
            throw new CniError(CniError.INVALID_ENVIRONMENT, cmd.isEmpty() ? "CNI_COMMAND is not set"
                    : "CNI_COMMAND '" + cmd + "' is not one of ADD, DEL, CHECK, VERSION, STATUS");
        }
        List<String> bad = new ArrayList<>();
        String containerId = env.getOrDefault("CNI_CONTAINERID", "");
        String netns = env.getOrDefault("CNI_NETNS", "");
        String ifname = env.getOrDefault("CNI_IFNAME", "");
        boolean perContainer = command == Command.ADD || command == Command.DEL || command == Command.CHECK;
        if (perContainer) {
            if (!CONTAINER_ID.matcher(containerId).matches()) {
                bad.add(containerId.isEmpty() ? "CNI_CONTAINERID is not set" : "CNI_CONTAINERID '" + containerId
                        + "' must be letters, digits, '_', '.' and '-', beginning with a letter or digit");
            }
            // DEL may come after the namespace is gone: the runtime may leave CNI_NETNS empty then (spec).
            if (netns.isEmpty() && command != Command.DEL) {
                bad.add("CNI_NETNS is not set");
            } else if (!netns.isEmpty() && !netns.startsWith("/")) {
                bad.add("CNI_NETNS '" + netns + "' is not an absolute path");
            }
            if (!validIfname(ifname)) {
                bad.add(ifname.isEmpty() ? "CNI_IFNAME is not set"
                        : "CNI_IFNAME '" + ifname + "' is not an interface name (1 to 15 characters, no '/', ':' or white space)");
            }
        }
        Map<String, String> args = new LinkedHashMap<>();
        String raw = env.getOrDefault("CNI_ARGS", "");
        if (!raw.isBlank()) {
            for (String pair : raw.split(";")) {
                int eq = pair.indexOf('=');
                if (eq <= 0) {
                    bad.add("CNI_ARGS '" + raw + "' is not KEY=VALUE pairs separated by ';' (at '" + pair + "')");
                    break;
                }
                args.put(pair.substring(0, eq), pair.substring(eq + 1));
            }
        }
        if (!bad.isEmpty()) {
            throw new CniError(CniError.INVALID_ENVIRONMENT, String.join("; ", bad));
        }
        return new CniEnv(command, containerId, netns, ifname, args, env.getOrDefault("CNI_PATH", ""));
    }

    static boolean validIfname(String name) {
        if (name.isEmpty() || name.length() > 15 || name.equals(".") || name.equals("..")) {
            return false;
        }
        for (char c : name.toCharArray()) {
            if (c == '/' || c == ':' || Character.isWhitespace(c)) {
                return false;
            }
        }
        return true;
    }
}
