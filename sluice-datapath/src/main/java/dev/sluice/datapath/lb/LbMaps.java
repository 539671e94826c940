package dev.sluice.datapath.lb;

import dev.sluice.datapath.lb.LbStructs.Lb4Backend;
import dev.sluice.datapath.lb.LbStructs.Lb4Key;
import dev.sluice.datapath.lb.LbStructs.Lb4ReverseNat;
import dev.sluice.datapath.lb.LbStructs.Lb4Service;
import dev.sluice.datapath.lb.LbStructs.LbConfig;
import dev.sluice.libbpf.BpfMap;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.TypedMap;

import java.nio.file.Path;

/** The node's load-balancing maps, typed. They are shared by the socket-LB and pod-veth objects through pinning. */
public record LbMaps(TypedMap<Lb4Key, Lb4Service> services, TypedMap<Integer, Lb4Backend> backends,
                     TypedMap<Integer, Lb4ReverseNat> reverseNat, TypedMap<Integer, Integer> maglev,
                     TypedMap<Integer, LbConfig> config) {

    public static LbMaps of(java.util.function.Function<String, BpfMap> maps) {
        return new LbMaps(maps.apply("lb4_services").typed(Lb4Key.CODEC, Lb4Service.CODEC),
                maps.apply("lb4_backends").typed(Codecs.u32(), Lb4Backend.CODEC),
                maps.apply("lb4_reverse_nat").typed(Codecs.u16(), Lb4ReverseNat.CODEC),
                // A map of maps takes an inner map's fd on update (and gives its id on lookup).
                maps.apply("lb4_maglev").typed(Codecs.u16(), Codecs.u32()),
                maps.apply("lb4_config").typed(Codecs.u32(), LbConfig.CODEC));
    }

    /** The maps pinned in {@code dir}, as a restarted agent or the CLI finds them. */
    public static LbMaps openPinned(Path dir) {
        return of(name -> BpfMap.openPinned(dir.resolve(name)));
    }
}
