// SPDX-License-Identifier: GPL-2.0
/* The same-node socket bypass: a TCP connection between two pods of this node, once established and
 * admitted by policy, carries its data from one socket straight into the other's receive queue, without
 * the TCP/IP stack, the two veths and the four tc programs on them.
 *
 *   sock_bypass_ops (sockops, on the pods' cgroup): on ACTIVE/PASSIVE_ESTABLISHED, puts the socket into
 *     sock_bypass under its own 4-tuple when policy's conntrack holds BOTH ends' entries of the flow: the
 *     client's EGRESS and the server's INGRESS entry (ct4_policy or ct4_policy_new). Those exist only when
 *     the SYN went through policy_from_pod on the client's veth AND policy_to_pod on the server's veth of
 *     this node and both admitted it; so the one lookup pair says "both ends are pods of this node" and
 *     "policy allowed it". Connections to the L7 proxy (the pods' gateway address is no endpoint: no
 *     INGRESS entry), to another node (its INGRESS entry is in that node's maps), to the pod itself
 *     through a Service (hairpin: no entry) are never bypassed.
 *   sock_bypass_msg (sk_msg, on sock_bypass): per message, redirects it to the peer socket (the reversed
 *     key) into its ingress queue. Before that it looks up the same two CT entries and counts the message
 *     in them as a data segment would (ct_account: lifetime renewed, counters): a connection whose entry is
 *     gone (collected, evicted, a recreated table) takes the stack from then on, where the tc programs
 *     decide it under the policy in force, exactly as they would have decided its next segment. After a
 *     policy change (an endpoint's policy_revision moved past the entry's), the message is decided again
 *     with the tc programs' own function (policy_decide.h) and maps: allowed, it is redirected and the
 *     entry takes the new revision; denied, it takes the stack (for good), where tc drops it with the
 *     policy's reason, as it drops a non-bypassed connection's segment (docs/datapath.md).
 *
 * Why the sk_msg re-checks rather than the agent evicting affected sockets from sock_bypass on a policy
 *   change: "affected" is the datapath's verdict, and computing it in the agent would be a second copy of
 *   it (and racy: a socket inserted while the agent computes); the revision check costs one array load per
 *   message, and a socket still allowed after a change (pod churn bumps the ipcache, so every endpoint's
 *   revision) stays bypassed instead of falling back for good.
 *
 * Why a socket never returns to the bypass once it sent through the stack (sock_bypass_state.fell_back):
 *   the receiver reads its bypass queue before its TCP receive queue, so bytes redirected after bytes sent
 *   through the stack would overtake them. The other way (bypass first, then stack) keeps the order. A
 *   socket is inserted at ESTABLISHED, before it can send anything, so its first message decides.
 *
 * Why not SOCKMAP indices or a cookie key: the peer is found from the message itself (its reversed
 *   4-tuple), as in the kernel's selftests and Cilium's former bpf_sockops/bpf_redir, without user space.
 *
 * Closed sockets leave sock_bypass by themselves: the kernel removes a socket from every sockmap/sockhash
 * when it is unhashed (tcp_set_state TCP_CLOSE) or closed (sock_map_close). FIN and RST always take the
 * stack (they are not messages), so tc sees the close and the CT entry its end.
 *
 * IPv4 and IPv4-mapped IPv6 sockets (the JDK's dual-stack sockets) alike: the key holds the IPv4 addresses.
 */
#include "sluice_common.h"
#include "sockmap.h"
#include "policy_maps.h"
#include "conntrack.h"
#include "policy_decide.h"
#include "events.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, SOCK_BYPASS_MAX_ENTRIES);
	__type(key, struct sock_key);
	__type(value, __u64);
} sock_bypass SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_bypass_state);
} sock_bypass_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sock_bypass_counters);
} sock_bypass_counters SEC(".maps");

static __always_inline struct sock_bypass_counters *counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sock_bypass_counters, &zero);
}

/* remote_port is the be16 port, shifted into the upper half of the u32 on little-endian kernels. */
static __always_inline __be16 remote_port16(__u32 port)
{
	return port > 0xffff ? (__be16)(port >> 16) : (__be16)port;
}

/* Context fields are read one by one through volatile loads: clang otherwise computes a field's address
 * into a register and loads through it later, which the verifier refuses for a context pointer. */
