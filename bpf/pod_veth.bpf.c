// SPDX-License-Identifier: GPL-2.0
/* Per-packet load balancing on the host side of each pod's veth: the fallback for socketLB.enabled:
 * false, and for Service traffic no socket hook saw (a pod outside the agent's cgroup, a raw socket).
 *
 * Why at the pod's veth and not on the node's way out: the host-side veth is the first point after
 * the pod where the node's own code runs, and the last before a packet goes into a pod, so DNAT of the
 * request and reverse NAT of the reply happen in the same place and need no help from netfilter.
 *
 * Why connection tracking: a flow must keep its backend for its whole life even as the Service's
 * backends change, and the reply must be translated back to the frontend the client believes it talks
 * to. ct4_lb holds two entries per flow, one per direction (see conntrack.h), so that each packet, either
 * way, costs one hash lookup instead of a scan or a second index map.
 *
 * Why Maglev for new flows: with several nodes (or an agent restart that lost its CT table) the same
 * 5-tuple must still pick the same backend, and adding or removing one backend must move few flows; a
 * random pick would do neither. Where the agent has not (yet) written a Maglev table, the random slot of
 * the socket LB still gives a working Service.
 *
 * Untranslated packets return TC_ACT_UNSPEC (tcx: "next"), translated ones too, so that programs after
 * this one in the tcx chain (policy) still see every packet, with its translated addresses. Only a
 * Service without backends is refused here: a TCP SYN gets a RST back at once, like kube-proxy's REJECT
 * and Cilium's service-no-backend-response: reject; anything else to it is dropped (see reject_syn4).
 *
 * Why hairpin flows are sent straight back into the pod (bpf_redirect) with the source rewritten to
 * LB_HAIRPIN_ADDR4: a pod whose Service picked the pod itself would otherwise see a SYN from its own
 * address and answer it inside the pod, where no program translates the answer back to the Service. The
 * node never routes these packets (it has no route for the hairpin address, and need not have one).
 *
 * Why the source check first (source.h): a frame from a MAC or an address that is not the pod's is
 * dropped before it can pick a backend or create ct4_lb entries in another pod's name.
 *
 * Why fragments are tracked (frag4_lb): only a datagram's first fragment has ports, so it alone can be
 * looked up and translated as a flow; the address it was translated to is kept by (saddr, daddr, proto,
 * IP id), what every fragment of the datagram carries, and its later fragments get the same address (their
 * L4 checksum, in the first fragment, already covers the whole datagram). The same on the way back for a
 * fragmented reply (to_pod: the frontend as its source). Later fragments whose first fragment was not
 * seen (or was not translated) pass untouched. Not for hairpin flows (a fragmented datagram from a pod to
 * itself through a Service passes untranslated).
 *
 * Not handled (yet): ICMP errors about a translated flow (their inner header is not rewritten).
 */
#include "lb_lib.h"
#include "conntrack.h"
#include "nat.h"
#include "events.h"
#include "source.h"

/* The translated address of each fragmented datagram, for its later fragments (see the top). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FRAG4_MAX_ENTRIES);
	__type(key, struct frag4_key);
	__type(value, __be32);
} frag4_lb SEC(".maps");

/* The tuple of a packet the LB may translate, and where its L4 header is (for NAT). */
struct flow4 {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 frag;                  /* FLOW4_* */
	__be16 id;                  /* iphdr.id, for fragments */
	__u32 l4_off;
};

#define FLOW4_WHOLE 0
#define FLOW4_FIRST 1               /* a first fragment: ports, and the datagram's later fragments to follow */
#define FLOW4_LATER 2               /* a later fragment: addresses only (sport, dport 0) */

/* A well-formed IPv4 TCP or UDP packet's tuple: a whole datagram or a first fragment with its L4 header
 * whole within it (NAT rewrites its checksum), or a later fragment's addresses; -1 for anything else,
 * which passes untranslated (policy fails closed on what is malformed, where it enforces; the receiving
 * stack drops it anyway). Returns FLOW4_*. */
