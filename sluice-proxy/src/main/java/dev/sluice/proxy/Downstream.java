package dev.sluice.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;

/** The client's side of one request, in HTTP/2 terms whatever the client spoke. */
interface Downstream {
    EventLoop eventLoop();

    /** The HTTP version the client speaks: "HTTP/1.1" or "HTTP/2" (for the access record). */
    String protocol();

    /** The client's address (the downstream connection's peer), for admission. */
    java.net.SocketAddress remote();

    /**
     * The Service port ({@code ns/name:port}) whose listener the connection arrived on; null on a listener that
     * serves every Service (then routes are searched by authority across all of them).
     */
    String serviceKey();

    /** Response headers, or trailers once headers were sent. */
    void headers(Http2Headers headers, boolean endStream);

    /** Takes ownership of {@code data}. */
    void data(ByteBuf data, boolean endStream);

    /** Ends the response abnormally (HTTP/2: RST_STREAM; HTTP/1.1: closes the connection). */
    void reset(Http2Error error);

    /** Stops or resumes reading the request (back-pressure from the backend). */
    void readable(boolean on);
}
