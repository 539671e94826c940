package dev.sluice.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The running kernel's release, as numbers that can be compared. */
public record Kernel(int major, int minor, int patch, String release) implements Comparable<Kernel> {
    private static final Pattern VERSION = Pattern.compile("^(\\d+)\\.(\\d+)(?:\\.(\\d+))?");

    public static Kernel running() {
        try {
            return parse(Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip());
        } catch (IOException e) {
            return parse(System.getProperty("os.version", "0.0"));
        }
    }

    public static Kernel parse(String release) {
        Matcher m = VERSION.matcher(release);
        if (!m.find()) {
            return new Kernel(0, 0, 0, release);
        }
        int patch = m.group(3) == null ? 0 : Integer.parseInt(m.group(3));
        return new Kernel(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), patch, release);
    }

    public boolean atLeast(int major, int minor) {
        return this.major > major || (this.major == major && this.minor >= minor);
    }

    @Override
    public int compareTo(Kernel o) {
        int c = Integer.compare(major, o.major);
        if (c == 0) {
            c = Integer.compare(minor, o.minor);
        }
        return c != 0 ? c : Integer.compare(patch, o.patch);
    }
}
