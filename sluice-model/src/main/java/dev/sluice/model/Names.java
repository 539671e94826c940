package dev.sluice.model;

import java.util.regex.Pattern;

/** The name formats Kubernetes enforces; the lab uses these names for namespaces, hosts and DNS. */
final class Names {
    private static final Pattern DNS1123_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    private static final Pattern DNS1123_SUBDOMAIN =
            Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    private static final Pattern DNS1035_LABEL = Pattern.compile("[a-z]([-a-z0-9]*[a-z0-9])?");
    private static final Pattern IANA_SERVICE_NAME = Pattern.compile("[a-z0-9]([a-z0-9-]*[a-z0-9])?");

    private Names() {
    }

    /** Namespaces: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit. */
    static void requireDns1123Label(String field, String name) {
        if (name.length() > 63 || !DNS1123_LABEL.matcher(name).matches()) {
            throw new FieldProblem(field, "must be at most 63 lowercase letters, digits and '-', starting and ending"
                    + " with a letter or digit, got " + FieldProblem.show(name));
        }
    }

    /** Deployments and Pods: DNS-1123 labels joined by dots, at most 253 characters. */
    static void requireDns1123Subdomain(String field, String name) {
        if (name.length() > 253 || !DNS1123_SUBDOMAIN.matcher(name).matches()) {
            throw new FieldProblem(field, "must be lowercase letters, digits, '-' and '.', starting and ending with"
                    + " a letter or digit, at most 253 characters, got " + FieldProblem.show(name));
        }
    }

    /** Services: their name becomes a DNS label, so it must start with a letter. */
    static void requireDns1035Label(String field, String name) {
        if (name.length() > 63 || !DNS1035_LABEL.matcher(name).matches()) {
            throw new FieldProblem(field, "must be at most 63 lowercase letters, digits and '-', starting with a"
                    + " letter and ending with a letter or digit, got " + FieldProblem.show(name));
        }
    }

    /** A named port (IANA_SVC_NAME): what a Service's targetPort can refer to. */
    static boolean isPortName(String name) {
        return name.length() <= 15 && IANA_SERVICE_NAME.matcher(name).matches() && !name.contains("--")
                && name.chars().anyMatch(Character::isLetter);
    }

    /** A dotted-quad IPv4 address; leading zeros are refused, as Kubernetes does, since some tools read them as octal. */
    static boolean isIpv4(String address) {
        String[] parts = address.split("\\.", -1);
        if (parts.length != 4) {
            return false;
        }
        for (String part : parts) {
            if (part.isEmpty() || part.length() > 3 || !part.chars().allMatch(c -> c >= '0' && c <= '9')
                    || (part.length() > 1 && part.charAt(0) == '0') || Integer.parseInt(part) > 255) {
                return false;
            }
        }
        return true;
    }
}
