package dev.sluice.lab;

/** IPv4 addresses and prefixes as ints, for the lab's address plan. */
record Ipv4(int value) implements Comparable<Ipv4> {
    static Ipv4 parse(String dotted) {
        String[] parts = dotted.split("\\.");
        if (parts.length != 4) {
            throw new IllegalArgumentException("not an IPv4 address: " + dotted);
        }
        int v = 0;
        for (String p : parts) {
            int octet = Integer.parseInt(p);
            if (octet < 0 || octet > 255) {
                throw new IllegalArgumentException("not an IPv4 address: " + dotted);
            }
            v = (v << 8) | octet;
        }
        return new Ipv4(v);
    }

    Ipv4 plus(int n) {
        return new Ipv4(value + n);
    }

    @Override
    public int compareTo(Ipv4 o) {
        return Integer.compareUnsigned(value, o.value);
    }

    @Override
    public String toString() {
        return ((value >>> 24) & 255) + "." + ((value >>> 16) & 255) + "." + ((value >>> 8) & 255) + "." + (value & 255);
    }
}
