package dev.sluice.proxy;

import io.netty.channel.EventLoop;

/** What every exchange of one proxy shares. */
interface ProxyContext {
    RouteTableSource routes();

    ProxyStats stats();

    Admission admission();

    Backends backends();

    /** Where each request is reported when it is over; {@link AccessLog#NONE} for nowhere. */
    AccessLog accessLog();

    /** The upstream connections of {@code loop}; only used from it. */
    UpstreamPool pool(EventLoop loop);
}
