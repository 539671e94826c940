/* The XDP prefilter (xdp_prefilter.bpf.c): IPv4 sources blocked by CIDR on a node's uplink, before the stack
 * allocates an skb. Mirrored by dev.sluice.datapath.prefilter.PrefilterMaps (keys are Lpm<Inet4Address>,
 * counters PolicyStructs.DropValue). Addresses in network byte order. */
#ifndef SLUICE_PREFILTER_H
#define SLUICE_PREFILTER_H

#include <linux/types.h>

/* Capacity of the blocked-CIDR trie (and of its per-CIDR counters). */
#define PREFILTER_MAX_ENTRIES 65536

/* A drop reason of Sluice's own: Cilium's prefilter (bpf_xdp.c) drops without a reason or notification, and
 * its list (api/v1/flow/flow.proto, 130..205) has no number for it; 240 is far above what Cilium uses. */
#define DROP_PREFILTER 240

/* The LPM trie's key: prefix length in bits, then the address. The trie's value is the same struct (the
 * CIDR that matched), so that the program can count the drop under it. */
struct prefilter_key {
	__u32 prefixlen;
	__be32 addr;
};

#endif
