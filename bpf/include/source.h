/* Source verification: a packet leaving a pod must come from the pod's own IPv4 address (Cilium drops
 * the others with DROP_INVALID_SIP). Identity is only as strong as this check: policy names a packet's
 * sender by its source address (ipcache), so a pod with a raw socket that forges another pod's address
 * would otherwise be judged, and tracked, as that pod.
 *
 * Why in both programs of the way out of a pod (from_pod, first in the chain, and policy_from_pod):
 * the check must come before any decision, and from_pod decides first (it picks a backend and creates
 * ct4_lb entries for the tuple the packet claims: a forged source would make the LB keep state, and
 * answer, in another pod's name). But per-packet LB is optional (kubeProxyReplacement) and policy is
 * not, so policy_from_pod checks too; when from_pod ran, that second check is one comparison. Both
 * count the drop in policy_drops and report it as a flow event.
 *
 * What a pod legitimately sends never fails it: the LB's translations (DNAT, the hairpin's source
 * rewrite) happen after it in from_pod or on the way into the pod, and the replies the LB rewrites
 * back come from the pod's own address. Only IPv4 is checked (IPv6 is not supported: policy drops it on
 * endpoints with enforcement); ARP and other non-IP frames pass. An endpoint with address 0 (unknown to
 * the agent) is not checked, nor is a veth the endpoints map does not know (a pod being set up).
 *
 * The source MAC is checked too, on every frame leaving the pod (IPv4, IPv6, ARP and the rest): a frame
 * whose Ethernet source is not the pod's own MAC is dropped (Cilium's DROP_INVALID_SMAC). Why, when every
 * frame into the host end of a point-to-point veth comes from the pod anyway: a forged source MAC is how a
 * pod poisons the node's neighbour and bridge tables (an ARP reply claiming another pod's or the gateway's
 * address under a MAC of its choice), and a frame whose MAC the node did not learn from this veth is not
 * one of the pod's. The agent writes the MAC the pod's veth was made with (the lab records it, as a CNI
 * does); an endpoint whose MAC is unknown (all zero) is not checked. A pod that changes its own MAC (it
 * needs CAP_NET_ADMIN, which pods do not have) is dropped until the endpoint is written again.
 */
#ifndef SLUICE_SOURCE_H
#define SLUICE_SOURCE_H

#include "endpoint_maps.h"
#include "events.h"
#include "parse.h"

/* Counts a drop at endpoint ep in policy_drops. */
static __always_inline void endpoint_drop_count(const struct endpoint_info *ep, __u8 dir, __u32 reason, __u32 rule_id,
						__u32 remote, __u32 len)
{
	struct drop_key key = {
		.endpoint_id = ep->endpoint_id,
		.direction = dir,
		.reason = reason,
		.rule_id = rule_id,
		.remote_identity = remote,
	};

	drop_count(&policy_drops, &key, len);
}

/* Whether a packet leaving endpoint ep, with IPv4 source saddr, comes from the endpoint's address. */
static __always_inline int source_ok4(const struct endpoint_info *ep, __be32 saddr)
{
	return ep->address == 0 || saddr == ep->address;
}

/* Whether an IPv4 frame (by its EtherType) leaving endpoint ep carries the endpoint's source address,
 * read where the IPv4 header has it, whatever else is wrong with the header, so that from_pod and
 * policy_from_pod judge every frame alike; a frame too short to have a source passes here (policy drops
 * it as malformed where it enforces). */
static __always_inline int source_frame_ok4(struct __sk_buff *skb, const struct endpoint_info *ep)
{
	__be32 saddr;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 1;
	if (bpf_skb_load_bytes(skb, IP_SRC_OFF, &saddr, sizeof(saddr)) < 0)
		return 1;
	return source_ok4(ep, saddr);
}

/* Fills an event about an IPv6 frame with its addresses, and its ports and TCP flags when its first header
 * after IPv6's is TCP, UDP or SCTP (extension headers are not walked); nothing for another frame. */
static __always_inline void flow_fill_ipv6(struct __sk_buff *skb, struct flow_event *ev)
{
	__u8 hdr[40];
	__be16 ports[2];
	__u8 flags;

	if (skb->protocol != bpf_htons(ETH_P_IPV6) || bpf_skb_load_bytes(skb, ETH_HLEN, hdr, sizeof(hdr)) < 0)
		return;
	ev->ip_version = FLOW_IP_V6;
	__builtin_memcpy(ev->saddr6, &hdr[8], 16);
	__builtin_memcpy(ev->daddr6, &hdr[24], 16);
	ev->proto = hdr[6];
	if (hdr[6] != IPPROTO_TCP && hdr[6] != IPPROTO_UDP && hdr[6] != IPPROTO_SCTP)
		return;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + sizeof(hdr), ports, sizeof(ports)) == 0) {
		ev->sport = ports[0];
		ev->dport = ports[1];
	}
	if (hdr[6] == IPPROTO_TCP && bpf_skb_load_bytes(skb, ETH_HLEN + sizeof(hdr) + TCP_FLAGS_OFF, &flags, 1) == 0)
		ev->tcp_flags = flags;
}

