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
 * Not checked: the source MAC. The pod's MAC is not in endpoint_info, and on a point-to-point veth
 * every frame into the host end comes from the pod anyway; what a forged MAC could still do is poison
 * the node's neighbour entry for another address, which the node's own ARP handling decides. */
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

/* from_pod's check, before it looks at the packet for the LB: TC_ACT_SHOT for a forged source (counted
 * and reported here, with the tuple it claimed), else TC_ACT_UNSPEC. One endpoints lookup per IPv4
 * packet; the IP header is loaded whole only for a packet that fails. */
static __always_inline int source_verify4(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct endpoint_info *ep;
	struct flow_event *ev;
	struct iphdr ip;
	__be32 saddr;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_UNSPEC;
	ep = bpf_map_lookup_elem(&endpoints, &ifindex);
	if (!ep)
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes(skb, IP_SRC_OFF, &saddr, sizeof(saddr)) < 0)
		return TC_ACT_UNSPEC; /* no IPv4 header to speak of: policy drops it as malformed where it enforces */
	if (source_ok4(ep, saddr))
		return TC_ACT_UNSPEC;

	/* The remote identity is not known here (the ipcache is policy's): the counter says 0. */
	endpoint_drop_count(ep, POLICY_EGRESS, DROP_INVALID_SIP, 0, IDENTITY_UNKNOWN, skb->len);
	if (flow_level() == FLOW_AGG_DISABLED)
		return TC_ACT_SHOT;
	ev = flow_reserve(FLOW_EV_DROP, FLOW_VERDICT_DROPPED);
	if (!ev)
		return TC_ACT_SHOT;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) == 0) {
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
	ev->direction = FLOW_DIR_EGRESS;
	ev->reply = FLOW_REPLY_NO;
	ev->reason = DROP_INVALID_SIP;
	ev->ifindex = ifindex;
	/* The veth says who really sent it, whatever the packet claims. */
	ev->src_identity = ep->identity;
	ev->len = skb->len;
	flow_submit(ev);
	return TC_ACT_SHOT;
}

#endif