static __always_inline int parse4(struct __sk_buff *skb, struct flow4 *f)
{
	struct iphdr ip;
	__u32 end;

	if (ipv4_load_bounded(skb, &ip, &f->l4_off, &end) < 0)
		return -1;
	if (ip.protocol != IPPROTO_TCP && ip.protocol != IPPROTO_UDP)
		return -1;
	f->saddr = ip.saddr;
	f->daddr = ip.daddr;
	f->proto = ip.protocol;
	f->id = ip.id;
	f->sport = 0;
	f->dport = 0;
	f->frag = ipv4_is_later_fragment(&ip) ? FLOW4_LATER : ipv4_is_fragment(&ip) ? FLOW4_FIRST : FLOW4_WHOLE;
	if (f->frag == FLOW4_LATER)
		return FLOW4_LATER;
	if (f->l4_off + l4_min_len(ip.protocol) > end)
		return -1;
	if (l4_load_ports(skb, f->l4_off, &f->sport, &f->dport) < 0)
		return -1;
	return f->frag;
}

static __always_inline struct frag4_key frag4_lb_key(const struct flow4 *f)
{
	struct frag4_key key = {
		.saddr = f->saddr,
		.daddr = f->daddr,
		.id = f->id,
		.proto = f->proto,
	};

	return key;
}

/* A first fragment translated to address: its later fragments will be too. Best effort: without the
 * entry they pass untranslated, and the datagram is lost as before. */
static __always_inline void frag4_lb_remember(const struct flow4 *f, __be32 address)
{
	struct frag4_key key;

	if (f->frag != FLOW4_FIRST)
		return;
	key = frag4_lb_key(f);
	bpf_map_update_elem(&frag4_lb, &key, &address, BPF_ANY);
}

/* A later fragment: its destination (dst) or source becomes what its first fragment's became. Only the
 * IP header changes (and its checksum); the L4 checksum is in the first fragment. */
static __always_inline int frag4_lb_follow(struct __sk_buff *skb, const struct flow4 *f, int dst)
{
	struct frag4_key key = frag4_lb_key(f);
	__be32 *address = bpf_map_lookup_elem(&frag4_lb, &key);
	__be32 old = dst ? f->daddr : f->saddr;
	__be32 new;

	if (!address)
		return TC_ACT_UNSPEC;
	new = *address;
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old, new, sizeof(new)) < 0 ||
	    bpf_skb_store_bytes(skb, dst ? IP_DST_OFF : IP_SRC_OFF, &new, sizeof(new), 0) < 0)
		return TC_ACT_SHOT;
	return TC_ACT_UNSPEC;
}

static __always_inline int dnat4(struct __sk_buff *skb, const struct flow4 *f, __be32 address, __be16 port)
{
	frag4_lb_remember(f, address);
	if (nat4_rewrite(skb, f->proto, f->l4_off, NAT4_DST, f->daddr, address, f->dport, port) < 0)
		return TC_ACT_SHOT;
	return TC_ACT_UNSPEC;
}

/* Back out of the veth the packet came in by, into its pod: the Ethernet addresses swap places (the pod
 * only takes frames for its own MAC), and the mark tells the policy program on the way not to judge it. */
