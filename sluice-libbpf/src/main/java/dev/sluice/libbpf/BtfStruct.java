package dev.sluice.libbpf;

import java.util.List;
import java.util.Optional;

/**
 * A struct as a BPF object's BTF describes it: its size and its members in declaration order, each with its
 * offset and size. {@link BpfObject#struct} reads it; tests compare it with the {@link StructLayout} of the
 * Java codec that mirrors the struct (as Cilium's alignchecker compares Go structs with the objects' BTF).
 *
 * @param name the struct's name, without {@code struct}
 * @param size {@code sizeof}, padding included
 * @param members the members in declaration order
 */
public record BtfStruct(String name, long size, List<Member> members) {
    public BtfStruct {
        members = List.copyOf(members);
    }

    /**
     * One member of a struct.
     *
     * @param name the member's name; empty for an anonymous struct or union
     * @param bitOffset the offset from the start of the struct, in bits
     * @param bitfieldSize the width of a bitfield member in bits, 0 for an ordinary member
     * @param size the size of the member's type in bytes ({@code sizeof(member)}, an array's whole length)
     */
    public record Member(String name, long bitOffset, int bitfieldSize, long size) {
        /** The offset in bytes ({@code offsetof}); a bitfield's is the byte its first bit is in. */
        public long offset() {
            return bitOffset / 8;
        }

        public boolean bitfield() {
            return bitfieldSize != 0;
        }
    }

    /** The member called {@code name}, if the struct has one. */
    public Optional<Member> member(String name) {
        return members.stream().filter(m -> m.name().equals(name)).findFirst();
    }
}
