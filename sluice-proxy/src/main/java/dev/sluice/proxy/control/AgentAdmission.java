package dev.sluice.proxy.control;

import dev.sluice.l7.policy.Admitted;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.proxy.Admission;
import dev.sluice.proxy.control.v1.AdmitReply;
import dev.sluice.proxy.control.v1.AdmitRequest;

import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * Admission decided by the agent over the control channel, cached per (client IP, backend IP:port) for as long
 * as the agent's policy revision is the one the answer was given at. The agent pushes every new revision; the
 * cache is emptied then, so a policy change takes effect on the next request. When the agent cannot be asked the
 * request is refused ({@link Admission.Unavailable}): the proxy never lets traffic past policy it cannot check.
 */
public final class AgentAdmission implements Admission {
    /** Beyond this many distinct pairs the cache starts over (a scan of many clients cannot grow it without bound). */
    static final int MAX_ENTRIES = 65_536;

    private record Decision(long revision, Admitted admitted) {
    }

    private final Function<AdmitRequest, AdmitReply> agent;
    private final ConcurrentHashMap<String, Decision> cache = new ConcurrentHashMap<>();
    private final AtomicLong revision = new AtomicLong(-1);
    final LongAdder asked = new LongAdder();
    final LongAdder denied = new LongAdder();
    final LongAdder unavailable = new LongAdder();

    /** @param agent asks the agent; throws when it cannot be reached or does not answer in time */
    public AgentAdmission(Function<AdmitRequest, AdmitReply> agent) {
        this.agent = agent;
    }

    /** The agent's policy changed: answers given before no longer hold. */
    public void revision(long next) {
        revision.set(next);
        cache.clear();
    }

    public long revision() {
        return revision.get();
    }

    public long deniedCount() {
        return denied.sum();
    }

    public long unavailableCount() {
        return unavailable.sum();
    }

    public int cached() {
        return cache.size();
    }

    @Override
    public Optional<String> deny(InetSocketAddress client, Endpoint backend) {
        Admitted a = decide(client, backend);
        return a.allowed() ? Optional.empty() : Optional.of(a.reason());
    }

    /** The agent's whole decision (L4, and the HTTP rules of L7 policy), cached as described above. */
    @Override
    public Admitted decide(InetSocketAddress client, Endpoint backend) {
        String clientIp = client.getAddress().getHostAddress();
        String key = clientIp + "|" + backend.key();
        long current = revision.get();
        Decision d = cache.get(key);
        if (d == null || d.revision() != current) {
            Admitted admitted;
            long at;
            try {
                asked.increment();
                AdmitReply reply = agent.apply(AdmitRequest.newBuilder().setClientIp(clientIp).setClientPort(client.getPort())
                        .setBackendIp(backend.address()).setBackendPort(backend.port()).build());
                admitted = ControlCodec.admitted(reply);
                at = reply.getRevision();
            } catch (RuntimeException e) {
                unavailable.increment();
                throw new Admission.Unavailable("policy cannot be checked, the agent did not answer (" + e.getMessage()
                        + "); refused rather than let past network policy", e);
            }
            d = new Decision(at, admitted);
            // Kept only if decided at the revision this proxy knows as the latest: an answer from before a change
            // the proxy has already heard of, or from after one it has not heard of yet, is used once, not cached.
            if (d.revision() == current) {
                if (cache.size() >= MAX_ENTRIES) {
                    cache.clear();
                }
                cache.put(key, d);
            }
        }
        if (!d.admitted().allowed()) {
            denied.increment();
        }
        return d.admitted();
    }
}