static __always_inline int hairpin_redirect(struct __sk_buff *skb)
{
	__u8 macs[2 * ETH_ALEN];
	__u8 swapped[2 * ETH_ALEN];

	if (bpf_skb_load_bytes(skb, 0, macs, sizeof(macs)) < 0)
		return TC_ACT_SHOT;
	__builtin_memcpy(swapped, macs + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(swapped + ETH_ALEN, macs, ETH_ALEN);
	if (bpf_skb_store_bytes(skb, 0, swapped, sizeof(swapped), 0) < 0)
		return TC_ACT_SHOT;
	skb->mark = SLUICE_MARK_HAIRPIN;
	return bpf_redirect(skb->ifindex, 0);
}

/* A pod's packet to a Service that chose the pod itself: to the backend port, from the hairpin address. */
static __always_inline int hairpin4(struct __sk_buff *skb, const struct flow4 *f, __be32 address, __be16 port)
{
	if (nat4_rewrite(skb, f->proto, f->l4_off, NAT4_DST, f->daddr, address, f->dport, port) < 0)
		return TC_ACT_SHOT;
	if (nat4_rewrite(skb, f->proto, f->l4_off, NAT4_SRC, f->saddr, bpf_htonl(LB_HAIRPIN_ADDR4), f->sport, f->sport) < 0)
		return TC_ACT_SHOT;
	return hairpin_redirect(skb);
}

/* The pod's answer to the hairpin address: from the frontend, to the connection's client side. */
static __always_inline int hairpin_reply4(struct __sk_buff *skb, const struct flow4 *f, const struct ct4_lb_entry *ct)
{
	if (nat4_rewrite(skb, f->proto, f->l4_off, NAT4_SRC, f->saddr, ct->frontend_address, f->sport, ct->frontend_port) < 0)
		return TC_ACT_SHOT;
	if (nat4_rewrite(skb, f->proto, f->l4_off, NAT4_DST, f->daddr, ct->backend_address, f->dport, ct->backend_port) < 0)
		return TC_ACT_SHOT;
	return hairpin_redirect(skb);
}

/* A frontend without backends: a TCP SYN becomes the RST+ACK the client's connect() expects (so it
 * fails at once with ECONNREFUSED instead of retrying the SYN until it times out), sent back into the
 * pod from the frontend the client targeted. The answer is written as fresh headers (no IP or TCP
 * options) with checksums computed from scratch. Returns the verdict; TC_ACT_SHOT for anything that is
 * not a SYN, and for other protocols the caller drops (no ICMP port unreachable is generated: not yet). */
static __always_inline int reject_syn4(struct __sk_buff *skb, const struct flow4 *f)
{
	struct ethhdr eth;
	struct tcphdr syn;
	struct {
		__be32 saddr;
		__be32 daddr;
		__u8 zero;
		__u8 proto;
		__be16 len;
	} pseudo = {
		.saddr = f->daddr,
		.daddr = f->saddr,
		.proto = IPPROTO_TCP,
		.len = bpf_htons(sizeof(struct tcphdr)),
	};
	__s64 csum;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0 ||
	    bpf_skb_load_bytes(skb, f->l4_off, &syn, sizeof(syn)) < 0)
		return TC_ACT_SHOT;
	if (!syn.syn || syn.ack || syn.rst)
		return TC_ACT_SHOT;

	struct ethhdr reth = { .h_proto = eth.h_proto };
	__builtin_memcpy(reth.h_dest, eth.h_source, ETH_ALEN);
	__builtin_memcpy(reth.h_source, eth.h_dest, ETH_ALEN);
	struct iphdr rip = {
		.version = 4,
		.ihl = 5,
		.tot_len = bpf_htons(sizeof(struct iphdr) + sizeof(struct tcphdr)),
		.frag_off = bpf_htons(IP_DF),
		.ttl = 64,
		.protocol = IPPROTO_TCP,
		.saddr = f->daddr,
		.daddr = f->saddr,
	};
	struct tcphdr rst = {
		.source = f->dport,
		.dest = f->sport,
		.seq = 0,
		.ack_seq = bpf_htonl(bpf_ntohl(syn.seq) + 1), /* the SYN takes one sequence number */
		.doff = 5,
		.rst = 1,
		.ack = 1,
	};
	csum = bpf_csum_diff(NULL, 0, (__be32 *)&rip, sizeof(rip), 0);
	if (csum < 0)
		return TC_ACT_SHOT;
	rip.check = csum_fold32(csum);
	csum = bpf_csum_diff(NULL, 0, (__be32 *)&pseudo, sizeof(pseudo), 0);
	if (csum < 0)
		return TC_ACT_SHOT;
	csum = bpf_csum_diff(NULL, 0, (__be32 *)&rst, sizeof(rst), csum);
	if (csum < 0)
		return TC_ACT_SHOT;
	rst.check = csum_fold32(csum);

	/* Cut the SYN to the RST's size (IP options and TCP options go), then overwrite every header. The
	 * checksums above are complete: the pod must verify them, whatever state the SYN's skb had. */
	if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(rip) + sizeof(rst), 0) < 0)
		return TC_ACT_SHOT;
	bpf_csum_level(skb, BPF_CSUM_LEVEL_RESET);
	if (bpf_skb_store_bytes(skb, 0, &reth, sizeof(reth), 0) < 0 ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &rip, sizeof(rip), 0) < 0 ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(rip), &rst, sizeof(rst), 0) < 0)
		return TC_ACT_SHOT;
	bpf_set_hash_invalid(skb);
	/* Egress of this host-side veth is the way into the pod. */
	return bpf_redirect(skb->ifindex, 0);
}

