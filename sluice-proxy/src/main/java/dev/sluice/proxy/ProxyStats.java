package dev.sluice.proxy;

import java.util.concurrent.atomic.LongAdder;

/** Counters of one proxy, read by tests, the agent's status line and the benchmark. */
public final class ProxyStats {
    final LongAdder downstreamConnections = new LongAdder();
    final LongAdder downstreamH2 = new LongAdder();
    final LongAdder downstreamHttp1 = new LongAdder();
    final LongAdder requests = new LongAdder();
    final LongAdder localReplies = new LongAdder();
    final LongAdder upstreamConnects = new LongAdder();
    final LongAdder upstreamConnectFailures = new LongAdder();
    final LongAdder retries = new LongAdder();
    final LongAdder ejections = new LongAdder();
    final LongAdder timeouts = new LongAdder();

    public long downstreamConnections() { return downstreamConnections.sum(); }
    public long downstreamH2() { return downstreamH2.sum(); }
    public long downstreamHttp1() { return downstreamHttp1.sum(); }
    public long requests() { return requests.sum(); }
    /** Requests answered by the proxy itself: no route, no healthy backend, a backend lost before it answered. */
    public long localReplies() { return localReplies.sum(); }
    public long upstreamConnects() { return upstreamConnects.sum(); }
    public long upstreamConnectFailures() { return upstreamConnectFailures.sum(); }
    public long retries() { return retries.sum(); }
    public long ejections() { return ejections.sum(); }
    /** Requests that outlived their route's timeout (answered 504 / DEADLINE_EXCEEDED, or reset). */
    public long timeouts() { return timeouts.sum(); }

    @Override
    public String toString() {
        return "connections " + downstreamConnections() + " (h2 " + downstreamH2() + ", http/1.1 " + downstreamHttp1()
                + "), requests " + requests() + ", local replies " + localReplies() + ", upstream connects "
                + upstreamConnects() + " (" + upstreamConnectFailures() + " failed), retries " + retries()
                + ", ejections " + ejections() + ", timeouts " + timeouts();
    }
}
