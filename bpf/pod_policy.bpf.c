// SPDX-License-Identifier: GPL-2.0
/* Identity-based network policy on the host side of each pod's veth: policy_from_pod (tcx ingress,
 * packets leaving the pod) is the pod's egress policy, policy_to_pod (tcx egress, packets entering the
 * pod) its ingress policy.
 *
 * Why the pod's veth: it is the one place every packet of a pod crosses, either way, before the node
 * routes it, whatever the peer (a pod of this node, another node, the world). Enforcing both directions
 * there needs no help from netfilter and no per-node knowledge of who is where beyond the ipcache.
 *
 * Why the order in the tcx chain (the agent attaches them so): policy_from_pod AFTER from_pod, and
 * policy_to_pod BEFORE to_pod. Policy is written about the pods that really answer (their identity and
 * their targetPort), not about ClusterIPs, so the egress check must see a Service flow after DNAT, and
 * the ingress check must see a reply before reverse NAT, still carrying the backend's address: the same
 * tuple the egress check recorded. Both programs return TC_ACT_UNSPEC for what they pass, so that the
 * rest of the chain still runs; only a drop ends it (TC_ACT_SHOT).
 *
 * Why identities: a rule names label sets, CIDRs and entities, not addresses; the agent turns each into
 * an identity once, and a pod that comes or goes changes one ipcache entry instead of every rule that
 * may select it. The per-packet cost is one LPM lookup and at most six hash lookups, for new flows only.
 *
 * Why connection tracking: replies of an allowed connection must pass whatever the other side's policy
 * says, and a flow is decided once, when it opens (as Cilium does: a policy change does not cut an
 * established connection). The CT is keyed by endpoint direction as well as tuple (see policy.h), so that
 * two pods of one node each apply their own policy to a flow between them.
 *
 * Why a TCP packet without SYN and without CT is decided as a new flow (CT_F_SEEN_NON_SYN) instead of
 * dropped: the CT can lose entries (LRU pressure, a map recreated by an agent upgrade); a connection the
 * policy still allows must survive that, and one it no longer allows is dropped either way.
 *
 * Why ENDPOINT_F_FAIL_CLOSED drops new flows only: when an endpoint's policy did not fit the maps, what
 * is in them is incomplete, and opening a flow on incomplete rules could open a hole; flows admitted
 * while the policy was whole keep going.
 *
 * Not handled (yet): IPv6 and protocols other than TCP, UDP and ICMP (passed untouched); IP fragments
 * after the first (passed: they carry no ports, and without their first fragment the pod cannot
 * reassemble them); source-address verification (a pod that forges another local pod's address is
 * judged as that pod).
 *
 * Why flow events are sent per connection and not per packet (at the default aggregation level): a new
 * flow, a drop and the end of a TCP flow are what a user debugging a connection needs, and sending one
 * event per packet would cost every packet a ring-buffer reservation. The agent sets the level
 * (flow_config); at FLOW_AGG_NONE every packet is reported, as Cilium's monitorAggregation "none".
 */
#include "policy_maps.h"
#include "conntrack.h"
#include "events.h"

/* A parsed packet: its CT tuple (direction not yet set), the port its policy is looked up with, and,
 * for an ICMP error, the tuple of the packet it quotes. */
struct pkt4 {
	struct ct4_tuple tuple;
	struct ct4_tuple inner;
	__be16 policy_port;
	__u8 tcp_flags;
	__u8 related;               /* an ICMP error: inner is valid */
	__u32 len;
};

/* The packet an ICMP error quotes (its IP header and first 8 bytes of L4) at offset off: -1 when it is
 * not a TCP, UDP or ICMP echo packet. */
static __always_inline int parse_quoted(struct __sk_buff *skb, __u32 off, struct ct4_tuple *t)
{
	struct iphdr ip;
	__u8 l4[8];

	if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) < 0)
		return -1;
	if (!ipv4_hdr_ok(&ip))
		return -1;
	if (bpf_skb_load_bytes(skb, off + ip.ihl * 4, l4, sizeof(l4)) < 0)
		return -1;
	t->saddr = ip.saddr;
	t->daddr = ip.daddr;
	t->proto = ip.protocol;
	if (ip.protocol == IPPROTO_TCP || ip.protocol == IPPROTO_UDP) {
		__builtin_memcpy(&t->sport, &l4[0], 2);
		__builtin_memcpy(&t->dport, &l4[2], 2);
		return 0;
	}
	if (ip.protocol == IPPROTO_ICMP && (l4[0] == ICMP_ECHO || l4[0] == ICMP_ECHOREPLY)) {
		__be16 id;

		__builtin_memcpy(&id, &l4[4], 2);
		ct4_icmp_ports(t, l4[0], id);
		return 0;
	}
	return -1;
}