/* A new flow to a frontend: the backend from affinity, else Maglev, else a random slot; 0 if none. */
static __always_inline __u32 select_backend(const struct flow4 *f, const struct lb4_service *svc, __u64 now)
{
	__u32 backend_id = 0;

	if (svc->flags & LB_SVC_F_AFFINITY)
		backend_id = lb4_affinity_backend_id(f->saddr, 0, svc, now);
	if (!backend_id) {
		backend_id = lb4_maglev_backend_id(svc->rev_nat_index,
						   lb4_flow_hash(f->saddr, f->daddr, f->sport, f->dport, f->proto));
		if (!lb4_lookup_backend(backend_id))
			backend_id = lb4_random_backend_id(f->daddr, f->dport, f->proto, svc);
	}
	return backend_id;
}

/* A Service flow's first packet translated (or refused): the agent names the Service in the pod's flows.
 * The policy program after this one sees only the backend. */
static __always_inline void lb_flow(const struct __sk_buff *skb, const struct flow4 *f, __u8 type, __u8 verdict,
				    __be32 backend, __be16 bport)
{
	flow_service_packet(skb, type, verdict, f->proto, f->saddr, f->sport, f->daddr, f->dport, backend, bport);
}

/* Packets leaving the pod (tcx ingress of the host-side veth): DNAT to a frontend's backend. */
SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	struct flow4 f;
	struct ct4_lb_entry *ct;
	struct lb4_service *svc;
	struct lb4_backend *backend;
	__u32 backend_id;
	__u64 now;
	int ret;

	/* A forged source (MAC or address) is dropped before the LB keeps any state, or answers, in another pod's name. */
	if (source_verify(skb) == TC_ACT_SHOT)
		return TC_ACT_SHOT;
	ret = parse4(skb, &f);
	if (ret < 0)
		return TC_ACT_UNSPEC;
	if (ret == FLOW4_LATER)
		return frag4_lb_follow(skb, &f, 1);

	struct ct4_key key = ct4_lb_key(f.saddr, f.daddr, f.sport, f.dport, f.proto);
	ct = ct4_lb_lookup(&ct4_lb, &key);
	/* The clock only for a flow this program tracks or creates: read for every packet, it cost a packet
	 * nothing claims half of this program's time (25 of ~50 ns, docs/benchmarks.md). */
	now = ct ? bpf_ktime_get_ns() : 0;
	if (ct && (ct->flags & (CT4_F_REPLY | CT4_F_HAIRPIN)) == (CT4_F_REPLY | CT4_F_HAIRPIN)) {
		ct->last_seen_ns = now;
		return f.frag ? TC_ACT_UNSPEC : hairpin_reply4(skb, &f, ct);
	}
	if (ct && !(ct->flags & CT4_F_REPLY)) {
		backend = lb4_lookup_backend(ct->backend_id);
		if (backend && backend->address == ct->backend_address && backend->port == ct->backend_port) {
			ct->last_seen_ns = now;
			if (ct->flags & CT4_F_HAIRPIN)
				return f.frag ? TC_ACT_UNSPEC : hairpin4(skb, &f, ct->backend_address, ct->backend_port);
			return dnat4(skb, &f, ct->backend_address, ct->backend_port);
		}
		/* The backend is gone (or its id now names another one): choose again as for a new flow, and
		 * forget the old reply entry; the original entry is overwritten below. */
		struct ct4_key stale = ct4_lb_key(ct->backend_address, f.saddr, ct->backend_port, f.sport, f.proto);
		bpf_map_delete_elem(&ct4_lb, &stale);
	}

	svc = lb4_lookup_service(f.daddr, f.dport, f.proto);
	if (!svc)
		return TC_ACT_UNSPEC;
	if (svc->count == 0) { /* no ct4_lb entry: there is no flow to track */
		lb_flow(skb, &f, FLOW_EV_DROP, FLOW_VERDICT_DROPPED, f.daddr, f.dport);
		return f.proto == IPPROTO_TCP ? reject_syn4(skb, &f) : TC_ACT_SHOT;
	}

	if (!now)
		now = bpf_ktime_get_ns();
	backend_id = select_backend(&f, svc, now);
	backend = lb4_lookup_backend(backend_id);
	if (!backend)
		return TC_ACT_UNSPEC;
	if (svc->flags & LB_SVC_F_AFFINITY)
		lb4_affinity_update(f.saddr, 0, svc, backend_id, now);

	__be32 backend_address = backend->address;
	__be16 backend_port = backend->port;
	__u8 hairpin = backend_address == f.saddr ? CT4_F_HAIRPIN : 0;

	if (hairpin && f.frag)
		return TC_ACT_UNSPEC;
	struct ct4_key reply_key = ct4_lb_key(backend_address, hairpin ? bpf_htonl(LB_HAIRPIN_ADDR4) : f.saddr, backend_port,
					      f.sport, f.proto);
	struct ct4_lb_entry reply = {
		.last_seen_ns = now,
		.backend_id = backend_id,
		.backend_address = f.saddr,
		.backend_port = f.sport,
		.rev_nat_index = svc->rev_nat_index,
		.frontend_address = f.daddr,
		.frontend_port = f.dport,
		.flags = CT4_F_REPLY | hairpin,
	};
	struct ct4_lb_entry original = {
		.last_seen_ns = now,
		.backend_id = backend_id,
		.backend_address = backend_address,
		.backend_port = backend_port,
		.rev_nat_index = svc->rev_nat_index,
		.frontend_address = f.daddr,
		.frontend_port = f.dport,
		.flags = hairpin,
	};
	/* Without both entries the reply could not be translated back: drop, and let the client retry. */
	if (ct4_lb_create(&ct4_lb, &key, &original, &reply_key, &reply) < 0)
		return TC_ACT_SHOT;
	lb_flow(skb, &f, FLOW_EV_SERVICE_XLATE, FLOW_VERDICT_TRANSLATED, backend_address, backend_port);
	if (hairpin)
		return hairpin4(skb, &f, backend_address, backend_port);
	return dnat4(skb, &f, backend_address, backend_port);
}

/* Packets going into the pod (tcx egress of the host-side veth): a backend's reply gets the frontend as
 * its source again. */
SEC("tc")
int to_pod(struct __sk_buff *skb)
{
	struct flow4 f;
	struct ct4_lb_entry *ct;
	int ret = parse4(skb, &f);

	if (ret < 0)
		return TC_ACT_UNSPEC;
	if (ret == FLOW4_LATER)
		return frag4_lb_follow(skb, &f, 0);

	struct ct4_key key = ct4_lb_key(f.saddr, f.daddr, f.sport, f.dport, f.proto);
	ct = ct4_lb_lookup(&ct4_lb, &key);
	if (!ct || !(ct->flags & CT4_F_REPLY))
		return TC_ACT_UNSPEC;
	ct->last_seen_ns = bpf_ktime_get_ns();
	frag4_lb_remember(&f, ct->frontend_address);
	if (nat4_rewrite(skb, f.proto, f.l4_off, NAT4_SRC, f.saddr, ct->frontend_address, f.sport, ct->frontend_port) < 0)
		return TC_ACT_SHOT;
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
