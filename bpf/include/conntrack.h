/* Connection tracking: lookups and creation for the node's two CT tables, and the TCP state and lifetime
 * rules of policy's. docs/datapath.md says why there are two tables and not one.
 *
 *   ct4_lb (lb.h, lb_maps.h): the per-packet LB's. Two entries per translated flow, one per direction,
 *     each holding the NAT to apply: see "ct4_lb" below.
 *   ct4_policy (policy.h, policy_maps.h): policy's. One entry per flow and endpoint, keyed by the opening
 *     tuple as the endpoint's veth sees it (after DNAT) and the endpoint's direction, with packet counters,
 *     TCP state and a lifetime.
 *
 * Every function takes its table as a map pointer (as Cilium's ct_lookup4 does) instead of naming the
 * map: an object only defines the maps of the headers it includes (lb_maps.h, policy_maps.h), and this
 * header must not give pod_policy the LB's maps or pod_veth policy's. Inlined, the pointer is the map's
 * address again, and the verifier sees the same code as with the name.
 *
 * ct4_lb holds TWO entries per translated flow, so that both directions are one hash lookup:
 *   - the original entry, keyed by the tuple the client sent {client, frontend, cport, fport, proto}:
 *       backend_id, backend_address/backend_port = the backend chosen (the DNAT target),
 *       frontend_address/frontend_port = the frontend, flags = 0;
 *   - the reply entry, keyed by the tuple the backend answers with {backend, client, bport, cport, proto}:
 *       backend_id = the same backend, backend_address/backend_port = the CLIENT (the far side of the
 *       reply), frontend_address/frontend_port = the frontend the reply must appear to come from (the
 *       SNAT source), flags = CT4_F_REPLY.
 *   The flag keeps the directions apart where a pod is both a backend and a client on the same node
 *   (the maps are shared by every pod veth of a node): from_pod only follows original entries, to_pod
 *   only reply entries. Both carry rev_nat_index and last_seen_ns; the agent may age out a pair by
 *   last_seen_ns (the LRU does it anyway under pressure).
 *   Hairpin (a pod reaching itself through a Service): both entries carry CT4_F_HAIRPIN, and the reply
 *   entry is keyed {backend, LB_HAIRPIN_ADDR4 (lb_lib.h), bport, cport, proto}.
 */
#ifndef SLUICE_CONNTRACK_H
#define SLUICE_CONNTRACK_H

#include "parse.h"
#include "lb.h"
#include "policy.h"

/* ct4_lb_entry.flags */
#define CT4_F_REPLY 0x1
#define CT4_F_HAIRPIN 0x2

/* ---- ct4_lb: the per-packet LB's table ---- */

static __always_inline struct ct4_key ct4_lb_key(__be32 saddr, __be32 daddr, __be16 sport, __be16 dport, __u8 proto)
{
	struct ct4_key key = {
		.saddr = saddr,
		.daddr = daddr,
		.sport = sport,
		.dport = dport,
		.proto = proto,
	};

	return key;
}

/* The entry of a packet's tuple: an original entry (from the client) or a reply entry (from the backend);
 * the caller checks CT4_F_REPLY for the direction it handles. */
static __always_inline struct ct4_lb_entry *ct4_lb_lookup(void *map, const struct ct4_key *key)
{
	return bpf_map_lookup_elem(map, key);
}

/* Records a translated flow: the reply entry first, so that a reply can never arrive to find only the
 * original. Returns -1 when either could not be written: without both, the reply could not be translated
 * back, so the caller drops the packet and lets the client retry. */
static __always_inline int ct4_lb_create(void *map, const struct ct4_key *key, const struct ct4_lb_entry *original,
					 const struct ct4_key *reply_key, const struct ct4_lb_entry *reply)
{
	if (bpf_map_update_elem(map, reply_key, reply, BPF_ANY) < 0)
		return -1;
	if (bpf_map_update_elem(map, key, original, BPF_ANY) < 0)
		return -1;
	return 0;
}

/* ---- ct4_policy: policy's table ---- */

#define CT_F_CLOSING (CT_F_RX_CLOSING | CT_F_TX_CLOSING)

