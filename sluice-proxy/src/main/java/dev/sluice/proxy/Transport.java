package dev.sluice.proxy;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

/** The native epoll transport where it loads (Linux), NIO otherwise; {@code sluice.proxy.nio=true} forces NIO. */
record Transport(String name, Class<? extends ServerSocketChannel> serverChannel, Class<? extends SocketChannel> clientChannel) {
    static Transport best() {
        if (!Boolean.getBoolean("sluice.proxy.nio") && Epoll.isAvailable()) {
            return new Transport("epoll", EpollServerSocketChannel.class, EpollSocketChannel.class);
        }
        return new Transport("nio", NioServerSocketChannel.class, NioSocketChannel.class);
    }

    EventLoopGroup group(int threads) {
        return new MultiThreadIoEventLoopGroup(threads,
                name.equals("epoll") ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    }
}
