/* Packet parsing for the tc programs: the Ethernet/IPv4 header checks and the L4 loads (TCP, UDP, ICMP)
 * every program on a pod veth starts with, and the header constants they need. Nothing here knows about
 * Services or policy; each program composes these into the tuple it wants.
 *
 * Why bpf_skb_load_bytes and not direct packet access: the headers are copied to the stack once, so the
 * verifier needs no bounds proofs per field and a helper that rewrites the packet (NAT, csum) cannot leave
 * a stale pointer behind. A pod veth's frames are small and the copy costs less than a packet pull would.
 *
 * Fragments: only a first fragment carries the L4 header. Callers choose what they accept:
 * ipv4_is_fragment() (any fragment: the LB cannot translate a flow it only sees part of) or
 * ipv4_is_later_fragment() (no L4 header: policy can still judge a first fragment by its ports). */
#ifndef SLUICE_PARSE_H
#define SLUICE_PARSE_H

#include "sluice_common.h"
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>

/* iphdr.frag_off, host order (linux/ip.h keeps these in the kernel-only net/ip.h). */
#define IP_DF 0x4000
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

/* Offsets in the frame of the IPv4 fields NAT rewrites (no VLAN tag: a veth carries none). */
#define IP_CSUM_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, check))
#define IP_SRC_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, saddr))
#define IP_DST_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, daddr))

/* Offsets within the L4 header: TCP and UDP both start with the two ports. */
#define L4_SPORT_OFF 0
#define L4_DPORT_OFF 2
#define TCP_DOFF_OFF 12             /* the data offset (high nibble, in words) of struct tcphdr */
#define TCP_FLAGS_OFF 13            /* the flags byte of struct tcphdr */

/* The TCP flags byte, with the kernel's own names for it (include/net/tcp.h; linux/tcp.h's TCP_FLAG_* are
 * positions in a 32-bit word, not this byte). */
#define TCPHDR_FIN 0x01
#define TCPHDR_SYN 0x02
#define TCPHDR_RST 0x04
#define TCPHDR_ACK 0x10

/* ICMP (linux/icmp.h pulls in the libc socket headers, which a BPF target cannot include). */
#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

struct icmp4_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;                  /* echo only */
	__be16 sequence;
};

/* An ICMP message that quotes the packet it is about (RFC 792): a flow's error, not a flow of its own. */
static __always_inline int icmp_is_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB;
}

/* A loaded IPv4 header that can be trusted for its length: version 4, IHL of at least 5 words. */
static __always_inline int ipv4_hdr_ok(const struct iphdr *ip)
{
	return ip->version == 4 && ip->ihl >= 5;
}

/* The minimal L4 header of the protocols the programs read ports (or a type) from: TCP's 20 bytes
 * (its data offset may ask for more: tcp_hdr_len), UDP's 8, SCTP's 12-byte common header, ICMP's 8;
 * 0 for the others, which are judged without an L4 header. */
static __always_inline __u32 l4_min_len(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return 20;
	case IPPROTO_UDP:
	case IPPROTO_ICMP:
		return 8;
	case IPPROTO_SCTP:
		return 12;
	default:
		return 0;
	}
}

/* The IPv4 header of an Ethernet frame into *ip, the offset of its L4 header and the offset where the
 * datagram ends (ETH_HLEN + tot_len; what follows is link-layer padding); -1 when the frame is not IPv4
 * or its header is malformed. Malformed, as the receiving kernel's ip_rcv_core() sees it (it drops these
 * too): a version other than 4, an IHL below 5 words, a total length shorter than the header or longer
 * than the frame. A total length of 0 is BIG TCP's (a GSO packet over 64 KiB): the frame's length then. */
static __always_inline int ipv4_load_bounded(struct __sk_buff *skb, struct iphdr *ip, __u32 *l4_off, __u32 *end)
{
	__u32 tot_len;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return -1;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, ip, sizeof(*ip)) < 0)
		return -1;
	if (!ipv4_hdr_ok(ip))
		return -1;
	tot_len = bpf_ntohs(ip->tot_len);
	if (tot_len == 0 && skb->gso_size)
		tot_len = skb->len - ETH_HLEN;
	if (tot_len < ip->ihl * 4 || tot_len > skb->len - ETH_HLEN)
		return -1;
	*l4_off = ETH_HLEN + ip->ihl * 4;
	*end = ETH_HLEN + tot_len;
	return 0;
}

/* ipv4_load_bounded without the end offset. */
static __always_inline int ipv4_load(struct __sk_buff *skb, struct iphdr *ip, __u32 *l4_off)
{
	__u32 end;

	return ipv4_load_bounded(skb, ip, l4_off, &end);
}

/* Any fragment, the first included. */
static __always_inline int ipv4_is_fragment(const struct iphdr *ip)
{
	return (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) != 0;
}

/* A fragment after the first: it has no L4 header. */
static __always_inline int ipv4_is_later_fragment(const struct iphdr *ip)
{
	return (ip->frag_off & bpf_htons(IP_OFFSET)) != 0;
}

/* The source and destination ports of a TCP or UDP header at off. */
static __always_inline int l4_load_ports(struct __sk_buff *skb, __u32 off, __be16 *sport, __be16 *dport)
{
	__be16 ports[2];

	if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)) < 0)
		return -1;
	*sport = ports[0];
	*dport = ports[1];
	return 0;
}

/* The ports and the flags byte of a TCP header at off (one load of its first 14 bytes). */
static __always_inline int tcp_load_ports_flags(struct __sk_buff *skb, __u32 off, __be16 *sport, __be16 *dport,
						__u8 *flags)
{
	__u8 hdr[TCP_FLAGS_OFF + 1];

	if (bpf_skb_load_bytes(skb, off, hdr, sizeof(hdr)) < 0)
		return -1;
	__builtin_memcpy(sport, &hdr[L4_SPORT_OFF], 2);
	__builtin_memcpy(dport, &hdr[L4_DPORT_OFF], 2);
	*flags = hdr[TCP_FLAGS_OFF];
	return 0;
}

/* tcp_load_ports_flags, and the header's length from its data offset: -1 also when that is below 5 words
 * or runs past end (what the receiving TCP drops as malformed). */
static __always_inline int tcp_load_checked(struct __sk_buff *skb, __u32 off, __u32 end, __be16 *sport, __be16 *dport,
					    __u8 *flags)
{
	__u8 hdr[TCP_FLAGS_OFF + 1];
	__u32 doff;

	if (bpf_skb_load_bytes(skb, off, hdr, sizeof(hdr)) < 0)
		return -1;
	doff = (hdr[TCP_DOFF_OFF] >> 4) * 4;
	if (doff < 20 || off + doff > end)
		return -1;
	__builtin_memcpy(sport, &hdr[L4_SPORT_OFF], 2);
	__builtin_memcpy(dport, &hdr[L4_DPORT_OFF], 2);
	*flags = hdr[TCP_FLAGS_OFF];
	return 0;
}

#endif
