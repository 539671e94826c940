package dev.sluice.libbpf;

/** A key of an LPM trie: {@code struct { __u32 prefixlen; T data; }}. */
public record Lpm<T>(int prefixLength, T data) {
}
