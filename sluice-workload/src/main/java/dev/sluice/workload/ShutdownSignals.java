package dev.sluice.workload;

import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Turns SIGTERM and SIGINT into a latch. The JVM's own handlers would exit with 128+signal; a pod that Kubernetes
 * stops should close its server and exit 0. {@code sun.misc.Signal} (module jdk.unsupported) is the JDK's only
 * way to catch a signal; javac warns about each use, so there are as few as possible.
 */
final class ShutdownSignals {
    private final CountDownLatch received = new CountDownLatch(1);

    private ShutdownSignals() {
    }

    /** Takes SIGTERM and SIGINT over for the rest of the process's life. */
    static ShutdownSignals install() {
        ShutdownSignals signals = new ShutdownSignals();
        for (String name : List.of("TERM", "INT")) {
            sun.misc.Signal.handle(new sun.misc.Signal(name), signal -> signals.received.countDown());
        }
        return signals;
    }

    void await() throws InterruptedException {
        received.await();
    }
}
