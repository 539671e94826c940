/* Checksums: where the L4 checksum lives, how a rewrite must update it, and folding a sum computed from
 * scratch. Used by NAT (nat.h, incremental updates) and by packets the datapath writes itself (pod_veth's
 * RST for a Service without backends).
 *
 * Why incremental updates (bpf_l3/l4_csum_replace) for NAT: the kernel adjusts the checksum for the bytes
 * that changed, whatever state the skb's checksum is in (CHECKSUM_PARTIAL from a pod's stack, or COMPLETE
 * from a device), which a checksum recomputed over the payload would get wrong for offloaded packets. */
#ifndef SLUICE_CSUM_H
#define SLUICE_CSUM_H

#include "sluice_common.h"
#include <linux/in.h>

#define TCP_CSUM_OFF 16             /* offsetof(struct tcphdr, check) */
#define UDP_CSUM_OFF 6              /* offsetof(struct udphdr, check) */

/* Offset in the frame of the L4 checksum of a TCP or UDP header at l4_off. */
static __always_inline __u32 csum_l4_off(__u8 proto, __u32 l4_off)
{
	return l4_off + (proto == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF);
}

/* Extra bpf_l4_csum_replace flags for the protocol: a UDP checksum of 0 means "none" and must stay 0
 * (BPF_F_MARK_MANGLED_0 keeps it so, and turns a computed 0 into 0xffff). */
static __always_inline __u64 csum_l4_flags(__u8 proto)
{
	return proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
}

/* The ones' complement checksum of a 32-bit partial sum (bpf_csum_diff's result). */
static __always_inline __u16 csum_fold32(__u64 csum)
{
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	return (__u16)~csum;
}

#endif
