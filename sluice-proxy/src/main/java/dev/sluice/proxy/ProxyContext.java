package dev.sluice.proxy;

import io.netty.channel.EventLoop;

/** What every exchange of one proxy shares. */
interface ProxyContext {
    RouteTableSource routes();

    ProxyStats stats();

    Backends backends();

    /** The upstream connections of {@code loop}; only used from it. */
    UpstreamPool pool(EventLoop loop);
}
