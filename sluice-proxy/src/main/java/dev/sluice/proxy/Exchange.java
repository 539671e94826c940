package dev.sluice.proxy;

import dev.sluice.l7.route.Cluster;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.HeaderMutation;
import dev.sluice.l7.route.RetryPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.WeightedCluster;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;

import java.net.InetSocketAddress;
import io.netty.util.concurrent.ScheduledFuture;

import java.net.URLEncoder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One request through the proxy: route it, pick a cluster by weight and a backend by the cluster's policy, open a
 * stream to it, and pass frames both ways as they come (headers, data, trailers), never aggregating a body. A
 * failure before anything reached a backend is retried on another backend of the cluster; a request no backend
 * can take is answered by the proxy: 503, or for gRPC a trailers-only response with grpc-status 14 (UNAVAILABLE)
 * and a message saying why. Runs on the downstream's event loop, as do the upstream streams it opens.
 */
final class Exchange {
    private static final int MAX_ATTEMPTS = 3;
    /**
     * How long a connect the backend's datapath is expected to drop is waited for: its SYN leaves at once and is
     * dropped at the backend's veth within microseconds, so this only bounds the client's wait; a connect that
     * succeeds meanwhile (the kernel admitted it after all: the kernel, not the agent's expectation, decides) goes on.
     */
    static final Duration DATAPATH_DROP_WAIT = Duration.ofMillis(100);

    private final ProxyContext proxy;
    private final Downstream downstream;
    private Http2Headers requestHeaders;
    private boolean grpc;
    private final ArrayDeque<Object> pending = new ArrayDeque<>(); // ByteBuf (data), Http2Headers (trailers), END
    private boolean requestEnded;
    private Http2StreamChannel upstream;
    private Endpoint backend;
    private Cluster cluster;
    private Route route;
    private ScheduledFuture<?> timeout;
    private final Set<String> tried = new HashSet<>();
    /** The request as sent so far, kept while the route retries and it is small enough (ByteBuf, Http2Headers). */
    private final ArrayDeque<Object> replay = new ArrayDeque<>();
    private int replayBytes;
    private boolean replayable = true;
    private int retries;
    /** Which try the upstream handlers belong to: frames of an abandoned try are dropped. */
    private int tryId;
    private ScheduledFuture<?> perTry;
    /** Why the last try failed, when it failed before the request ended: the retry waits for the rest of it. */
    private String deferredRetry;
    private boolean responseStarted;
    private boolean done;
    private static final Object END = new Object();
    // What the access record needs, captured as the exchange goes (no parsing beyond what routing did).
    private long startNanos;
    private ServiceRoutes service;
    private int status;
    private int grpcStatus = -1;
    private CharSequence grpcMessage;
    private AccessRecord.Verdict verdict = AccessRecord.Verdict.FORWARDED;
    private String reason;

    Exchange(ProxyContext proxy, Downstream downstream) {
        this.proxy = proxy;
        this.downstream = downstream;
    }

    void requestHeaders(Http2Headers headers, boolean endStream) {
        proxy.stats().requests.increment();
        startNanos = System.nanoTime();
        requestHeaders = headers;
        requestEnded = endStream;
        CharSequence contentType = headers.get("content-type");
        grpc = contentType != null && contentType.toString().startsWith("application/grpc");
        RouteTable table = proxy.routes().current();
        String authority = headers.authority() == null ? "" : headers.authority().toString();
        String path = headers.path() == null ? "/" : headers.path().toString();
        // Within the Service port of the listener the connection came to (its original destination).
        var match = table.matchOn(downstream.serviceKey(), authority, path, name -> {
            CharSequence v = headers.get(name);
            return v == null ? null : v.toString();
        });
        if (match.isEmpty()) {
            localReply(AccessRecord.Verdict.ERROR, 404, 12, "sluice proxy: no route for authority \"" + authority + "\" path \"" + path + "\"");
            return;
        }
        service = match.get().service();
        List<WeightedCluster> split = match.get().route().clusters();
        WeightedCluster chosen = split.getFirst();
        if (split.size() > 1) {
            int total = match.get().route().totalWeight();
            int r = ThreadLocalRandom.current().nextInt(total);
            for (WeightedCluster wc : split) {
                r -= wc.weight();
                if (r < 0) {
                    chosen = wc;
                    break;
                }
            }
        }
        route = match.get().route();
        cluster = table.clusters().get(chosen.cluster());
        if (cluster == null) {
            int status = route.clusterNotFoundStatus();
            localReply(AccessRecord.Verdict.ERROR, status, status == 500 ? 13 : status == 404 ? 12 : 14,
                    "sluice proxy: cluster " + chosen.cluster() + " is not configured");
            return;
        }
        mutate(headers, route.requestHeaders());
        if (requestEnded) {
            startTimeout();
        }
        downstream.readable(false);
        attempt(null);
    }