#define CTX(ctx, field) (*(volatile __u32 *)&(ctx)->field)

/* The IPv4 addresses of an IPv4 or v4-mapped IPv6 socket (0 for anything else); the same for both hooks.
 * Every field is loaded before anything is chosen, so that no load happens through a computed address. */
#define SOCK_KEY(ctx, key)                                                                                  \
	({                                                                                                  \
		__u32 family_ = CTX(ctx, family), l4_ = CTX(ctx, local_ip4), r4_ = CTX(ctx, remote_ip4);     \
		__u32 l0_ = CTX(ctx, local_ip6[0]), l1_ = CTX(ctx, local_ip6[1]), l2_ = CTX(ctx, local_ip6[2]); \
		__u32 l3_ = CTX(ctx, local_ip6[3]), r0_ = CTX(ctx, remote_ip6[0]), r1_ = CTX(ctx, remote_ip6[1]); \
		__u32 r2_ = CTX(ctx, remote_ip6[2]), r3_ = CTX(ctx, remote_ip6[3]);                         \
		__u32 lp_ = CTX(ctx, local_port), rp_ = CTX(ctx, remote_port);                              \
		int v6_ = family_ == AF_INET6 && (l0_ | l1_ | r0_ | r1_) == 0 && l2_ == bpf_htonl(0x0000ffff) && \
			  r2_ == bpf_htonl(0x0000ffff);                                                     \
		(key)->local_ip4 = v6_ ? l3_ : l4_;                                                         \
		(key)->remote_ip4 = v6_ ? r3_ : r4_;                                                        \
		(key)->local_port = bpf_htons((__u16)lp_);                                                  \
		(key)->remote_port = remote_port16(rp_);                                                    \
		v6_ || family_ == AF_INET;                                                                  \
	})

/* The two CT entries of a flow between two pods of this node: the client's (EGRESS) and the server's
 * (INGRESS), both keyed by the tuple of the SYN after any DNAT. NULL in *egress / *ingress when absent. */
static __always_inline void ct_both(const struct sock_bypass_state *st, __u64 now, struct ct4_entry **egress,
				    struct ct4_entry **ingress)
{
	struct ct4_tuple key = {
		.saddr = st->client,
		.daddr = st->server,
		.sport = st->client_port,
		.dport = st->server_port,
		.proto = IPPROTO_TCP,
		.direction = POLICY_EGRESS,
	};
	int is_new;

	*egress = ct_lookup2(&ct4_policy, &ct4_policy_new, &key, now, 0, &is_new);
	key.direction = POLICY_INGRESS;
	*ingress = ct_lookup2(&ct4_policy, &ct4_policy_new, &key, now, 0, &is_new);
}

/* The re-check of one end's CT entry (ct, of direction dir) before a message is redirected: nothing when its
 * endpoint's policy revision is the one the entry was admitted under (the common message: one array load);
 * else the same verdict the tc program would give the segment (policy_decide.h, the same function and maps),
 * found from the entry's endpoint id. 0: the message may bypass; else the message must take the stack. */
static __always_inline int bypass_recheck(const struct sock_bypass_state *st, struct ct4_entry *ct, __u8 dir)
{
	__u32 index = ct->endpoint_id;
	struct policy_revision *r = bpf_map_lookup_elem(&policy_revisions, &index);
	struct endpoint_info *ep;
	struct decision d = {};
	__u32 rev, ifindex;

	if (!r)
		return 0;
	rev = r->revision;
	if (rev == ct->policy_revision)
		return 0;
	ifindex = r->ifindex;
	ep = bpf_map_lookup_elem(&endpoints, &ifindex);
	if (!ep || ep->endpoint_id != ct->endpoint_id)
		return -1;
	return policy_recheck(ct, ep, dir, ipcache_identity(dir == POLICY_INGRESS ? st->client : st->server), IPPROTO_TCP,
			      st->server_port, rev, &d) ? -1 : 0;
}