/* An IPv4 TCP, UDP or ICMP packet (a first fragment at most); -1 for anything else. */
static __always_inline int parse4(struct __sk_buff *skb, struct pkt4 *p)
{
	struct iphdr ip;
	__u32 l4_off;

	if (ipv4_load(skb, &ip, &l4_off) < 0)
		return -1;
	if (ipv4_is_later_fragment(&ip))
		return -1;
	p->tuple.saddr = ip.saddr;
	p->tuple.daddr = ip.daddr;
	p->tuple.proto = ip.protocol;
	p->len = skb->len;

	if (ip.protocol == IPPROTO_TCP) {
		if (tcp_load_ports_flags(skb, l4_off, &p->tuple.sport, &p->tuple.dport, &p->tcp_flags) < 0)
			return -1;
		p->policy_port = p->tuple.dport;
		return 0;
	}
	if (ip.protocol == IPPROTO_UDP) {
		if (l4_load_ports(skb, l4_off, &p->tuple.sport, &p->tuple.dport) < 0)
			return -1;
		p->policy_port = p->tuple.dport;
		return 0;
	}
	if (ip.protocol == IPPROTO_ICMP) {
		struct icmp4_hdr icmp;

		if (bpf_skb_load_bytes(skb, l4_off, &icmp, sizeof(icmp)) < 0)
			return -1;
		ct4_icmp_ports(&p->tuple, icmp.type, icmp.id);
		p->policy_port = bpf_htons(icmp.type);
		if (icmp_is_error(icmp.type) && parse_quoted(skb, l4_off + sizeof(icmp), &p->inner) == 0)
			p->related = 1;
		return 0;
	}
	return -1;
}

static __always_inline __u32 ipcache_identity(__be32 address)
{
	struct ipcache_key key = {
		.prefixlen = 32,
		.address = address,
	};
	struct ipcache_value *value = bpf_map_lookup_elem(&ipcache, &key);

	return value ? value->identity : IDENTITY_WORLD;
}

struct decision {
	__u32 reason;               /* 0: allowed; DROP_POLICY or DROP_POLICY_DENY */
	__u32 rule_id;              /* the allow (0 without enforcement), the deny, or the default deny */
};

/* policy.h's lookup order; the first deny found decides at once, else the first (most specific) allow
 * names the rule. */
static __always_inline void policy_decide(const struct endpoint_info *ep, __u8 dir, __u32 remote, __u8 proto,
					  __be16 port, struct decision *d)
{
	__u32 default_rule = dir == POLICY_INGRESS ? ep->default_deny_ingress_rule : ep->default_deny_egress_rule;
	__u8 enforce = dir == POLICY_INGRESS ? ep->enforce_ingress : ep->enforce_egress;
	__u32 allow_rule = 0;
	int allowed = 0;

	if (ep->flags & ENDPOINT_F_FAIL_CLOSED) {
		d->reason = DROP_POLICY;
		d->rule_id = default_rule;
		return;
	}

#pragma unroll
	for (int i = 0; i < 6; i++) {
		/* i: {id,proto,port} {id,proto,0} {id,0,0} {0,proto,port} {0,proto,0} {0,0,0} */
		if (i % 3 == 0 && port == 0)
			continue; /* the same key as the next one */
		struct policy_key key = {
			.remote_identity = i < 3 ? remote : 0,
			.endpoint_id = ep->endpoint_id,
			.direction = dir,
			.proto = i % 3 == 2 ? 0 : proto,
			.dport = i % 3 == 0 ? port : 0,
		};
		struct policy_entry *entry = bpf_map_lookup_elem(&policy_entries, &key);

		if (!entry)
			continue;
		if (entry->deny) {
			d->reason = DROP_POLICY_DENY;
			d->rule_id = entry->rule_id;
			return;
		}
		if (!allowed) {
			allowed = 1;
			allow_rule = entry->rule_id;
		}
	}

	if (!enforce) {
		d->reason = 0;
		d->rule_id = 0;
	} else if (allowed) {
		d->reason = 0;
		d->rule_id = allow_rule;
	} else {
		d->reason = DROP_POLICY;
		d->rule_id = default_rule;
	}
}

