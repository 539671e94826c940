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
 * says, and a flow's forward packets need no policy lookup while its endpoint's policy is unchanged. The CT
 * is keyed by endpoint direction as well as tuple (see policy.h), so that two pods of one node each apply
 * their own policy to a flow between them.
 *
 * Why the re-check, and why by revision: a policy change must cut an established flow it no longer allows
 * (Cilium looks policy up for every packet that is not a reply: cilium/cilium#2700). Looking policy up for
 * every forward packet would cost an LPM and up to six hash lookups per packet on the hot path, to get the
 * answer of the last packet nearly always. Instead each endpoint has a revision (policy_revisions, an
 * ARRAY the verifier inlines: one load), bumped by the agent after it wrote anything the endpoint's verdicts
 * depend on (its entries, its endpoint_info, the ipcache), and each CT entry the revision it was admitted
 * under: a forward packet is decided again only when they differ, i.e. once per flow after a change, and
 * the common packet stays one CT lookup. Per endpoint rather than one node-wide number, so that a change
 * of one pod's policy re-checks only its flows (and only its bypassed sockets). A flow the new policy
 * denies is marked CT_F_POLICY_DENIED and its forward packets are dropped with the policy's reason (133
 * or 181, counted and reported as any policy drop) while its entry stays, as Cilium keeps it (#9187): the
 * replies of what was admitted still pass, and when a later change allows the flow again its next forward
 * packet (for TCP, a retransmission) is admitted and the connection resumes where it stood.
 *
 * Why two CT tables (ct4_policy for established flows, ct4_policy_new for the others; policy_maps.h): so
 * that one pod opening flows as fast as it can only evicts other new flows, never another pod's
 * established ones; and why a per-endpoint quota on the established table (ct4_quota): so that one pod
 * opening *answered* flows as fast as it can holds at most its limit of it (docs/datapath.md, "Conntrack
 * fairness").
 *
 * Why a TCP packet without SYN and without CT is decided as a new flow (CT_F_SEEN_NON_SYN) instead of
 * dropped: the CT can lose entries (LRU pressure, a map recreated by an agent upgrade); a connection the
 * policy still allows must survive that, and one it no longer allows is dropped either way.
 *
 * Why ENDPOINT_F_FAIL_CLOSED drops new flows only: when an endpoint's policy did not fit the maps, what
 * is in them is incomplete, and opening a flow on incomplete rules could open a hole; flows admitted
 * while the policy was whole keep going.
 *
 * Why every IPv4 protocol is decided: a protocol policy does not know is not a protocol policy may
 * ignore. TCP, UDP and SCTP are judged by destination port, ICMP by type, any other protocol (GRE, IP
 * protocol 253 ...) without a port, so only an any-protocol entry ({id,0,0}: a rule without toPorts)
 * admits it (policy.h); all of them are tracked alike, a protocol without ports by its addresses.
 *
 * Why source verification here too (source.h): from_pod checks first when per-packet LB is on; policy
 * is always on, so its egress check stands alone when LB is off.
 *
 * Why an endpoint with enforcement fails closed on what it cannot judge: a frame that is not IPv4 (IPv6
 * is not supported yet; ARP passes), an IPv4 header or L4 header that cannot be read, and a later
 * fragment whose first fragment it never saw. Where nothing is enforced they pass as before (the
 * receiving stack discards what is malformed).
 *
 * Why fragments are tracked (frag4_policy, policy_maps.h): only the first fragment of a datagram has
 * ports, so the ports are kept by (saddr, daddr, proto, IP id) for the later fragments, which then take
 * the same way as their first one: the same CT entry if it passed, the same drop if it did not.
 *
 * Why flow events are sent per connection and not per packet (at the default aggregation level): a new
 * flow, a drop and the end of a TCP flow are what a user debugging a connection needs, and sending one
 * event per packet would cost every packet a ring-buffer reservation. The agent sets the level
 * (flow_config); at FLOW_AGG_NONE every packet is reported, as Cilium's monitorAggregation "none".
 */
#include "policy_maps.h"
#include "conntrack.h"
#include "policy_decide.h"
#include "events.h"
#include "source.h"

/* A parsed packet: its CT tuple (direction not yet set), the port its policy is looked up with, and,
 * for an ICMP error, the tuple of the packet it quotes. */
struct pkt4 {
	struct ct4_tuple tuple;
	struct ct4_tuple inner;
	__be16 policy_port;
	__u8 tcp_flags;
	__u8 related;               /* an ICMP error: inner is valid */
	__u8 ip_ok;                 /* the IPv4 header was read: saddr, daddr and proto are valid */
	__u8 frag_first;            /* a first fragment whose L4 header was read: frag holds its key */
	__u32 len;
	struct frag4_key frag;
};

/* The packet an ICMP error quotes (its IP header and first 8 bytes of L4) at offset off, within the
 * datagram that ends at end: -1 when it is not a TCP, UDP, SCTP or ICMP echo packet, or not all there. */
static __always_inline int parse_quoted(struct __sk_buff *skb, __u32 off, __u32 end, struct ct4_tuple *t)
{
	struct iphdr ip;
	__u8 l4[8];

	if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) < 0)
		return -1;
	if (!ipv4_hdr_ok(&ip) || off + ip.ihl * 4 + sizeof(l4) > end)
		return -1;
	if (bpf_skb_load_bytes(skb, off + ip.ihl * 4, l4, sizeof(l4)) < 0)
		return -1;
	t->saddr = ip.saddr;
	t->daddr = ip.daddr;
	t->proto = ip.protocol;
	if (ip.protocol == IPPROTO_TCP || ip.protocol == IPPROTO_UDP || ip.protocol == IPPROTO_SCTP) {
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

/* parse4's outcomes: a packet policy can judge, or why not. */
#define PARSE_OK 0
#define PARSE_NOT_IPV4 (-1)         /* another ethertype: ARP, IPv6 ... */
#define PARSE_INVALID (-2)          /* a malformed IPv4 header, or an L4 header cut short (parse.h) */
#define PARSE_FRAG_UNKNOWN (-3)     /* a later fragment whose first fragment was never seen */

/* The L4 part of an IPv4 packet (a first fragment, or a whole datagram) at l4_off into p. Its minimal
 * header must lie within the datagram (before end), a first fragment's included: a first fragment too
 * short for its TCP header (RFC 1858's tiny fragment, whose later fragment would bring the flags) is
 * malformed, as is one whose header is cut short. */
static __always_inline int parse4_l4(struct __sk_buff *skb, const struct iphdr *ip, __u32 l4_off, __u32 end,
				     struct pkt4 *p)
{
	if (l4_off + l4_min_len(ip->protocol) > end)
		return PARSE_INVALID;
	if (ip->protocol == IPPROTO_TCP) {
		if (tcp_load_checked(skb, l4_off, end, &p->tuple.sport, &p->tuple.dport, &p->tcp_flags) < 0)
			return PARSE_INVALID;
		p->policy_port = p->tuple.dport;
		return PARSE_OK;
	}
	/* SCTP's common header starts with the two ports, as UDP's. */
	if (ip->protocol == IPPROTO_UDP || ip->protocol == IPPROTO_SCTP) {
		if (l4_load_ports(skb, l4_off, &p->tuple.sport, &p->tuple.dport) < 0)
			return PARSE_INVALID;
		p->policy_port = p->tuple.dport;
		return PARSE_OK;
	}
	if (ip->protocol == IPPROTO_ICMP) {
		struct icmp4_hdr icmp;

		if (bpf_skb_load_bytes(skb, l4_off, &icmp, sizeof(icmp)) < 0)
			return PARSE_INVALID;
		ct4_icmp_ports(&p->tuple, icmp.type, icmp.id);
		p->policy_port = bpf_htons(icmp.type);
		if (icmp_is_error(icmp.type) && !ipv4_is_fragment(ip) &&
		    parse_quoted(skb, l4_off + sizeof(icmp), end, &p->inner) == 0)
			p->related = 1;
		return PARSE_OK;
	}
	/* Any other protocol: no ports; tracked and judged by its addresses and protocol alone. */
	return PARSE_OK;
}

/* Any IPv4 packet into p: its tuple and the port its policy is looked up with. A later fragment takes
 * the ports its first fragment left in frag4_policy; a first fragment is marked (frag_first) for
 * frag_remember to leave them there once its source is verified. A later fragment at offset 1 (8 bytes)
 * of TCP would overwrite the first fragment's flags in reassembly (RFC 1858's overlapping fragment):
 * malformed. */
static __always_inline int parse4(struct __sk_buff *skb, struct pkt4 *p)
{
	struct iphdr ip;
	__u32 l4_off, end;
	int ret;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return PARSE_NOT_IPV4;
	if (ipv4_load_bounded(skb, &ip, &l4_off, &end) < 0)
		return PARSE_INVALID;
	p->tuple.saddr = ip.saddr;
	p->tuple.daddr = ip.daddr;
	p->tuple.proto = ip.protocol;
	p->ip_ok = 1;
	if (!ipv4_is_fragment(&ip))
		return parse4_l4(skb, &ip, l4_off, end, p);

	p->frag.saddr = ip.saddr;
	p->frag.daddr = ip.daddr;
	p->frag.id = ip.id;
	p->frag.proto = ip.protocol;
	if (ipv4_is_later_fragment(&ip)) {
		struct frag4_l4 *l4;

		if (ip.protocol == IPPROTO_TCP && (ip.frag_off & bpf_htons(IP_OFFSET)) == bpf_htons(1))
			return PARSE_INVALID;
		l4 = bpf_map_lookup_elem(&frag4_policy, &p->frag);
		if (!l4)
			return PARSE_FRAG_UNKNOWN;
		p->tuple.sport = l4->sport;
		p->tuple.dport = l4->dport;
		p->policy_port = l4->policy_port;
		p->tcp_flags = l4->tcp_flags;
		return PARSE_OK;
	}
	ret = parse4_l4(skb, &ip, l4_off, end, p);
	if (ret == PARSE_OK)
		p->frag_first = 1;
	return ret;
}

/* A first fragment's ports, kept for its later fragments (before its verdict: they are judged, and
 * dropped, as it was). Best effort: without it the later fragments fail closed (enforced) or pass (not).
 * Only for a packet whose source passed verification, so that a pod cannot leave ports in another pod's
 * name for that pod's later fragments. */
static __always_inline void frag_remember(const struct pkt4 *p)
{
	struct frag4_l4 l4 = {
		.sport = p->tuple.sport,
		.dport = p->tuple.dport,
		.policy_port = p->policy_port,
		.tcp_flags = p->tcp_flags,
	};

	if (p->frag_first)
		bpf_map_update_elem(&frag4_policy, &p->frag, &l4, BPF_ANY);
}

static __always_inline void count_drop(const struct endpoint_info *ep, __u8 dir, const struct decision *d,
				       __u32 remote, __u32 len)
{
	endpoint_drop_count(ep, dir, d->reason, d->rule_id, remote, len);
}

/* One event about packet p at endpoint ep; dir is the packet's direction at the endpoint, reply whether
 * it answers a flow opened the other way. remote is the peer's identity when the caller already has it
 * (a new flow), else IDENTITY_UNKNOWN and it is looked up here, when an event is sent, so that packets
 * nobody reports on never pay for it. skb, when given, is read for an IPv6 frame's addresses (p has none). */
static __always_inline void flow_send_frame(struct __sk_buff *skb, const struct pkt4 *p, const struct endpoint_info *ep,
					    __u32 ifindex, __u8 dir, __u8 type, __u8 verdict, __u8 reply, const struct decision *d,
					    const struct ct4_entry *ct, __u32 remote)
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
	if (skb && !p->ip_ok)
		flow_fill_ipv6(skb, ev);
	flow_submit(ev);
}

/* flow_send_frame for a packet whose addresses are all in p (IPv4). */
static __always_inline void flow_send(const struct pkt4 *p, const struct endpoint_info *ep, __u32 ifindex, __u8 dir,
				      __u8 type, __u8 verdict, __u8 reply, const struct decision *d, const struct ct4_entry *ct,
				      __u32 remote)
{
	flow_send_frame(NULL, p, ep, ifindex, dir, type, verdict, reply, d, ct, remote);
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

/* A packet dropped before any policy decision (a forged source MAC or address, or what an enforcing endpoint cannot
 * judge): counted and reported with what was parsed of it (an IPv6 frame's addresses and ports read for the
 * event; addresses 0 for any other frame that is not IPv4). The remote
 * identity comes from the ipcache when there is an address to look up. */
static __always_inline int drop_unjudged(struct __sk_buff *skb, const struct pkt4 *p, const struct endpoint_info *ep,
					 __u32 ifindex, __u8 dir, const struct decision *d)
{
	__u32 remote = IDENTITY_UNKNOWN;

	if (p->ip_ok)
		remote = ipcache_identity(dir == POLICY_INGRESS ? p->tuple.saddr : p->tuple.daddr);
	count_drop(ep, dir, d, remote, p->len);
	if (flow_level() != FLOW_AGG_DISABLED)
		flow_send_frame(skb, p, ep, ifindex, dir, FLOW_EV_DROP, FLOW_VERDICT_DROPPED, FLOW_REPLY_NO, d, NULL, remote);
	return TC_ACT_SHOT;
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
	int closed, first, ret, is_new;

	/* A pod reaching itself through a Service, sent back into it by the per-packet LB. */
	if (skb->mark == SLUICE_MARK_HAIRPIN)
		return TC_ACT_UNSPEC;
	ep = bpf_map_lookup_elem(&endpoints, &ifindex);
	if (!ep)
		return TC_ACT_UNSPEC;
	p.len = skb->len;
	ret = parse4(skb, &p);
	if (dir == POLICY_EGRESS && !source_mac_ok(skb, ep)) {
		d.reason = DROP_INVALID_SMAC;
		return drop_unjudged(skb, &p, ep, ifindex, dir, &d);
	}
	if (dir == POLICY_EGRESS && !(p.ip_ok ? source_ok4(ep, p.tuple.saddr) : source_frame_ok4(skb, ep))) {
		d.reason = DROP_INVALID_SIP;
		return drop_unjudged(skb, &p, ep, ifindex, dir, &d);
	}
	if (ret != PARSE_OK) {
		__u8 enforced = (dir == POLICY_INGRESS ? ep->enforce_ingress : ep->enforce_egress) ||
				(ep->flags & ENDPOINT_F_FAIL_CLOSED);

		if (!enforced || (ret == PARSE_NOT_IPV4 && skb->protocol == bpf_htons(ETH_P_ARP)))
			return TC_ACT_UNSPEC;
		d.reason = ret == PARSE_NOT_IPV4 ? DROP_UNKNOWN_L3 : ret == PARSE_INVALID ? DROP_INVALID : DROP_FRAG_NOT_FOUND;
		d.rule_id = dir == POLICY_INGRESS ? ep->default_deny_ingress_rule : ep->default_deny_egress_rule;
		return drop_unjudged(skb, &p, ep, ifindex, dir, &d);
	}
	frag_remember(&p);
	now = bpf_ktime_get_ns();
	level = flow_level();

	if (p.related && ct_related(&ct4_policy, &ct4_policy_new, &p.inner, dir, now)) {
		if (level == FLOW_AGG_NONE)
			flow_send(&p, ep, ifindex, dir, FLOW_EV_TRACE, FLOW_VERDICT_FORWARDED, FLOW_REPLY_UNKNOWN, NULL, NULL,
				  IDENTITY_UNKNOWN);
		return TC_ACT_UNSPEC;
	}

	/* A reply: the reversed tuple opened a flow in the other direction. */
	ct4_tuple_reverse(&key, &p.tuple, policy_dir_other(dir));
	ct = ct_lookup2(&ct4_policy, &ct4_policy_new, &key, now, 1, &is_new);
	if (ct) {
		first = ct->rx_packets == 0;
		closed = ct_account(ct, p.tuple.proto, p.tcp_flags, p.len, 0, now);
		flow_tracked(&p, ep, ifindex, dir, 1, closed, first, ct, level);
		if (is_new && ct_established(ct, p.tuple.proto))
			ct_promote_quota(&ct4_policy, &ct4_policy_new, &ct4_quota, &key, ct);
		return TC_ACT_UNSPEC;
	}

	/* More of a flow this endpoint already has in this direction; a SYN on a closing TCP entry reuses
	 * the tuple for a new connection, decided again. */
	key = p.tuple;
	key.direction = dir;
	ct = ct_lookup2(&ct4_policy, &ct4_policy_new, &key, now, 0, &is_new);
	if (ct && !(p.tuple.proto == IPPROTO_TCP && (ct->flags & CT_F_CLOSING) &&
		    (p.tcp_flags & (TCPHDR_SYN | TCPHDR_ACK)) == TCPHDR_SYN)) {
		/* The re-check (see "Why the re-check" above): only when the endpoint's policy revision moved
		 * since the entry was last admitted. */
		__u32 rev = policy_revision_of(ep->endpoint_id);

		if (rev != ct->policy_revision) {
			remote = ipcache_identity(dir == POLICY_INGRESS ? p.tuple.saddr : p.tuple.daddr);
			if (policy_recheck(ct, ep, dir, remote, p.tuple.proto, p.policy_port, rev, &d)) {
				count_drop(ep, dir, &d, remote, p.len);
				if (level != FLOW_AGG_DISABLED)
					flow_send(&p, ep, ifindex, dir, FLOW_EV_DROP, FLOW_VERDICT_DROPPED, FLOW_REPLY_NO, &d, NULL,
						  remote);
				return TC_ACT_SHOT;
			}
		}
		closed = ct_account(ct, p.tuple.proto, p.tcp_flags, p.len, 1, now);
		flow_tracked(&p, ep, ifindex, dir, 0, closed, 0, ct, level);
		if (is_new && ct_established(ct, p.tuple.proto))
			ct_promote_quota(&ct4_policy, &ct4_policy_new, &ct4_quota, &key, ct);
		return TC_ACT_UNSPEC;
	}
	/* A SYN reusing a closing tuple: decided as a new flow; if admitted, its entry replaces the old one,
	 * which must then leave the established table (it would be found first). */
	int stale = ct && !is_new;

	/* A new flow. The revision is read before the policy maps (policy_recheck says why). */
	__u32 rev = policy_revision_of(ep->endpoint_id);

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
		.endpoint_id = ep->endpoint_id,
		.policy_revision = rev,
	};
	/* Without the entry the replies may be dropped by the other side's policy; the flow itself was
	 * allowed, so it passes anyway and the peer's retransmission tries again. */
	if (stale)
		bpf_map_delete_elem(&ct4_policy, &key);
	ct_create(&ct4_policy_new, &key, &entry);
	if (level != FLOW_AGG_DISABLED)
		flow_send(&p, ep, ifindex, dir, FLOW_EV_POLICY_VERDICT, FLOW_VERDICT_FORWARDED, FLOW_REPLY_NO, &d, NULL, remote);
	return TC_ACT_UNSPEC;
}

/* Identity-preserving forwarding (docs/l7.md): the node proxy connects to a backend from the client pod's own
 * address (IP_TRANSPARENT), so that the backend's policy judges the client's identity. The backend's replies
 * are addressed to the client pod, which the node would route on to the pod's veth; they belong to the proxy's
 * socket. A TCP segment for which a socket of this namespace, other than a listener, holds exactly its tuple
 * (only a transparent socket can hold a pod's address here) is marked SLUICE_MARK_TO_PROXY, and the agent's
 * fwmark rule turns the routing decision into local delivery; the stack then finds that socket by the tuple.
 * Cilium marks proxy-bound packets the same way (MARK_MAGIC_TO_PROXY) and sends them to a local table.
 * The cost is one socket lookup per TCP segment that reaches this point (no parse beyond ports, no map). */
static __always_inline void proxy_reply_mark(struct __sk_buff *skb)
{
	struct iphdr ip;
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;

	if (skb->protocol != bpf_htons(ETH_P_IP) || bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
		return;
	if (ip.protocol != IPPROTO_TCP || ip.ihl < 5 || (bpf_ntohs(ip.frag_off) & IP_OFFSET))
		return;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + ip.ihl * 4, &t.ipv4.sport, 4) < 0)
		return;
	t.ipv4.saddr = ip.saddr;
	t.ipv4.daddr = ip.daddr;
	sk = bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return;
	if (sk->state != BPF_TCP_LISTEN)
		skb->mark = SLUICE_MARK_TO_PROXY;
	bpf_sk_release(sk);
}

/* Packets leaving the pod (tcx ingress of the host-side veth, after from_pod): the pod's egress policy, then a
 * reply to the node proxy's client-source connection is marked for local delivery. */
SEC("tc")
int policy_from_pod(struct __sk_buff *skb)
{
	int ret = policy_handle(skb, POLICY_EGRESS);

	if (ret != TC_ACT_SHOT)
		proxy_reply_mark(skb);
	return ret;
}

/* Packets arriving at the node from the fabric (tcx ingress of the node's uplink): a reply from another node's
 * backend to the node proxy's client-source connection is marked for local delivery. Nothing else is touched. */
SEC("tc")
int proxy_reply_uplink(struct __sk_buff *skb)
{
	proxy_reply_mark(skb);
	return TC_ACT_UNSPEC;
}

/* Packets entering the pod (tcx egress of the host-side veth, before to_pod): its ingress policy. */
SEC("tc")
int policy_to_pod(struct __sk_buff *skb)
{
	return policy_handle(skb, POLICY_INGRESS);
}

char LICENSE[] SEC("license") = "GPL";
