/* Definitions shared by every Sluice BPF program. Map value and key structs that Java reads are
 * defined once, in the header of the feature that owns them, and mirrored by one Java record + codec. */
#ifndef SLUICE_COMMON_H
#define SLUICE_COMMON_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* TC return codes (linux/pkt_cls.h), restated to avoid pulling in the netlink headers. */
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

/* skb->mark of a packet the per-packet LB sent back into the pod it came from (hairpin, pod_veth.bpf.c):
 * the policy programs let it pass, since a pod reaching itself is not traffic between endpoints. The
 * mark is set on the node's side of the veth and scrubbed when the packet crosses into the pod. */
#define SLUICE_MARK_HAIRPIN 0x5348a1f0
/* A backend's reply to a connection the node proxy opened from a client's address (identity-preserving
 * forwarding, docs/l7.md): the agent's fwmark rule (`ip rule fwmark 0x5348a1f1 lookup 2004`, table 2004
 * `local 0.0.0.0/0 dev lo`) makes the node deliver it locally, to the proxy's transparent socket, instead of
 * routing it on to the client pod. Kept in step with L7Subsystem's PROXY_REPLY_MARK. */
#define SLUICE_MARK_TO_PROXY 0x5348a1f1

/* BTF only describes types reachable from globals and functions. A struct that lives only in local
 * variables (ring-buffer events) is anchored with this, so that its Java mirror can be checked against
 * the object's BTF. Costs 8 bytes of .bss. */
#define SLUICE_BTF_ANCHOR(type, tag) const type *__sluice_btf_##tag __attribute__((unused))

#endif
