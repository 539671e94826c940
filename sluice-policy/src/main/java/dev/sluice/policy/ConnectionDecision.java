package dev.sluice.policy;

/** The two decisions a connection between two pods needs: the client's egress and the server's ingress. */
public record ConnectionDecision(Decision egress, Decision ingress) {
    public boolean allowed() {
        return egress.allowed() && ingress.allowed();
    }

    /** The decision that stops the connection (egress first, where the datapath drops it first), else the ingress one. */
    public Decision deciding() {
        return egress.allowed() ? ingress : egress;
    }
}