static __always_inline void count_drop(const struct endpoint_info *ep, __u8 dir, const struct decision *d,
				       __u32 remote, __u32 len)
{
	struct drop_key key = {
		.endpoint_id = ep->endpoint_id,
		.direction = dir,
		.reason = d->reason,
		.rule_id = d->rule_id,
		.remote_identity = remote,
	};

	drop_count(&policy_drops, &key, len);
}

/* One event about packet p at endpoint ep; dir is the packet's direction at the endpoint, reply whether
 * it answers a flow opened the other way. remote is the peer's identity when the caller already has it
 * (a new flow), else IDENTITY_UNKNOWN and it is looked up here, when an event is sent, so that packets
 * nobody reports on never pay for it. */
static __always_inline void flow_send(const struct pkt4 *p, const struct endpoint_info *ep, __u32 ifindex, __u8 dir,
				      __u8 type, __u8 verdict, __u8 reply, const struct decision *d, const struct ct4_entry *ct,
				      __u32 remote)
{
	struct flow_event *ev = flow_reserve(type, verdict);

	if (!ev)
		return;
	if (remote == IDENTITY_UNKNOWN)
		remote = ipcache_identity(dir == POLICY_INGRESS ? p->tuple.saddr : p->tuple.daddr);
	ev->saddr = p->tuple.saddr;
	ev->daddr = p->tuple.daddr;
	ev->sport = p->tuple.sport;
	ev->dport = p->tuple.dport;
	ev->proto = p->tuple.proto;
	/* The connection's direction, as Hubble reports it: a reply travels against it. */
	ev->direction = reply == FLOW_REPLY_YES ? policy_dir_other(dir) : dir;
	ev->tcp_flags = p->tuple.proto == IPPROTO_ICMP ? (__u8)bpf_ntohs(p->policy_port) : p->tcp_flags;
	ev->reply = reply;
	ev->ifindex = ifindex;
	ev->src_identity = dir == POLICY_INGRESS ? remote : ep->identity;
	ev->dst_identity = dir == POLICY_INGRESS ? ep->identity : remote;
	ev->len = p->len;
	if (d) {
		ev->reason = d->reason;
		ev->rule_id = d->rule_id;
	}
	if (ct) {
		ev->rule_id = ct->rule_id;
		ev->packets = ct->tx_packets + ct->rx_packets;
		ev->bytes = ct->tx_bytes + ct->rx_bytes;
	}
	flow_submit(ev);
}

/* After a packet of a tracked flow: what the aggregation level says to report about it. */
static __always_inline void flow_tracked(const struct pkt4 *p, const struct endpoint_info *ep, __u32 ifindex, __u8 dir,
					 int reply, int closed, int first_reply, struct ct4_entry *ct, __u32 level)
{
	__u8 r = reply ? FLOW_REPLY_YES : FLOW_REPLY_NO;

	if (level == FLOW_AGG_DISABLED || level == FLOW_AGG_MAXIMUM)
		return;
	if (closed) {
		flow_send(p, ep, ifindex, dir, FLOW_EV_CONN_END, FLOW_VERDICT_FORWARDED, r, NULL, ct, IDENTITY_UNKNOWN);
		return;
	}
	if (level == FLOW_AGG_NONE ||
	    (level == FLOW_AGG_LOW && (first_reply || (p->tcp_flags & (TCPHDR_SYN | TCPHDR_FIN | TCPHDR_RST)))))
		flow_send(p, ep, ifindex, dir, FLOW_EV_TRACE, FLOW_VERDICT_FORWARDED, r, NULL, ct, IDENTITY_UNKNOWN);
}

