package dev.sluice.proxy;

import java.util.concurrent.atomic.LongAdder;

/** Counters of one proxy, read by tests, the agent's status line and the benchmark. */
public final class ProxyStats {
    final LongAdder downstreamConnections = new LongAdder();
    final LongAdder downstreamH2 = new LongAdder();
    final LongAdder downstreamHttp1 = new LongAdder();
    final LongAdder h2cUpgrades = new LongAdder();
    final LongAdder requests = new LongAdder();
    final LongAdder localReplies = new LongAdder();
    final LongAdder upstreamConnects = new LongAdder();
    final LongAdder upstreamConnectFailures = new LongAdder();
    final LongAdder upstreamIdleCloses = new LongAdder();
    final LongAdder retries = new LongAdder();
    final LongAdder ejections = new LongAdder();
    final LongAdder outlierEjections = new LongAdder();
    final LongAdder timeouts = new LongAdder();
    final LongAdder clientSourceConnects = new LongAdder();
    final LongAdder datapathDrops = new LongAdder();

    public long downstreamConnections() { return downstreamConnections.sum(); }
    public long downstreamH2() { return downstreamH2.sum(); }
    public long downstreamHttp1() { return downstreamHttp1.sum(); }
    /** HTTP/1.1 connections upgraded to HTTP/2 (h2c, counted among the HTTP/1.1 ones too). */
    public long h2cUpgrades() { return h2cUpgrades.sum(); }
    public long requests() { return requests.sum(); }
    /** Requests answered by the proxy itself: no route, no healthy backend, a backend lost before it answered. */
    public long localReplies() { return localReplies.sum(); }
    public long upstreamConnects() { return upstreamConnects.sum(); }
    public long upstreamConnectFailures() { return upstreamConnectFailures.sum(); }
    /** Upstream connections closed after carrying no stream for the idle timeout. */
    public long upstreamIdleCloses() { return upstreamIdleCloses.sum(); }
    public long retries() { return retries.sum(); }
    public long ejections() { return ejections.sum(); }
    /** Ejections by outlier detection (consecutive 5xx), counted among the ejections too. */
    public long outlierEjections() { return outlierEjections.sum(); }
    /** Requests that outlived their route's timeout (answered 504 / DEADLINE_EXCEEDED, or reset). */
    public long timeouts() { return timeouts.sum(); }
    /** Upstream connections opened from a client's address (identity-preserving forwarding). */
    public long clientSourceConnects() { return clientSourceConnects.sum(); }
    /** Requests whose client-source connection the backend's datapath dropped, as the agent expected. */
    public long datapathDrops() { return datapathDrops.sum(); }

    @Override
    public String toString() {
        return "connections " + downstreamConnections() + " (h2 " + downstreamH2() + ", http/1.1 " + downstreamHttp1()
                + ", h2c upgrades " + h2cUpgrades() + "), requests " + requests() + ", local replies " + localReplies() + ", upstream connects "
                + upstreamConnects() + " (" + upstreamConnectFailures() + " failed, " + upstreamIdleCloses() + " closed idle), retries " + retries()
                + ", ejections " + ejections() + " (outlier " + outlierEjections() + "), timeouts " + timeouts() + ", client-source connects " + clientSourceConnects()
                + ", datapath drops " + datapathDrops();
    }
}