/* Tells observe that the connection now bypasses the stack (one event per connection: the client's side). */
static __always_inline void flow_bypassed(const struct sock_bypass_state *st, const struct ct4_entry *egress,
					  const struct ct4_entry *ingress)
{
	struct flow_event *ev;

	if (flow_level() == FLOW_AGG_DISABLED)
		return;
	ev = flow_reserve(FLOW_EV_SOCK_BYPASS, FLOW_VERDICT_FORWARDED);
	if (!ev)
		return;
	ev->cgroup_id = bpf_get_current_cgroup_id();
	ev->saddr = st->client;
	ev->daddr = st->server;
	ev->sport = st->client_port;
	ev->dport = st->server_port;
	ev->proto = IPPROTO_TCP;
	ev->direction = FLOW_DIR_EGRESS;
	ev->reply = FLOW_REPLY_NO;
	ev->src_identity = egress->src_identity;
	ev->rule_id = egress->rule_id;
	flow_submit(ev);
}

SEC("sockops")
int sock_bypass_ops(struct bpf_sock_ops *ctx)
{
	struct sock_key key = {};
	struct sock_bypass_state st = {};
	struct sock_bypass_state *stored;
	struct sock_bypass_counters *c;
	struct ct4_entry *egress, *ingress;
	int active;

	__u32 op = CTX(ctx, op);

	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (!SOCK_KEY(ctx, &key))
		return 1;
	active = op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB;
	st.is_client = active;
	st.client = active ? key.local_ip4 : key.remote_ip4;
	st.server = active ? key.remote_ip4 : key.local_ip4;
	st.client_port = active ? key.local_port : key.remote_port;
	st.server_port = active ? key.remote_port : key.local_port;

	ct_both(&st, bpf_ktime_get_ns(), &egress, &ingress);
	c = counters();
	if (!egress || !ingress) {
		/* Not between two admitted endpoints of this node; counted only when both ends are ours would
		 * need the endpoint list, so every miss counts (loopback, proxy, other nodes). */
		if (c)
			c->skipped++;
		return 1;
	}
	if (!ctx->sk)
		return 1;
	stored = bpf_sk_storage_get(&sock_bypass_state, ctx->sk, &st, BPF_SK_STORAGE_GET_F_CREATE);
	if (!stored)
		return 1;
	*stored = st;
	if (bpf_sock_hash_update(ctx, &sock_bypass, &key, BPF_ANY) != 0)
		return 1;
	if (c)
		c->inserted++;
	if (active)
		flow_bypassed(&st, egress, ingress);
	return 1;
}

SEC("sk_msg")
int sock_bypass_msg(struct sk_msg_md *msg)
{
	struct sock_key key = {}, peer;
	struct sock_bypass_state *st;
	struct sock_bypass_counters *c = counters();
	struct ct4_entry *egress, *ingress;
	__u32 len = msg->size;
	__u64 now;

	if (!msg->sk || !SOCK_KEY(msg, &key))
		goto stack;
	st = bpf_sk_storage_get(&sock_bypass_state, msg->sk, NULL, 0);
	if (!st)
		goto stack;
	if (st->fell_back)
		goto stack_counted;
	now = bpf_ktime_get_ns();
	ct_both(st, now, &egress, &ingress);
	if (!egress || !ingress)
		goto fall_back;
	/* A policy change since the entries were admitted: decided again here; a deny sends this message, and the
	 * socket's later ones, to the stack, whose tc programs drop it with the policy's reason and report it, as
	 * they would have dropped the segment without the bypass (docs/datapath.md, "Policy changes while a
	 * connection is open").
	 * Only the client's messages: the server's travel the flow's reply way, which tc does not re-check either. */
	if (st->is_client && (bypass_recheck(st, egress, POLICY_EGRESS) || bypass_recheck(st, ingress, POLICY_INGRESS)))
		goto fall_back;
	peer.local_ip4 = key.remote_ip4;
	peer.remote_ip4 = key.local_ip4;
	peer.local_port = key.remote_port;
	peer.remote_port = key.local_port;
	if (bpf_msg_redirect_hash(msg, &sock_bypass, &peer, BPF_F_INGRESS) != SK_PASS)
		goto fall_back;
	/* Counted as the data segment it replaces, in both endpoints' entries (tx: the client's data). */
	ct_account(egress, IPPROTO_TCP, TCPHDR_ACK, len, st->is_client, now);
	ct_account(ingress, IPPROTO_TCP, TCPHDR_ACK, len, st->is_client, now);
	if (c) {
		c->redirected_msgs++;
		c->redirected_bytes += len;
	}
	return SK_PASS;

fall_back:
	st->fell_back = 1;
	if (c)
		c->fallbacks++;
stack_counted:
	if (c)
		c->fallback_msgs++;
stack:
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