static __always_inline int policy_handle(struct __sk_buff *skb, __u8 dir)
{
	struct pkt4 p = {};
	struct ct4_tuple key = {};
	struct ct4_entry *ct;
	struct endpoint_info *ep;
	struct decision d = {};
	__u32 ifindex = skb->ifindex;
	__u32 remote, level;
	__u64 now;
	int closed, first;

	/* A pod reaching itself through a Service, sent back into it by the per-packet LB. */
	if (skb->mark == SLUICE_MARK_HAIRPIN)
		return TC_ACT_UNSPEC;
	ep = bpf_map_lookup_elem(&endpoints, &ifindex);
	if (!ep)
		return TC_ACT_UNSPEC;
	if (parse4(skb, &p) < 0)
		return TC_ACT_UNSPEC;
	now = bpf_ktime_get_ns();
	level = flow_level();

	if (p.related && ct_related(&ct4_policy, &p.inner, dir, now)) {
		if (level == FLOW_AGG_NONE)
			flow_send(&p, ep, ifindex, dir, FLOW_EV_TRACE, FLOW_VERDICT_FORWARDED, FLOW_REPLY_UNKNOWN, NULL, NULL,
				  IDENTITY_UNKNOWN);
		return TC_ACT_UNSPEC;
	}

	/* A reply: the reversed tuple opened a flow in the other direction. */
	ct4_tuple_reverse(&key, &p.tuple, policy_dir_other(dir));
	ct = ct_lookup(&ct4_policy, &key, now, 1);
	if (ct) {
		first = ct->rx_packets == 0;
		closed = ct_account(ct, p.tuple.proto, p.tcp_flags, p.len, 0, now);
		flow_tracked(&p, ep, ifindex, dir, 1, closed, first, ct, level);
		return TC_ACT_UNSPEC;
	}

	/* More of a flow this endpoint already has in this direction; a SYN on a closing TCP entry reuses
	 * the tuple for a new connection, decided again. */
	key = p.tuple;
	key.direction = dir;
	ct = ct_lookup(&ct4_policy, &key, now, 0);
	if (ct && !(p.tuple.proto == IPPROTO_TCP && (ct->flags & CT_F_CLOSING) &&
		    (p.tcp_flags & (TCPHDR_SYN | TCPHDR_ACK)) == TCPHDR_SYN)) {
		closed = ct_account(ct, p.tuple.proto, p.tcp_flags, p.len, 1, now);
		flow_tracked(&p, ep, ifindex, dir, 0, closed, 0, ct, level);
		return TC_ACT_UNSPEC;
	}

	/* A new flow. */
	remote = ipcache_identity(dir == POLICY_INGRESS ? p.tuple.saddr : p.tuple.daddr);
	policy_decide(ep, dir, remote, p.tuple.proto, p.policy_port, &d);
	if (d.reason) {
		count_drop(ep, dir, &d, remote, p.len);
		/* Decided as the first packet of a flow, so reported as one (not a reply), as the seed's
		 * `rogue -> product-service DROPPED` reads; only a reply whose entry was lost is misnamed. */
		if (level != FLOW_AGG_DISABLED)
			flow_send(&p, ep, ifindex, dir, FLOW_EV_DROP, FLOW_VERDICT_DROPPED, FLOW_REPLY_NO, &d, NULL, remote);
		return TC_ACT_SHOT;
	}

	__u16 flags = p.tuple.proto == IPPROTO_TCP ? tcp_flags_after(0, p.tcp_flags, 1) : 0;
	struct ct4_entry entry = {
		.lifetime_ns = now + ct_lifetime(p.tuple.proto, flags, 0),
		.tx_packets = 1,
		.tx_bytes = p.len,
		.src_identity = dir == POLICY_INGRESS ? remote : ep->identity,
		.flags = flags,
		.direction = dir,
		.rule_id = d.rule_id,
	};
	/* Without the entry the replies may be dropped by the other side's policy; the flow itself was
	 * allowed, so it passes anyway and the peer's retransmission tries again. */
	ct_create(&ct4_policy, &key, &entry);
	if (level != FLOW_AGG_DISABLED)
		flow_send(&p, ep, ifindex, dir, FLOW_EV_POLICY_VERDICT, FLOW_VERDICT_FORWARDED, FLOW_REPLY_NO, &d, NULL, remote);
	return TC_ACT_UNSPEC;
}

/* Packets leaving the pod (tcx ingress of the host-side veth, after from_pod): the pod's egress policy. */
SEC("tc")
int policy_from_pod(struct __sk_buff *skb)
{
	return policy_handle(skb, POLICY_EGRESS);
}

/* Packets entering the pod (tcx egress of the host-side veth, before to_pod): its ingress policy. */
SEC("tc")
int policy_to_pod(struct __sk_buff *skb)
{
	return policy_handle(skb, POLICY_INGRESS);
}

char LICENSE[] SEC("license") = "GPL";
