/* Address and port rewrites of a TCP or UDP packet (DNAT of a Service flow, its reverse NAT, the hairpin
 * source), with the IP and L4 checksums kept right.
 *
 * Why one rewrite per side (source or destination) and not a whole tuple: every translation Sluice does
 * changes one side at a time, and a side left unchanged costs no helper call (each call is a write to the
 * packet, and an skb that is cloned must be unshared before the first one). */
#ifndef SLUICE_NAT_H
#define SLUICE_NAT_H

#include "parse.h"
#include "csum.h"

/* The side of the packet a rewrite changes: where its address sits in the frame and its port in the L4
 * header. */
#define NAT4_SRC IP_SRC_OFF, L4_SPORT_OFF
#define NAT4_DST IP_DST_OFF, L4_DPORT_OFF

/* Rewrites one address and one port of a TCP or UDP packet whose L4 header is at l4_off, fixing the IP
 * checksum and the L4 checksum (whose pseudo-header covers the address). Returns -1 if the packet could
 * not be written: the caller drops it rather than send it half-rewritten. Use as
 * nat4_rewrite(skb, proto, l4_off, NAT4_DST, old_addr, new_addr, old_port, new_port). */
static __always_inline int nat4_rewrite(struct __sk_buff *skb, __u8 proto, __u32 l4_off, __u32 addr_off, __u32 port_off,
					__be32 old_addr, __be32 new_addr, __be16 old_port, __be16 new_port)
{
	__u32 csum_off = csum_l4_off(proto, l4_off);
	__u64 mangled = csum_l4_flags(proto);

	if (old_addr != new_addr) {
		if (bpf_l4_csum_replace(skb, csum_off, old_addr, new_addr, BPF_F_PSEUDO_HDR | mangled | sizeof(new_addr)) < 0)
			return -1;
		if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_addr, new_addr, sizeof(new_addr)) < 0)
			return -1;
		if (bpf_skb_store_bytes(skb, addr_off, &new_addr, sizeof(new_addr), 0) < 0)
			return -1;
	}
	if (old_port != new_port) {
		if (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, mangled | sizeof(new_port)) < 0)
			return -1;
		if (bpf_skb_store_bytes(skb, l4_off + port_off, &new_port, sizeof(new_port), 0) < 0)
			return -1;
	}
	/* The flow hash was computed over the old tuple (RPS, fq); let the stack compute it again. */
	bpf_set_hash_invalid(skb);
	return 0;
}

#endif
