package dev.sluice.agent.flow;

import dev.sluice.datapath.abi.Aggregation;
import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.datapath.flow.FlowStructs.FlowConfig;
import dev.sluice.datapath.flow.FlowStructs.FlowEvent;
import dev.sluice.libbpf.BpfMap;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.RingBufferReader;
import dev.sluice.libbpf.TypedMap;
import dev.sluice.observe.FlowRing;
import dev.sluice.observe.metrics.FlowMetrics;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The node's flow events from the kernel to the flow ring: the ring-buffer reader decodes each event,
 * the {@link FlowEnricher} names its parties, the ring keeps it for the Observer API and the metrics count
 * it. Events the kernel could not write (a full ring buffer) are read from the datapath's per-CPU counter
 * and reported as lost, as are events the reader's queue had no room for.
 */
public final class FlowPipeline implements AutoCloseable {
    /** Events decoded but not yet enriched: at least a whole ring of them, so that draining a full ring loses none. */
    private static final int MIN_QUEUE = 65_536;
    /** Each ring-buffer record carries an 8-byte header before the event. */
    private static final int RINGBUF_HEADER = 8;
    public static final String LOST_DATAPATH = "perf_event_ring_buffer";
    public static final String LOST_QUEUE = "observer_events_queue";

    private final FlowRing ring;
    private final FlowEnricher enricher;
    private final FlowMetrics metrics;
    private final TypedMap<Integer, List<Long>> lostMap;
    private final RingBufferReader<FlowEvent> reader;
    private long lostInKernel;
    private long lostInQueue;

    /**
     * Starts reading the events of {@code object} (any loaded object that includes flow_maps.h; they share
     * the maps) and sets the datapath's aggregation level.
     */
    public FlowPipeline(BpfObject object, Aggregation aggregation, FlowRing ring, FlowEnricher enricher, FlowMetrics metrics) {
        this.ring = ring;
        this.enricher = enricher;
        this.metrics = metrics;
        this.lostMap = object.map(FlowStructs.MAP_LOST).typedPerCpu(Codecs.u32(), Codecs.u64());
        // What a predecessor's events lost is its own story: count from here.
        this.lostInKernel = lostInKernel();
        BpfMap events = object.map(FlowStructs.MAP_EVENTS);
        int queue = Math.max(MIN_QUEUE, events.maxEntries() / (FlowEvent.SIZE + RINGBUF_HEADER));
        this.reader = RingBufferReader.start(events, FlowEvent::decode, this::accept, queue);
        object.map(FlowStructs.MAP_CONFIG).typed(Codecs.u32(), FlowConfig.CODEC).update(0, new FlowConfig(aggregation));
    }

    /**
     * A ring buffer's size is fixed when the kernel creates it, and libbpf refuses to reuse a pinned map of
     * another size: when the values file changed it, the old ring's pin is removed so that the new size
     * takes effect (programs still attached to the old ring keep it until they are replaced).
     *
     * @return whether the pinned ring was replaced
     */
    public static boolean resizePinnedRing(Path mapDir, int ringBytes) {
        Path pin = mapDir.resolve(FlowStructs.MAP_EVENTS);
        if (!Files.exists(pin)) {
            return false;
        }
        int pinned;
        try (BpfMap map = BpfMap.openPinned(pin)) {
            pinned = map.maxEntries();
        }
        if (pinned == ringBytes) {
            return false;
        }
        try {
            Files.delete(pin);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the pinned flow ring " + pin, e);
        }
        return true;
    }

    private void accept(FlowEvent event) {
        add(enricher.enrich(event));
    }

    /** A flow born outside the datapath (the node proxy's L7 flows): kept and counted as the datapath's are. */
    public void add(dev.sluice.observe.v1.Flow flow) {
        ring.add(flow);
        metrics.record(flow);
    }

    private long lostInKernel() {
        return lostMap.lookup(0).map(cpus -> cpus.stream().mapToLong(Long::longValue).sum()).orElse(0L);
    }

    /** Reads the loss counters and reports what was lost since the last call; call it now and then. */
    public synchronized Lost collectLost() {
        long kernel = lostInKernel();
        long queue = reader.dropped();
        long newKernel = kernel - lostInKernel;
        long newQueue = queue - lostInQueue;
        lostInKernel = kernel;
        lostInQueue = queue;
        if (newKernel > 0) {
            ring.recordLost(newKernel);
            metrics.lostEvents(LOST_DATAPATH, newKernel);
        }
        if (newQueue > 0) {
            ring.recordLost(newQueue);
            metrics.lostEvents(LOST_QUEUE, newQueue);
        }
        return new Lost(newKernel, newQueue);
    }

    /** Events lost since the previous collection: in the kernel (ring buffer full) and in the reader's queue. */
    public record Lost(long kernel, long queue) {
    }

    public long received() {
        return reader.received();
    }

    public FlowRing ring() {
        return ring;
    }

    public FlowEnricher enricher() {
        return enricher;
    }

    @Override
    public void close() {
        reader.close();
    }
}
