package dev.sluice.libbpf;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * The layout a Java codec assumes for a C struct: its size and each member's offset and size, in declaration
 * order. Written next to the codec (and giving it its size, {@link Codec#of(StructLayout, java.util.function.Function,
 * java.util.function.BiConsumer)}), and checked by tests against the objects' BTF with {@link #differences}, so that a
 * member that moved in C fails a test naming it instead of corrupting a map.
 *
 * <p>Members the codec leaves zero (padding, reserved fields) are {@link #reserved}: they are part of the
 * layout, so that every member of the C struct is accounted for.
 *
 * @param name the C struct's name, without {@code struct}
 * @param size {@code sizeof}, padding included
 * @param fields the members in declaration order
 */
public record StructLayout(String name, long size, List<Field> fields) {
    /**
     * One member.
     *
     * @param name as in C
     * @param offset {@code offsetof}, in bytes
     * @param size {@code sizeof} the member, in bytes
     * @param reserved true when the codec neither reads nor writes it (padding, reserved)
     */
    public record Field(String name, long offset, long size, boolean reserved) {
        public long end() {
            return offset + size;
        }
    }

    public StructLayout {
        fields = List.copyOf(fields);
        long end = 0;
        for (Field f : fields) {
            if (f.offset() < end || f.size() <= 0 || f.end() > size) {
                throw new IllegalArgumentException("struct " + name + ": field " + f.name() + " at " + f.offset() + " (" + f.size()
                        + " bytes) overlaps the previous field or leaves the struct's " + size + " bytes");
            }
            end = f.end();
        }
    }

    /** A layout without fields yet: add them with {@link #field} and {@link #reserved}, in declaration order. */
    public static StructLayout of(String name, long size) {
        return new StructLayout(name, size, List.of());
    }

    /** This layout with one more member, which the codec reads and writes. */
    public StructLayout field(String field, long offset, long size) {
        return with(new Field(field, offset, size, false));
    }

    /** This layout with one more member that the codec leaves zero (padding, reserved). */
    public StructLayout reserved(String field, long offset, long size) {
        return with(new Field(field, offset, size, true));
    }

    private StructLayout with(Field field) {
        List<Field> more = new ArrayList<>(fields);
        more.add(field);
        return new StructLayout(name, size, more);
    }

    public Field field(String field) {
        return fields.stream().filter(f -> f.name().equals(field)).findFirst()
                .orElseThrow(() -> new NoSuchElementException("struct " + name + " has no field " + field));
    }

    /** {@code offsetof(struct name, field)}. */
    public long offset(String field) {
        return field(field).offset();
    }

    /**
     * What differs between this layout and the struct as BTF describes it, one sentence per difference naming
     * the struct, the field, and both offsets or sizes; empty when they agree. Every BTF member must be in the
     * layout and every field of the layout in BTF.
     */
    public List<String> differences(BtfStruct btf) {
        List<String> out = new ArrayList<>();
        if (btf.size() != size) {
            out.add("struct " + name + ": Java size " + size + ", BTF size " + btf.size());
        }
        Map<String, Field> java = new LinkedHashMap<>();
        fields.forEach(f -> java.put(f.name(), f));
        for (BtfStruct.Member m : btf.members()) {
            Field f = java.remove(m.name());
            if (f == null) {
                out.add("struct " + name + ", field " + describe(m) + ": BTF offset " + m.offset() + " (size " + m.size()
                        + "), not in the Java layout");
                continue;
            }
            if (m.bitfield() || m.bitOffset() % 8 != 0) {
                out.add("struct " + name + ", field " + f.name() + ": a bitfield in BTF (bit offset " + m.bitOffset() + ", "
                        + m.bitfieldSize() + " bits), which a Java layout cannot mirror");
                continue;
            }
            if (m.offset() != f.offset()) {
                out.add("struct " + name + ", field " + f.name() + ": Java offset " + f.offset() + ", BTF offset " + m.offset());
            }
            if (m.size() != f.size()) {
                out.add("struct " + name + ", field " + f.name() + ": Java size " + f.size() + ", BTF size " + m.size());
            }
        }
        java.values().forEach(f -> out.add("struct " + name + ", field " + f.name() + ": Java offset " + f.offset() + ", not in BTF"));
        return out;
    }

    private static String describe(BtfStruct.Member m) {
        return m.name().isEmpty() ? "(anonymous)" : m.name();
    }
}
