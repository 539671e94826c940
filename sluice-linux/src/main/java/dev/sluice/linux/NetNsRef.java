package dev.sluice.linux;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * An open file descriptor on a network namespace. Work runs inside it on a fresh platform thread that
 * {@code setns}es into it, so only that thread changes namespace and the caller's thread never does.
 */
public final class NetNsRef implements AutoCloseable {
    private final int fd;

    private NetNsRef(int fd) {
        this.fd = fd;
    }

    public static NetNsRef open(java.nio.file.Path nsPath) {
        return new NetNsRef(Libc.open(nsPath.toString(), Libc.O_RDONLY));
    }

    /** The network namespace of the calling thread (which {@link NetNs#call} may have changed). */
    public static NetNsRef ofCurrentThread() {
        return new NetNsRef(Libc.open("/proc/thread-self/ns/net", Libc.O_RDONLY));
    }

    public <T> T call(Callable<T> body) {
        FutureTask<T> task = new FutureTask<>(() -> {
            Libc.setns(fd, Libc.CLONE_NEWNET);
            return body.call();
        });
        Thread thread = Thread.ofPlatform().name("netns-fd-" + fd).start(task);
        try {
            return task.get();
        } catch (InterruptedException e) {
            thread.interrupt();
            Thread.currentThread().interrupt();
            throw new LinuxException("interrupted while running in a network namespace");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new LinuxException("in network namespace: " + cause);
        }
    }

    @Override
    public void close() {
        Libc.close(fd);
    }
}