    private static int statusOf(Http2Headers headers) {
        try {
            return headers.status() == null ? 0 : Integer.parseInt(headers.status().toString());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** The route's request header changes: remove, then set, then add. */
    private static void mutate(Http2Headers headers, HeaderMutation mutation) {
        if (mutation.isEmpty()) {
            return;
        }
        mutation.remove().forEach(headers::remove);
        mutation.set().forEach(e -> headers.set(e.getKey(), e.getValue()));
        mutation.add().forEach(e -> headers.add(e.getKey(), e.getValue()));
    }

    /**
     * Envoy's route timeout: from the end of the request until the response is complete. A response that has not
     * started gets 504 (gRPC DEADLINE_EXCEEDED); one that has is reset. Either way the upstream stream is reset.
     */
    private void startTimeout() {
        if (route == null || route.timeout().isZero() || timeout != null || done) {
            return;
        }
        Duration limit = route.timeout();
        timeout = downstream.eventLoop().schedule(() -> {
            if (done) {
                return;
            }
            proxy.stats().timeouts.increment();
            Http2StreamChannel stream = upstream;
            String why = "sluice proxy: upstream request timeout: no complete response within " + limit.toMillis() + " ms"
                    + (backend != null ? " from " + backend : "");
            if (responseStarted) {
                finish();
                downstream.reset(Http2Error.CANCEL);
            } else {
                localReply(AccessRecord.Verdict.ERROR, 504, 4, why);
            }
            if (stream != null) {
                stream.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
                stream.close();
            }
        }, limit.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void attempt(String previousFailure) {
        Endpoint e = proxy.backends().pick(cluster, tried);
        if (e == null) {
            localReply(AccessRecord.Verdict.ERROR, 503, 14, "sluice proxy: " + (previousFailure != null && tried.size() >= cluster.endpoints().size()
                    ? "every backend of cluster " + cluster.name() + " failed; last: " + previousFailure
                    : proxy.backends().unavailable(cluster)));
            return;
        }
        tried.add(e.key());
        backend = e; // named in the access record even when policy denies it
        UpstreamPool pool = proxy.pool(downstream.eventLoop());
        UpstreamPool.Source source = UpstreamPool.Source.NODE;
        Duration connectTimeout = cluster.connectTimeout();
        String datapathDrop = null;
        if (downstream.remote() instanceof java.net.InetSocketAddress client) {
            dev.sluice.l7.policy.Admitted decision;
            try {
                decision = proxy.admission().decide(client, e);
            } catch (Admission.Unavailable unavailable) {
                // Fail closed: without a decision the request is refused, never forwarded.
                localReply(AccessRecord.Verdict.DENIED, 503, 14, "sluice proxy: " + unavailable.getMessage(), unavailable.getMessage());
                return;
            }
            if (!decision.allowed()) {
                deny(decision.reason());
                return;
            }
            // Checked first: without HTTP rules (the common case) nothing of the request is turned into strings.
            if (!decision.httpRules().isEmpty()) {
                var l7 = decision.denies(String.valueOf(requestHeaders.method()), String.valueOf(requestHeaders.path()),
                        requestHeaders.authority() == null ? "" : requestHeaders.authority().toString(),
                        name -> requestHeaders.getAll(name).stream().map(CharSequence::toString).toList());
                if (l7.isPresent()) {
                    accessDenied(l7.get());
                    return;
                }
            }
            if (decision.clientSource()) {
                boolean dropExpected = !decision.datapathDrop().isEmpty();
                if (pool.transparent()) {
                    // Identity-preserving forwarding: the backend's datapath judges the client itself.
                    source = new UpstreamPool.Source(client.getAddress(), !dropExpected);
                    if (dropExpected) {
                        datapathDrop = decision.datapathDrop();
                        connectTimeout = connectTimeout.compareTo(DATAPATH_DROP_WAIT) < 0 ? connectTimeout : DATAPATH_DROP_WAIT;
                    }
                } else if (dropExpected) {
                    // No transparent socket here (NIO): from the node's address the datapath would admit what it
                    // drops for the client, so the proxy refuses in its place rather than let the client past.
                    deny(decision.datapathDrop());
                    return;
                }
            }
        }
        String drop = datapathDrop;
        pool.openStream(e, source, connectTimeout, new UpstreamHandler(tryId))
                .addListener(f -> {
                    if (done) {
                        if (f.isSuccess()) {
                            ((Http2StreamChannel) f.getNow()).close();
                        }
                        return;
                    }
                    if (!f.isSuccess() && drop != null) {
                        // What the agent expected: the backend's datapath dropped the client (its flow names the
                        // client's identity). The backend is not at fault: not ejected, not retried elsewhere.
                        proxy.stats().datapathDrops.increment();
                        deny(drop + " (dropped by the backend's datapath)");
                        return;
                    }
                    if (!f.isSuccess()) {
                        String why = f.cause() instanceof UpstreamPool.UpstreamException u ? u.getMessage()
                                : "opening a stream to " + e + " failed: " + UpstreamPool.message(f.cause());
                        if (tried.size() < MAX_ATTEMPTS) {
                            proxy.stats().retries.increment();
                            attempt(why);
                        } else {
                            localReply(AccessRecord.Verdict.ERROR, 503, 14, "sluice proxy: cluster " + cluster.name() + ": " + why);
                        }
                        return;
                    }
                    started((Http2StreamChannel) f.getNow());
                });
    }

    private void started(Http2StreamChannel stream) {
        upstream = stream;
        proxy.backends().state(backend).active.incrementAndGet();
        startPerTryTimeout();
        if (retries > 0) {
            // A retry: the whole request again, from what was kept of it.
            stream.write(new DefaultHttp2HeadersFrame(requestHeaders, replay.isEmpty()));
            int left = replay.size();
            for (Object next : replay) {
                left--;
                if (next instanceof ByteBuf data) {
                    stream.write(new DefaultHttp2DataFrame(data.retainedDuplicate(), left == 0));
                } else if (next instanceof Http2Headers trailers) {
                    stream.write(new DefaultHttp2HeadersFrame(trailers, true));
                }
            }
            stream.flush();
            return;
        }
        boolean onlyHeaders = requestEnded && pending.isEmpty();
        stream.write(new DefaultHttp2HeadersFrame(requestHeaders, onlyHeaders));
        while (!pending.isEmpty()) {
            Object next = pending.poll();
            boolean last = pending.isEmpty() && requestEnded;
            if (next instanceof ByteBuf data) {
                stream.write(new DefaultHttp2DataFrame(data, last && pending.isEmpty()));
            } else if (next instanceof Http2Headers trailers) {
                stream.write(new DefaultHttp2HeadersFrame(trailers, true));
            } else if (next == END) {
                stream.write(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true));
            }
        }
        stream.flush();
        downstream.readable(true);
    }

    void requestData(ByteBuf data, boolean endStream) {
        if (done) {
            data.release();
            return;
        }
        requestEnded |= endStream;
        if (endStream) {
            startTimeout();
        }
        keep(data);
        if (upstream != null) {
            upstream.writeAndFlush(new DefaultHttp2DataFrame(data, endStream));
        } else if (deferredRetry != null || retries > 0) {
            data.release(); // a retry sends what keep() held
            if (endStream) {
                retryDeferred();
            }
        } else {
            pending.add(data);
            if (endStream) {
                // Marked by requestEnded; the last buffered frame carries END_STREAM.
                return;
            }
        }
    }

    void requestTrailers(Http2Headers trailers) {
        if (done) {
            return;
        }
        requestEnded = true;
        startTimeout();
        keep(trailers);
        if (upstream != null) {
            upstream.writeAndFlush(new DefaultHttp2HeadersFrame(trailers, true));
        } else if (deferredRetry != null || retries > 0) {
            retryDeferred();
        } else {
            pending.add(trailers);
        }
    }

    /** Keeps a part of the request for a retry, while the route retries and the request is within the limit. */
    private void keep(Object part) {
        if (route == null || route.retry() == null || !replayable) {
            return;
        }
        if (part instanceof ByteBuf data) {
            replayBytes += data.readableBytes();
            if (replayBytes > RetryPolicy.BUFFER_LIMIT) {
                // Too big to hold: this request is not retried.
                replayable = false;
                replay.forEach(ReferenceCountUtil::release);
                replay.clear();
                return;
            }
            replay.add(data.retainedDuplicate());
        } else {
            replay.add(part);
        }
    }

    /** Whether the route's retry policy allows another try now. */
    private boolean canRetry() {
        return retryAllowed() && requestEnded;
    }

    /** Whether the route's retry policy allows another try once the request has ended (the body so far held). */
    private boolean retryAllowed() {
        return route != null && route.retry() != null && retries < route.retry().numRetries()
                && replayable && !responseStarted && !done;
    }

    /**
     * The try failed before the request ended: it is abandoned, and the retry starts when the rest of the request
     * has arrived (and is held), as Envoy buffers a request before it retries it.
     */
    private void deferRetry(String why) {
        tryId++;
        abandonUpstream();
        deferredRetry = why;
        downstream.readable(true);
    }

    private void retryDeferred() {
        String why = deferredRetry;
        if (why == null || done) {
            return;
        }
        deferredRetry = null;
        if (canRetry()) {
            retry(why);
        } else {
            localReply(AccessRecord.Verdict.ERROR, 503, 14, "sluice proxy: cluster " + cluster.name() + ": " + why
                    + (replayable ? "" : " (not retried: the request is larger than " + RetryPolicy.BUFFER_LIMIT + " bytes)"));
        }
    }

    private void abandonUpstream() {
        if (perTry != null) {
            perTry.cancel(false);
            perTry = null;
        }
        if (upstream != null) {
            proxy.backends().state(backend).active.decrementAndGet();
            upstream.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
            upstream.close();
            upstream = null;
        }
    }

    /** Abandons the current try (its stream reset) and starts the next, on another backend when there is one. */
    private void retry(String why) {
        retries++;
        tryId++;
        proxy.stats().retries.increment();
        abandonUpstream();
        if (tried.size() >= cluster.endpoints().size()) {
            tried.clear(); // every backend had a try: the same ones may have another
        }
        // Envoy's jittered exponential back-off (the route's retry_back_off, else 25 ms base): a backend that just
        // failed is not hit again at once, and many clients retrying together spread out.
        Duration wait = route.retry().backOff().next(retries, ThreadLocalRandom.current());
        int id = tryId;
        downstream.eventLoop().schedule(() -> {
            if (!done && id == tryId) {
                attempt(why);
            }
        }, wait.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** The retry policy's per-try timeout, from the try's stream opening until its response starts. */
    private void startPerTryTimeout() {
        if (route == null || route.retry() == null || route.retry().perTryTimeout().isZero()) {
            return;
        }
        int id = tryId;
        Duration limit = route.retry().perTryTimeout();
        perTry = downstream.eventLoop().schedule(() -> {
            if (id != tryId || done || responseStarted) {
                return;
            }
            String why = "no response from " + backend + " within the per-try timeout of " + limit.toMillis() + " ms";
            if (canRetry() && route.retry().retriesResets()) {
                retry(why);
                return;
            }
            proxy.stats().timeouts.increment();
            Http2StreamChannel stream = upstream;
            localReply(AccessRecord.Verdict.ERROR, 504, 4, "sluice proxy: upstream request timeout: " + why);
            if (stream != null) {
                stream.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
                stream.close();
            }
        }, limit.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** The client went away or reset the stream. */
    void downstreamReset() {
        if (done) {
            return;
        }
        verdict = AccessRecord.Verdict.ERROR;
        reason = "the client reset the stream or closed the connection";
        finish();
        if (upstream != null) {
            upstream.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
            upstream.close();
        }
    }

    void downstreamWritable(boolean writable) {
        if (upstream != null) {
            upstream.config().setAutoRead(writable);
        }
    }

    private void finish() {
        if (!done) {
            done = true;
            if (responseStarted && backend != null && cluster != null && cluster.outlierDetection() != null) {
                // The backend's answer, for outlier detection: its gRPC status where it gave one, else its HTTP status.
                proxy.backends().response(cluster, backend, grpcStatus >= 0
                        ? dev.sluice.l7.route.OutlierDetection.httpStatusOfGrpc(grpcStatus) : status);
            }
            if (timeout != null) {
                timeout.cancel(false);
            }
            if (perTry != null) {
                perTry.cancel(false);
            }
            replay.forEach(ReferenceCountUtil::release);
            replay.clear();
            if (upstream != null) {
                proxy.backends().state(backend).active.decrementAndGet();
            }
            pending.forEach(ReferenceCountUtil::release);
            pending.clear();
            log();
        }
    }

    /** The one access record of this exchange; called once, when it is over. */
    private void log() {
        AccessLog log = proxy.accessLog();
        if (log == AccessLog.NONE) {
            return;
        }
        long latency = System.nanoTime() - startNanos;
        InetSocketAddress client = downstream.remote() instanceof InetSocketAddress a ? a : new InetSocketAddress(0);
        Http2Headers h = requestHeaders;
        log.record(new AccessRecord(java.time.Instant.now().minusNanos(latency), latency, client,
                backend == null ? "" : backend.address(), backend == null ? 0 : backend.port(), backend == null ? "" : backend.pod(),
                service == null ? "" : service.namespace() + "/" + service.service(), service == null ? 0 : service.port(),
                cluster == null ? "" : cluster.name(), downstream.protocol(),
                text(h.method()), text(h.scheme()), text(h.authority()), text(h.path()),
                status, grpcStatus, grpcMessage == null ? "" : grpcMessage.toString(), verdict, reason));
    }

    private static String text(CharSequence s) {
        return s == null ? "" : s.toString();
    }

    /** Records a response's :status and, for gRPC, its grpc-status and grpc-message (headers or trailers). */
    private void observe(Http2Headers headers) {
        CharSequence code = headers.status();
        if (code != null) {
            status = digits(code);
        }
        CharSequence g = headers.get("grpc-status");
        if (g != null) {
            grpcStatus = digits(g);
            grpcMessage = headers.get("grpc-message");
        }
    }

    /** A non-negative decimal without allocating; -1 if it is not one. */
    private static int digits(CharSequence s) {
        int n = 0;
        if (s.isEmpty() || s.length() > 9) {
            return -1;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            n = n * 10 + (c - '0');
        }
        return n;
    }

    /**
     * Answers the request with a policy denial (403 {@code Access denied}-style, or gRPC PERMISSION_DENIED); the
     * access record says DENIED with {@code why}. For admission and L7 policy.
     */
    void deny(String why) {
        localReply(AccessRecord.Verdict.DENIED, 403, 7, "sluice proxy: access denied: " + why, why);
    }

    private void localReply(AccessRecord.Verdict verdict, int httpStatus, int grpcStatus, String message) {
        localReply(verdict, httpStatus, grpcStatus, message, message);
    }

    private void localReply(AccessRecord.Verdict verdict, int httpStatus, int grpcStatus, String message, String why) {
        proxy.stats().localReplies.increment();
        this.verdict = verdict;
        this.reason = why;
        if (grpc) {
            this.status = 200;
            this.grpcStatus = grpcStatus;
            this.grpcMessage = URLEncoder.encode(message, StandardCharsets.UTF_8).replace("+", "%20");
        } else {
            this.status = httpStatus;
        }
        finish();
        Http2Headers headers = new DefaultHttp2Headers();
        if (grpc) {
            headers.status("200").set("content-type", "application/grpc")
                    .setInt("grpc-status", grpcStatus)
                    .set("grpc-message", this.grpcMessage);
            downstream.headers(headers, true);
        } else {
            byte[] body = (message + "\n").getBytes(StandardCharsets.UTF_8);
            headers.status(String.valueOf(httpStatus)).set("content-type", "text/plain; charset=utf-8")
                    .setInt("content-length", body.length);
            downstream.headers(headers, false);
            downstream.data(Unpooled.wrappedBuffer(body), true);
        }
        downstream.readable(true);
    }

    /**
     * A request L7 policy denies, answered as Cilium's Envoy does: 403 with body {@code Access denied\r\n}, or for
     * gRPC a trailers-only PERMISSION_DENIED (7) whose message names the policies.
     */
    private void accessDenied(String why) {
        if (grpc) {
            deny(why);
            return;
        }
        proxy.stats().localReplies.increment();
        this.verdict = AccessRecord.Verdict.DENIED;
        this.reason = why;
        this.status = 403;
        finish();
        byte[] body = "Access denied\r\n".getBytes(StandardCharsets.US_ASCII);
        Http2Headers headers = new DefaultHttp2Headers().status("403").set("content-type", "text/plain")
                .setInt("content-length", body.length);
        downstream.headers(headers, false);
        downstream.data(Unpooled.wrappedBuffer(body), true);
        downstream.readable(true);
    }

    /** The backend's side: frames of the response, passed on as they arrive. */
    private final class UpstreamHandler extends ChannelInboundHandlerAdapter {
        private final int id;

        UpstreamHandler(int id) {
            this.id = id;
        }

        /** Whether this handler's try was abandoned for a retry, or the exchange is over. */
        private boolean stale() {
            return done || id != tryId;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (stale()) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof Http2HeadersFrame h) {
                if (!responseStarted && h.headers().status() != null && h.headers().status().charAt(0) == '1') {
                    return; // 1xx: not passed on
                }
                if (!responseStarted && canRetry()) {
                    int status = statusOf(h.headers());
                    int grpcStatus = -1;
                    CharSequence gs = h.isEndStream() ? h.headers().get("grpc-status") : null;
                    if (gs != null) {
                        try {
                            grpcStatus = Integer.parseInt(gs.toString());
                        } catch (NumberFormatException e) {
                            grpcStatus = -1;
                        }
                    }
                    if (route.retry().retriable(status, grpcStatus)) {
                        proxy.backends().response(cluster, backend, grpcStatus >= 0
                                ? dev.sluice.l7.route.OutlierDetection.httpStatusOfGrpc(grpcStatus) : status);
                        retry("backend " + backend + " answered " + status + (grpcStatus >= 0 ? " grpc-status " + grpcStatus : ""));
                        return;
                    }
                }
                responseStarted = true;
                observe(h.headers());
                downstream.headers(h.headers(), h.isEndStream());
                if (h.isEndStream()) {
                    finish();
                }
            } else if (msg instanceof Http2DataFrame d) {
                downstream.data(d.content(), d.isEndStream());
                if (d.isEndStream()) {
                    finish();
                }
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof Http2ResetFrame reset && !stale()) {
                lost("backend " + backend + " reset the stream (" + Http2Error.valueOf(reset.errorCode()) + ")",
                        Http2Error.valueOf(reset.errorCode()));
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (!stale()) {
                downstream.readable(ctx.channel().isWritable());
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!stale()) {
                lost("connection to backend " + backend + " lost", Http2Error.INTERNAL_ERROR);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!stale()) {
                lost("backend " + backend + ": " + UpstreamPool.message(cause), Http2Error.INTERNAL_ERROR);
            }
            ctx.close();
        }

        private void lost(String why, Http2Error error) {
            if (!responseStarted && retryAllowed() && route.retry().retriesResets()) {
                if (requestEnded) {
                    retry(why);
                } else {
                    deferRetry(why);
                }
                return;
            }
            if (responseStarted) {
                verdict = AccessRecord.Verdict.ERROR;
                reason = why;
                finish();
                downstream.reset(error == null || error == Http2Error.NO_ERROR ? Http2Error.INTERNAL_ERROR : error);
            } else {
                localReply(AccessRecord.Verdict.ERROR, 503, 14, "sluice proxy: cluster " + cluster.name() + ": " + why);
            }
        }
    }
}
