package dev.sluice.datapath.abi;

/**
 * One constant of the contract between the datapath (bpf/include/*.h) and Java: its number on the wire and the
 * name Cilium or Hubble prints for it. Each family of {@code #define}s is one enum in this package; AbiConstantsTest
 * checks every value against the headers.
 */
public interface AbiConstant {
    /** The number in the maps and events, as the header defines it. */
    int value();

    /** How Cilium or Hubble prints it. */
    String displayName();
}