/* Whether a frame leaving endpoint ep carries the endpoint's MAC as its Ethernet source (or the MAC is
 * not known). Direct packet access: the Ethernet header is in the linear part of every frame a veth
 * receives, and a frame too short to have one is judged by the IP checks. */
static __always_inline int source_mac_ok(struct __sk_buff *skb, const struct endpoint_info *ep)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	const __u8 *src = data + ETH_ALEN;
	__u32 want_lo, got_lo;
	__u16 want_hi, got_hi;

	__builtin_memcpy(&want_lo, ep->mac, 4);
	__builtin_memcpy(&want_hi, ep->mac + 4, 2);
	if ((want_lo | want_hi) == 0)
		return 1;
	if (data + 2 * ETH_ALEN > data_end)
		return 1;
	__builtin_memcpy(&got_lo, src, 4);
	__builtin_memcpy(&got_hi, src + 4, 2);
	return got_lo == want_lo && got_hi == want_hi;
}

/* from_pod's check, before it looks at the packet for the LB: TC_ACT_SHOT for a forged source MAC or
 * IPv4 address (counted and reported here, with the tuple it claimed), else TC_ACT_UNSPEC. One endpoints
 * lookup per frame; the IP header is loaded whole only for a packet that fails. */
static __always_inline int source_verify(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct endpoint_info *ep;
	struct flow_event *ev;
	struct iphdr ip;
	__be32 saddr;
	__u32 reason;

	ep = bpf_map_lookup_elem(&endpoints, &ifindex);
	if (!ep)
		return TC_ACT_UNSPEC;
	if (source_mac_ok(skb, ep)) {
		if (skb->protocol != bpf_htons(ETH_P_IP))
			return TC_ACT_UNSPEC;
		if (bpf_skb_load_bytes(skb, IP_SRC_OFF, &saddr, sizeof(saddr)) < 0)
			return TC_ACT_UNSPEC; /* no IPv4 header to speak of: policy drops it as malformed where it enforces */
		if (source_ok4(ep, saddr))
			return TC_ACT_UNSPEC;
		reason = DROP_INVALID_SIP;
	} else {
		reason = DROP_INVALID_SMAC;
	}

	/* The remote identity is not known here (the ipcache is policy's): the counter says 0. */
	endpoint_drop_count(ep, POLICY_EGRESS, reason, 0, IDENTITY_UNKNOWN, skb->len);
	if (flow_level() == FLOW_AGG_DISABLED)
		return TC_ACT_SHOT;
	ev = flow_reserve(FLOW_EV_DROP, FLOW_VERDICT_DROPPED);
	if (!ev)
		return TC_ACT_SHOT;
	if (skb->protocol == bpf_htons(ETH_P_IP) && bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) == 0) {
		ev->saddr = ip.saddr;
		ev->daddr = ip.daddr;
		ev->proto = ip.protocol;
		if (ipv4_hdr_ok(&ip) && !ipv4_is_later_fragment(&ip) &&
		    (ip.protocol == IPPROTO_TCP || ip.protocol == IPPROTO_UDP || ip.protocol == IPPROTO_SCTP)) {
			__u32 l4_off = ETH_HLEN + ip.ihl * 4;
			__be16 ports[2];
			__u8 flags;

			if (bpf_skb_load_bytes(skb, l4_off, ports, sizeof(ports)) == 0) {
				ev->sport = ports[0];
				ev->dport = ports[1];
			}
			if (ip.protocol == IPPROTO_TCP && bpf_skb_load_bytes(skb, l4_off + TCP_FLAGS_OFF, &flags, 1) == 0)
				ev->tcp_flags = flags;
		}
	}
	flow_fill_ipv6(skb, ev);
	ev->direction = FLOW_DIR_EGRESS;
	ev->reply = FLOW_REPLY_NO;
	ev->reason = reason;
	ev->ifindex = ifindex;
	/* The veth says who really sent it, whatever the packet claims. */
	ev->src_identity = ep->identity;
	ev->len = skb->len;
	flow_submit(ev);
	return TC_ACT_SHOT;
}

#endif
