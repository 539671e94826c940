package dev.sluice.agent.l7;

import dev.sluice.proxy.control.v1.ProxyStats;

import java.util.Optional;

/** The proxy's status line: the process as its supervisor sees it, and what the proxy last reported. */
final class ProxyStatus {
    private ProxyStatus() {
    }

    /** @param xds what the proxy holds of xDS ({@code xDS version 3 acked}, or what was served and not acked) */
    static String describe(ProxySupervisor.State state, Optional<ProxyControlServer.Session> session, ProxyStats stats,
                           String xds, long nowMs) {
        String history = "restarts " + state.restarts() + (state.lastExit().isEmpty() ? "" : ", last exit: " + state.lastExit());
        if (!state.running()) {
            String when = state.nextStartMs() > 0 ? "restarting in " + ProxySupervisor.human(Math.max(0, state.nextStartMs() - nowMs))
                    : "not restarting";
            // Degraded, and visibly so: the redirected ports refuse connections meanwhile, nothing goes around the proxy.
            return "Down: " + when + " (" + history + "); traffic to the redirected Service ports is refused until it is back";
        }
        boolean attached = session.isPresent() && session.get().pid() == state.pid();
        if (!attached) {
            return "Starting: own process, PID " + state.pid() + ", not yet attached to the agent (" + history + ")";
        }
        return "Ok (own process, PID " + state.pid() + ", up " + ProxySupervisor.human(nowMs - state.startedMs()) + ", "
                + (stats.getTransport().isEmpty() ? "?" : stats.getTransport()) + "); " + history + "; " + xds + "; "
                + stats.getListenersCount() + " listener(s): " + String.join(", ", stats.getListenersList()) + "; "
                + stats.getDownstreamConnections()
                + " downstream connection(s), " + stats.getRequests() + " request(s), " + stats.getLocalReplies()
                + " answered locally, " + stats.getTimeouts() + " timed out; upstream " + stats.getUpstreamConnects()
                + " connect(s) (" + stats.getClientSourceConnects() + " from client addresses, " + stats.getUpstreamIdleCloses()
                + " closed idle), " + stats.getEjections() + " ejection(s), " + stats.getDatapathDrops()
                + " dropped by the backend's policy; admission " + stats.getAdmissionDenied()
                + " denied, " + stats.getAdmissionUnavailable() + " unavailable, " + stats.getAdmissionCacheEntries() + " cached";
    }
}