static __always_inline __u8 policy_dir_other(__u8 direction)
{
	return direction == POLICY_INGRESS ? POLICY_EGRESS : POLICY_INGRESS;
}

/* The tuple of the other way of the same flow, keyed for the given direction. */
static __always_inline void ct4_tuple_reverse(struct ct4_tuple *out, const struct ct4_tuple *in, __u8 direction)
{
	out->saddr = in->daddr;
	out->daddr = in->saddr;
	out->sport = in->dport;
	out->dport = in->sport;
	out->proto = in->proto;
	out->direction = direction;
}

/* The tuple ports of an ICMP message (policy_maps.h): echo request {id, 0}, echo reply {0, id}, others
 * {0, 0}, so that the reversed reply tuple is the request's. */
static __always_inline void ct4_icmp_ports(struct ct4_tuple *t, __u8 type, __be16 id)
{
	t->sport = type == ICMP_ECHO ? id : 0;
	t->dport = type == ICMP_ECHOREPLY ? id : 0;
}

/* A TCP flow is established, and kept for hours, only once both directions have carried a packet past
 * the SYN. A flow first seen mid-stream (a late FIN or ACK after its entry was collected, a connection
 * older than the program) keeps the short lifetime until then, so stray packets cannot leave entries
 * behind for hours. */
static __always_inline __u64 ct_lifetime(__u8 proto, __u16 flags, int replied)
{
	if (proto != IPPROTO_TCP)
		return CT_LIFETIME_NONTCP_NS;
	if ((flags & CT_F_CLOSING) == CT_F_CLOSING)
		return CT_LIFETIME_CLOSE_NS;
	if ((flags & CT_F_SEEN_NON_SYN) && replied)
		return CT_LIFETIME_TCP_NS;
	return CT_LIFETIME_SYN_NS;
}

/* The CT flags after a TCP packet (tx: of the opening direction, else a reply). FIN closes its sender's
 * direction, RST both; the lifetime drops to CT_LIFETIME_CLOSE_NS once both are closing (Cilium's
 * rule: a half-closed connection may still carry data for long). */
static __always_inline __u16 tcp_flags_after(__u16 flags, __u8 tcp_flags, int tx)
{
	if (!(tcp_flags & TCPHDR_SYN))
		flags |= CT_F_SEEN_NON_SYN;
	if (tcp_flags & TCPHDR_RST)
		flags |= CT_F_CLOSING;
	else if (tcp_flags & TCPHDR_FIN)
		flags |= tx ? CT_F_TX_CLOSING : CT_F_RX_CLOSING;
	return flags;
}

/* Counts a packet of proto (with tcp_flags, len bytes) in its entry; returns 1 when it closed the flow
 * (the last FIN, or a RST). */
static __always_inline int ct_account(struct ct4_entry *ct, __u8 proto, __u8 tcp_flags, __u32 len, int tx, __u64 now)
{
	__u16 flags = ct->flags;
	int closed = 0;

	if (tx) {
		__sync_fetch_and_add(&ct->tx_packets, 1);
		__sync_fetch_and_add(&ct->tx_bytes, len);
	} else {
		__sync_fetch_and_add(&ct->rx_packets, 1);
		__sync_fetch_and_add(&ct->rx_bytes, len);
	}
	if (proto == IPPROTO_TCP) {
		flags = tcp_flags_after(flags, tcp_flags, tx);
		if (flags != ct->flags) {
			closed = (flags & CT_F_CLOSING) == CT_F_CLOSING && (ct->flags & CT_F_CLOSING) != CT_F_CLOSING;
			ct->flags = flags;
		}
	}
	ct->lifetime_ns = now + ct_lifetime(proto, flags, ct->rx_packets > 0);
	return closed;
}

/* A live entry for key, or NULL; an expired one is deleted when delete_expired (else left to be
 * overwritten by the caller). */
