/* The policy verdict, shared by every program that decides one: the pod-veth programs (pod_policy.bpf.c) for
 * new flows and for the re-check of established ones, and the socket bypass (sock_bypass.bpf.c) for the
 * re-check of a bypassed connection, so that both paths give exactly the same verdict from the same maps.
 * Needs policy_maps.h (ipcache, policy_entries, policy_revisions) and conntrack.h. */
#ifndef SLUICE_POLICY_DECIDE_H
#define SLUICE_POLICY_DECIDE_H

#include "policy_maps.h"
#include "conntrack.h"

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

/* The endpoint's current policy revision (policy.h, struct policy_revision); 0 when the agent wrote none. */
static __always_inline __u32 policy_revision_of(__u16 endpoint_id)
{
	__u32 index = endpoint_id;
	struct policy_revision *r = bpf_map_lookup_elem(&policy_revisions, &index);

	return r ? r->revision : 0;
}

/* A forward packet of a tracked flow (ct, in direction dir at endpoint ep, whose peer has identity remote and
 * whose policy port is port) under revision rev, which differs from the entry's: decided again. Allowed: the
 * entry takes the new revision and rule (so the next packets are one CT lookup again) and loses any
 * CT_F_POLICY_DENIED. Denied: the entry is marked CT_F_POLICY_DENIED and keeps its old revision, so that each
 * later forward packet is decided again until a policy allows it (a TCP retransmission then resumes the
 * connection); d says why. Returns d->reason. rev must have been read BEFORE the policy maps are (the agent
 * bumps it after writing them): a change racing this packet then leaves a revision behind, and the next
 * packet is decided again. */
static __always_inline __u32 policy_recheck(struct ct4_entry *ct, const struct endpoint_info *ep, __u8 dir, __u32 remote,
					    __u8 proto, __be16 port, __u32 rev, struct decision *d)
{
	/* Incomplete rules (the policy did not fit the maps) decide no established flow either way: it keeps its
	 * verdict, and its revision, so that it is decided again once the policy fits (pod_policy.bpf.c). */
	if (ep->flags & ENDPOINT_F_FAIL_CLOSED)
		return 0;
	policy_decide(ep, dir, remote, proto, port, d);
	if (d->reason) {
		if (!(ct->flags & CT_F_POLICY_DENIED))
			ct->flags |= CT_F_POLICY_DENIED;
		return d->reason;
	}
	ct->rule_id = d->rule_id;
	if (dir == POLICY_INGRESS)
		ct->src_identity = remote;
	else
		ct->src_identity = ep->identity;
	if (ct->flags & CT_F_POLICY_DENIED)
		ct->flags &= ~CT_F_POLICY_DENIED;
	ct->policy_revision = rev;
	return 0;
}

#endif
