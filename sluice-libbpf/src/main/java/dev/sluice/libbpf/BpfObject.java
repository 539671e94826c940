package dev.sluice.libbpf;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;

/**
 * A BPF ELF object (clang's output): opened from bytes, adjusted (map sizes, pinning), then loaded into
 * the kernel, after which its programs can be attached and its maps used.
 */
public final class BpfObject implements AutoCloseable {
    // Per-program verifier log buffer. Kernels since 6.4 keep the log's tail when it overflows, which is
    // where the verifier's reason is.
    private static final long LOG_BUFFER_SIZE = 1 << 20;

    private final String name;
    private final Arena elfArena; // holds the ELF bytes, which libbpf reads until load
    private MemorySegment handle;
    private final Map<String, MemorySegment> programHandles = new LinkedHashMap<>();
    private final Map<String, MemorySegment> mapHandles = new LinkedHashMap<>();
    private final Map<String, BpfProgram> programs = new LinkedHashMap<>();
    private final Map<String, BpfMap> maps = new LinkedHashMap<>();
    private boolean loaded;

    private BpfObject(String name, MemorySegment handle, Arena elfArena) {
        this.name = name;
        this.handle = handle;
        this.elfArena = elfArena;
    }

    /** Opens an object from the bytes of a BPF ELF file; {@code name} is used in messages and the kernel. */
    public static BpfObject open(String name, byte[] elf) {
        LibBpf.ensureLoaded();
        Arena arena = Arena.ofShared();
        MemorySegment bytes = arena.allocate(elf.length, 8);
        MemorySegment.copy(elf, 0, bytes, Codecs.U8, 0, elf.length);
        try (Call call = new Call()) {
            // struct bpf_object_open_opts: sz, object_name, relaxed_maps, pin_root_path (we set the first two)
            MemorySegment opts = call.arena.allocate(32);
            opts.set(Codecs.U64, 0, 32L);
            MemorySegment objectName = arena.allocateFrom(name.replace('.', '_'));
            opts.set(java.lang.foreign.ValueLayout.ADDRESS, 8, objectName);
            MemorySegment obj = (MemorySegment) LibBpf.OBJECT_OPEN_MEM.invokeExact(call.state, bytes, (long) elf.length, opts);
            if (obj.equals(MemorySegment.NULL)) {
                arena.close();
                throw BpfException.of("open BPF object " + name, call.errno());
            }
            BpfObject object = new BpfObject(name, obj, arena);
            object.index();
            return object;
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    /** Opens an object packaged as a class-path resource, e.g. {@code /bpf/probe.bpf.o}. */
    public static BpfObject openResource(Class<?> anchor, String resource) {
        try (InputStream in = anchor.getResourceAsStream(resource)) {
            if (in == null) {
                throw new BpfException("BPF object " + resource + " is not on the class path: was the build's clang step skipped?", 0);
            }
            String file = resource.substring(resource.lastIndexOf('/') + 1);
            return open(file.endsWith(".bpf.o") ? file.substring(0, file.length() - 6) : file, in.readAllBytes());
        } catch (IOException e) {
            throw new BpfException("cannot read BPF object " + resource + ": " + e.getMessage(), 0);
        }
    }

    private void index() throws Throwable {
        MemorySegment prog = MemorySegment.NULL;
        while (!(prog = (MemorySegment) LibBpf.OBJECT_NEXT_PROGRAM.invokeExact(handle, prog)).equals(MemorySegment.NULL)) {
            programHandles.put(cString((MemorySegment) LibBpf.PROGRAM_NAME.invokeExact(prog)), prog);
        }
        MemorySegment map = MemorySegment.NULL;
        while (!(map = (MemorySegment) LibBpf.OBJECT_NEXT_MAP.invokeExact(handle, map)).equals(MemorySegment.NULL)) {
            mapHandles.put(cString((MemorySegment) LibBpf.MAP_NAME.invokeExact(map)), map);
        }
    }

    public String name() {
        return name;
    }

    /** Sets a map's capacity before loading (maps sized by configuration, such as the CT table). */
    public BpfObject setMaxEntries(String map, int maxEntries) {
        requireNotLoaded("resize map '" + map + "'");
        try {
            int rc = (int) LibBpf.MAP_SET_MAX_ENTRIES.invokeExact(mapHandle(map), maxEntries);
            if (rc != 0) {
                throw BpfException.of("set max_entries of map '" + map + "'", -rc);
            }
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
        return this;
    }

    /**
     * Pins every map of the object (not .data/.rodata/.bss) under {@code dir} on load, reusing a map
     * already pinned there: this is how a restarted agent adopts the maps its predecessor left. libbpf
     * checks that a reused map has the type and sizes the object declares.
     */
    public BpfObject pinMapsUnder(Path dir) {
        requireNotLoaded("set pin paths");
        if (dir.startsWith(BpfFs.DEFAULT_ROOT)) {
            BpfFs.ensureMounted(BpfFs.DEFAULT_ROOT);
        }
        try {
            // libbpf makes only the last directory of a pin path.
            java.nio.file.Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw new BpfException("cannot create pin directory " + dir + " (is bpffs mounted there?): " + e.getMessage(), 0);
        }
        try (Call call = new Call()) {
            for (Map.Entry<String, MemorySegment> e : mapHandles.entrySet()) {
                boolean internal = (int) LibBpf.MAP_IS_INTERNAL.invokeExact(e.getValue()) != 0;
                if (internal) {
                    continue;
                }
                int rc = (int) LibBpf.MAP_SET_PIN_PATH.invokeExact(e.getValue(), call.string(dir.resolve(e.getKey()).toString()));
                if (rc != 0) {
                    throw BpfException.of("set pin path of map '" + e.getKey() + "'", -rc);
                }
            }
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
        return this;
    }

    /**
     * Loads every program into the kernel and creates (or reuses) the maps. A program the verifier
     * rejects raises a {@link VerifierException} with its name and the verifier's log.
     */
    public BpfObject load() {
        requireNotLoaded("load");
        LibBpf.clearMessages();
        try (Arena logs = Arena.ofConfined(); Call call = new Call()) {
            Map<String, MemorySegment> logBuffers = new LinkedHashMap<>();
            for (Map.Entry<String, MemorySegment> e : programHandles.entrySet()) {
                MemorySegment buf = logs.allocate(LOG_BUFFER_SIZE);
                int rc = (int) LibBpf.PROGRAM_SET_LOG_BUF.invokeExact(e.getValue(), buf, LOG_BUFFER_SIZE);
                if (rc != 0) {
                    throw BpfException.of("set verifier log buffer of '" + e.getKey() + "'", -rc);
                }
                logBuffers.put(e.getKey(), buf);
            }
            int rc = (int) LibBpf.OBJECT_LOAD.invokeExact(call.state, handle);
            // The buffers die with this arena: make sure libbpf no longer points at them.
            for (MemorySegment prog : programHandles.values()) {
                int ignored = (int) LibBpf.PROGRAM_SET_LOG_BUF.invokeExact(prog, MemorySegment.NULL, 0L);
            }
            if (rc != 0) {
                int errno = -rc;
                for (Map.Entry<String, MemorySegment> e : logBuffers.entrySet()) {
                    String log = e.getValue().getString(0);
                    if (!log.isEmpty()) {
                        throw new VerifierException(name, e.getKey(), errno, log, LibBpf.takeMessages());
                    }
                }
                throw BpfException.of("load BPF object " + name, errno);
            }
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
        loaded = true;
        LibBpf.clearMessages();
        return this;
    }

    public boolean loaded() {
        return loaded;
    }

    public synchronized BpfProgram program(String program) {
        requireLoaded();
        return programs.computeIfAbsent(program, p -> new BpfProgram(this, p, programHandle(p)));
    }

    public List<BpfProgram> programs() {
        requireLoaded();
        List<BpfProgram> out = new ArrayList<>();
        for (String p : programHandles.keySet()) {
            out.add(program(p));
        }
        return out;
    }

    /**
     * {@code struct name} as the object's BTF describes it (size, members with their offsets and sizes), if
     * the object uses that struct. Needs no loading. Tests compare it with the {@link StructLayout} of the Java
     * codec that mirrors the struct.
     */
    public Optional<BtfStruct> struct(String struct) {
        // linux/btf.h: BTF_KIND_STRUCT; struct btf_type {name_off, info, size} (12 bytes) followed by vlen
        // struct btf_member {name_off, type, offset} (12 bytes each). btf_members() and
        // btf_member_bit_offset() are inline in libbpf's btf.h, so they are restated here.
        final int btfKindStruct = 4;
        final long typeSize = 12;
        final long memberSize = 12;
        if (handle == null) {
            throw new IllegalStateException("BPF object " + name + " is closed");
        }
        try (Call call = new Call()) {
            MemorySegment btf = (MemorySegment) LibBpf.OBJECT_BTF.invokeExact(handle);
            if (btf.equals(MemorySegment.NULL)) {
                return Optional.empty();
            }
            int id = (int) LibBpf.BTF_FIND_BY_NAME_KIND.invokeExact(btf, call.string(struct), btfKindStruct);
            if (id <= 0) {
                return Optional.empty();
            }
            MemorySegment type = (MemorySegment) LibBpf.BTF_TYPE_BY_ID.invokeExact(btf, id);
            if (type.equals(MemorySegment.NULL)) {
                return Optional.empty();
            }
            type = type.reinterpret(typeSize);
            int info = type.get(Codecs.U32, 4);
            int vlen = info & 0xffff;
            boolean kindFlag = (info >>> 31) != 0;
            long size = Integer.toUnsignedLong(type.get(Codecs.U32, 8));
            MemorySegment members = type.reinterpret(typeSize + vlen * memberSize).asSlice(typeSize);
            List<BtfStruct.Member> out = new ArrayList<>(vlen);
            for (int i = 0; i < vlen; i++) {
                long at = i * memberSize;
                int nameOff = members.get(Codecs.U32, at);
                int memberType = members.get(Codecs.U32, at + 4);
                int offset = members.get(Codecs.U32, at + 8);
                // With kind_flag set, offset holds the bitfield size in its top 8 bits and the bit offset below.
                long bitOffset = kindFlag ? offset & 0xffffff : Integer.toUnsignedLong(offset);
                int bitfieldSize = kindFlag ? offset >>> 24 : 0;
                long memberBytes = (long) LibBpf.BTF_RESOLVE_SIZE.invokeExact(btf, memberType);
                String memberName = cString((MemorySegment) LibBpf.BTF_NAME_BY_OFFSET.invokeExact(btf, nameOff));
                out.add(new BtfStruct.Member(memberName, bitOffset, bitfieldSize, memberBytes));
            }
            return Optional.of(new BtfStruct(struct, size, out));
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    public List<String> programNames() {
        return List.copyOf(programHandles.keySet());
    }

    public List<String> mapNames() {
        return List.copyOf(mapHandles.keySet());
    }

    public BpfMap map(String map) {
        requireLoaded();
        return maps.computeIfAbsent(map, m -> {
            MemorySegment h = mapHandle(m);
            try {
                int fd = (int) LibBpf.MAP_FD.invokeExact(h);
                return new BpfMap(m, fd, MapType.of((int) LibBpf.MAP_TYPE.invokeExact(h)),
                        (int) LibBpf.MAP_KEY_SIZE.invokeExact(h), (int) LibBpf.MAP_VALUE_SIZE.invokeExact(h),
                        (int) LibBpf.MAP_MAX_ENTRIES.invokeExact(h), false);
            } catch (Throwable t) {
                throw Call.unexpected(t);
            }
        });
    }

    private MemorySegment programHandle(String program) {
        MemorySegment h = programHandles.get(program);
        if (h == null) {
            throw new NoSuchElementException("BPF object " + name + " has no program '" + program + "' (it has " + programHandles.keySet() + ")");
        }
        return h;
    }

    private MemorySegment mapHandle(String map) {
        MemorySegment h = mapHandles.get(map);
        if (h == null) {
            throw new NoSuchElementException("BPF object " + name + " has no map '" + map + "' (it has " + mapHandles.keySet() + ")");
        }
        return h;
    }

    private void requireLoaded() {
        if (!loaded) {
            throw new IllegalStateException("BPF object " + name + " is not loaded yet");
        }
    }

    private void requireNotLoaded(String what) {
        if (loaded) {
            throw new IllegalStateException("cannot " + what + ": BPF object " + name + " is already loaded");
        }
        if (handle == null) {
            throw new IllegalStateException("BPF object " + name + " is closed");
        }
    }

    /**
     * Closes the object: its programs and maps are released. Programs stay attached only through
     * links that are pinned; maps live on only where pinned or used by such programs.
     */
    @Override
    public void close() {
        if (handle == null) {
            return;
        }
        try {
            LibBpf.OBJECT_CLOSE.invokeExact(handle);
        } catch (Throwable t) {
            throw Call.unexpected(t);
        } finally {
            handle = null;
            elfArena.close();
        }
    }

    static String cString(MemorySegment ptr) {
        return ptr.equals(MemorySegment.NULL) ? "" : ptr.reinterpret(4096).getString(0);
    }
}
