package dev.sluice.libbpf;

/** Which side of a network device a TC program sees. */
public enum TcDirection {
    INGRESS(AttachType.TCX_INGRESS, 1),
    EGRESS(AttachType.TCX_EGRESS, 2);

    final AttachType tcx;
    final int legacyAttachPoint; // enum bpf_tc_attach_point

    TcDirection(AttachType tcx, int legacyAttachPoint) {
        this.tcx = tcx;
        this.legacyAttachPoint = legacyAttachPoint;
    }
}