static __always_inline struct ct4_entry *ct_lookup(void *map, struct ct4_tuple *key, __u64 now, int delete_expired)
{
	struct ct4_entry *ct = bpf_map_lookup_elem(map, key);

	if (!ct)
		return NULL;
	if (ct->lifetime_ns > now)
		return ct;
	if (delete_expired)
		bpf_map_delete_elem(map, key);
	return NULL;
}

/* A live entry for key in either of policy's tables (policy_maps.h): the established one first, where
 * most packets find theirs, then the new one (*is_new set). */
static __always_inline struct ct4_entry *ct_lookup2(void *established, void *fresh, struct ct4_tuple *key, __u64 now,
						    int delete_expired, int *is_new)
{
	struct ct4_entry *ct = ct_lookup(established, key, now, delete_expired);

	*is_new = 0;
	if (ct)
		return ct;
	ct = ct_lookup(fresh, key, now, delete_expired);
	*is_new = ct != NULL;
	return ct;
}

/* A flow is established once it has a reply and, for TCP, a packet past the SYN, and is not closed both
 * ways: the condition that gives a TCP flow its long lifetime (ct_lifetime). So a connection refused (SYN,
 * RST) or reset before its handshake ended never leaves the new table. */
static __always_inline int ct_established(const struct ct4_entry *ct, __u8 proto)
{
	if (ct->rx_packets == 0)
		return 0;
	return proto != IPPROTO_TCP || ((ct->flags & CT_F_SEEN_NON_SYN) && (ct->flags & CT_F_CLOSING) != CT_F_CLOSING);
}

/* Moves an entry that just became established from the new table to the established one: 0 when it
 * moved. Best effort: when the copy cannot be written the entry stays where it is, and works as well there. */
static __always_inline int ct_promote(void *established, void *fresh, const struct ct4_tuple *key, const struct ct4_entry *ct)
{
	struct ct4_entry copy = *ct;

	if (bpf_map_update_elem(established, key, &copy, BPF_ANY) < 0)
		return -1;
	bpf_map_delete_elem(fresh, key);
	return 0;
}

/* ct_promote within the entry's endpoint's quota (quota: ct4_quota): an endpoint at its limit keeps its
 * flow in the new table, flagged CT_F_OVER_QUOTA and counted once as refused; it is tried again on its
 * later packets, so it moves once the agent's recount finds room. Costs one array lookup, only for a
 * packet that finds its flow established in the new table. */
static __always_inline void ct_promote_quota(void *established, void *fresh, void *quota, const struct ct4_tuple *key,
					     struct ct4_entry *ct)
{
	__u32 index = ct->endpoint_id;
	struct ct4_quota *q = bpf_map_lookup_elem(quota, &index);

	if (q) {
		__u32 limit = q->limit ? q->limit : CT4_ENDPOINT_QUOTA;

		if (q->established >= limit) {
			if (!(ct->flags & CT_F_OVER_QUOTA)) {
				ct->flags |= CT_F_OVER_QUOTA;
				__sync_fetch_and_add(&q->refused, 1);
			}
			return;
		}
	}
	if (ct_promote(established, fresh, key, ct) == 0 && q)
		__sync_fetch_and_add(&q->established, 1);
}

/* An ICMP error at this endpoint (direction dir) quotes a packet (inner) that went the other way: it is
 * related when that packet opened a flow in the other direction, or answered one opened in this one. */
static __always_inline int ct_related(void *established, void *fresh, const struct ct4_tuple *inner, __u8 dir, __u64 now)
{
	struct ct4_tuple key = *inner;
	int is_new;

	key.direction = policy_dir_other(dir);
	if (ct_lookup2(established, fresh, &key, now, 0, &is_new))
		return 1;
	ct4_tuple_reverse(&key, inner, dir);
	return ct_lookup2(established, fresh, &key, now, 0, &is_new) != NULL;
}

/* A new flow admitted with entry. Without the entry the replies may be dropped by the other side's
 * policy; the flow itself was allowed, so the caller passes it anyway and the peer's retransmission tries
 * again: the result is only informative. */
static __always_inline int ct_create(void *map, const struct ct4_tuple *key, const struct ct4_entry *entry)
{
	return bpf_map_update_elem(map, key, entry, BPF_ANY);
}

#endif
