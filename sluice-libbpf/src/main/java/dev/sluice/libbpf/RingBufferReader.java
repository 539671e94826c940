package dev.sluice.libbpf;

import dev.sluice.linux.Errno;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Reads a BPF ring buffer on threads of its own, so the caller's other work never waits on it.
 *
 * <p>A poll thread drains the kernel's ring through libbpf and decodes each record into a bounded queue;
 * a dispatch thread hands queued events to the handler. When the handler falls behind and the queue is
 * full, new events are dropped and counted rather than stalling the poll thread, because a stalled
 * reader fills the kernel ring and then the datapath's own reservations start failing. Losses inside the
 * kernel (a full ring) are for the BPF program to count.
 */
public final class RingBufferReader<T> implements AutoCloseable {
    /**
     * How long a record may wait when its producer did not wake the reader: programs that submit with
     * BPF_RB_NO_WAKEUP (so as not to cost a context switch per record) are read this often.
     */
    public static final long POLL_TIMEOUT_MS = 50;

    private final String name;
    private final Function<MemorySegment, T> decoder;
    private final Consumer<? super T> handler;
    private final BlockingQueue<T> queue;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment ringBuffer;
    private final AtomicLong received = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong handlerErrors = new AtomicLong();
    private final Thread poller;
    private final Thread dispatcher;
    private volatile boolean running = true;
    private volatile Throwable pollFailure;

    private RingBufferReader(BpfMap map, Function<MemorySegment, T> decoder, Consumer<? super T> handler, int queueCapacity) {
        if (map.type() != MapType.RINGBUF) {
            throw new IllegalArgumentException("map '" + map.name() + "' is " + map.type() + ", not a RINGBUF");
        }
        this.name = map.name();
        this.decoder = decoder;
        this.handler = handler;
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        try (Call call = new Call()) {
            MethodHandle target = MethodHandles.lookup().findVirtual(RingBufferReader.class, "onSample",
                    MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class, long.class)).bindTo(this);
            MemorySegment callback = Linker.nativeLinker().upcallStub(target,
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG), arena);
            MemorySegment rb = (MemorySegment) LibBpf.RING_BUFFER_NEW.invokeExact(call.state, map.fd(), callback,
                    MemorySegment.NULL, MemorySegment.NULL);
            if (rb.equals(MemorySegment.NULL)) {
                arena.close();
                throw BpfException.of("open ring buffer '" + map.name() + "'", call.errno());
            }
            this.ringBuffer = rb;
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
        this.poller = Thread.ofPlatform().daemon().name("ringbuf-poll-" + name).unstarted(this::pollLoop);
        this.dispatcher = Thread.ofPlatform().daemon().name("ringbuf-dispatch-" + name).unstarted(this::dispatchLoop);
    }

    /**
     * Starts reading {@code map}. {@code decoder} turns one record (a segment of exactly the record's
     * size, valid only during the call) into an event; {@code handler} receives events in order.
     */
    public static <T> RingBufferReader<T> start(BpfMap map, Function<MemorySegment, T> decoder,
                                                Consumer<? super T> handler, int queueCapacity) {
        RingBufferReader<T> reader = new RingBufferReader<>(map, decoder, handler, queueCapacity);
        reader.poller.start();
        reader.dispatcher.start();
        return reader;
    }

    /** Starts reading fixed-size records through a codec. */
    public static <T> RingBufferReader<T> start(BpfMap map, Codec<T> codec, Consumer<? super T> handler, int queueCapacity) {
        return start(map, segment -> codec.decode(segment.asSlice(0, Math.min(codec.size(), segment.byteSize()))), handler, queueCapacity);
    }

    /** Events decoded and queued for the handler. */
    public long received() {
        return received.get();
    }

    /** Events dropped because the handler fell behind and the queue was full. */
    public long dropped() {
        return dropped.get();
    }

    /** Events whose handler threw (the exception is not rethrown: the reader goes on). */
    public long handlerErrors() {
        return handlerErrors.get();
    }

    /** Events waiting for the handler. */
    public int backlog() {
        return queue.size();
    }

    // Upcall from ring_buffer__poll: int (*)(void *ctx, void *data, size_t size). Never throws into C.
    private int onSample(MemorySegment ctx, MemorySegment data, long size) {
        try {
            T event = decoder.apply(data.reinterpret(size));
            if (queue.offer(event)) {
                received.incrementAndGet();
            } else {
                dropped.incrementAndGet();
            }
        } catch (Throwable t) {
            handlerErrors.incrementAndGet();
        }
        return 0;
    }

    private void pollLoop() {
        try (Call call = new Call()) {
            while (running) {
                int rc = (int) LibBpf.RING_BUFFER_POLL.invokeExact(call.state, ringBuffer, (int) POLL_TIMEOUT_MS);
                if (rc < 0 && -rc != Errno.EINTR) {
                    pollFailure = BpfException.of("poll ring buffer '" + name + "'", -rc);
                    return;
                }
                // poll only reads rings that signalled; records submitted without a wake-up are read here.
                rc = (int) LibBpf.RING_BUFFER_CONSUME.invokeExact(call.state, ringBuffer);
                if (rc < 0 && -rc != Errno.EINTR) {
                    pollFailure = BpfException.of("consume ring buffer '" + name + "'", -rc);
                    return;
                }
            }
        } catch (Throwable t) {
            pollFailure = t;
        }
    }

    private void dispatchLoop() {
        while (running || !queue.isEmpty()) {
            T event;
            try {
                event = queue.poll(POLL_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (event == null) {
                continue;
            }
            try {
                handler.accept(event);
            } catch (RuntimeException e) {
                handlerErrors.incrementAndGet();
            }
        }
    }

    /** The failure that stopped the poll thread, if one did. */
    public Throwable failure() {
        return pollFailure;
    }

    /** Stops both threads (events still queued are handed over first) and frees the ring buffer. */
    @Override
    public void close() {
        if (!running) {
            return;
        }
        running = false;
        try {
            poller.join();
            dispatcher.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            LibBpf.RING_BUFFER_FREE.invokeExact(ringBuffer);
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
        arena.close();
    }
}
