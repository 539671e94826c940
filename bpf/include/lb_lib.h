/* Helpers shared by the socket-level (sock_lb) and per-packet (pod_veth) load balancers: service and
 * backend lookups, backend selection, sessionAffinity and the flow hash. They only read and write the
 * maps of lb_maps.h (the contract with the agent); nothing here adds state of its own.
 *
 * Conventions beyond lb.h that both programs and the agent rely on:
 *
 * ct4_lb (the per-packet LB's connection tracking, two entries per flow) is described, and written, by
 * conntrack.h.
 *
 * lb4_maglev inner maps: BPF_MAP_TYPE_ARRAY, key __u32, value __u32 (a backend id), max_entries =
 * lb4_config[0].maglev_table_size, map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE (the kernel compares
 * map_flags with the template's, so an inner map created without them is refused by the outer map update).
 *
 * Hairpin (a pod reaching itself through a Service, per-packet LB only): both ct4_lb entries carry
 * CT4_F_HAIRPIN, and the reply entry is keyed {backend, LB_HAIRPIN_ADDR4, bport, cport, proto}: the pod
 * sees its own connection come from LB_HAIRPIN_ADDR4, so that its answer leaves the pod to be translated.
 */
#ifndef SLUICE_LB_LIB_H
#define SLUICE_LB_LIB_H

#include "lb_maps.h"
#include <linux/in.h>

/* The source a pod sees when it reaches itself through a Service (Cilium's IPv4 loopback address): with
 * its own address as the source, its answer would stay inside the pod and never be translated back. */
#define LB_HAIRPIN_ADDR4 0xa9fe2a01 /* 169.254.42.1, host order */

#define NSEC_PER_SEC 1000000000ULL

/* Slot 0 of a frontend, or NULL when {address, port, proto} is not a Service. */
static __always_inline struct lb4_service *lb4_lookup_service(__be32 address, __be16 port, __u8 proto)
{
	struct lb4_key key = {
		.address = address,
		.dport = port,
		.backend_slot = 0,
		.proto = proto,
	};

	return bpf_map_lookup_elem(&lb4_services, &key);
}

/* The backend id in slot 1..count of a frontend, chosen uniformly at random; 0 when a slot is missing
 * (the agent writes slots before slot 0, so this only happens while a Service shrinks). */
static __always_inline __u32 lb4_random_backend_id(__be32 address, __be16 port, __u8 proto,
						   const struct lb4_service *svc)
{
	struct lb4_key key = {
		.address = address,
		.dport = port,
		.proto = proto,
	};
	struct lb4_service *slot;
	__u16 count = svc->count;

	if (count == 0)
		return 0;
	key.backend_slot = (bpf_get_prandom_u32() % count) + 1;
	slot = bpf_map_lookup_elem(&lb4_services, &key);
	return slot ? slot->backend_id : 0;
}

static __always_inline struct lb4_backend *lb4_lookup_backend(__u32 backend_id)
{
	if (backend_id == 0)
		return NULL;
	return bpf_map_lookup_elem(&lb4_backends, &backend_id);
}

/* sessionAffinity: the backend this client was given for this frontend if it still exists and the
 * client used it within the Service's timeout; 0 otherwise. */
static __always_inline __u32 lb4_affinity_backend_id(__u64 client, __u8 netns_cookie, const struct lb4_service *svc,
						     __u64 now)
{
	struct lb4_affinity_key key = {
		.client = client,
		.rev_nat_index = svc->rev_nat_index,
		.netns_cookie = netns_cookie,
	};
	struct lb4_affinity *aff;

	aff = bpf_map_lookup_elem(&lb4_affinity, &key);
	if (!aff)
		return 0;
	if (now - aff->last_used_ns > (__u64)svc->affinity_timeout * NSEC_PER_SEC)
		return 0;
	if (!lb4_lookup_backend(aff->backend_id))
		return 0;
	return aff->backend_id;
}

static __always_inline void lb4_affinity_update(__u64 client, __u8 netns_cookie, const struct lb4_service *svc,
						__u32 backend_id, __u64 now)
{
	struct lb4_affinity_key key = {
		.client = client,
		.rev_nat_index = svc->rev_nat_index,
		.netns_cookie = netns_cookie,
	};
	struct lb4_affinity val = {
		.last_used_ns = now,
		.backend_id = backend_id,
	};

	bpf_map_update_elem(&lb4_affinity, &key, &val, BPF_ANY);
}

/* Bob Jenkins' lookup3 final mix, as the kernel's jhash_3words(): a non-linear hash of the flow, so
 * that the Maglev slots of neighbouring ports and addresses are independent. */
static __always_inline __u32 lb_rol32(__u32 word, unsigned int shift)
{
	return (word << shift) | (word >> ((-shift) & 31));
}

#define LB_JHASH_INITVAL 0xdeadbeef

static __always_inline __u32 lb_jhash_3words(__u32 a, __u32 b, __u32 c, __u32 initval)
{
	initval += LB_JHASH_INITVAL + (3 << 2);
	a += initval;
	b += initval;
	c += initval;
	c ^= b; c -= lb_rol32(b, 14);
	a ^= c; a -= lb_rol32(c, 11);
	b ^= a; b -= lb_rol32(a, 25);
	c ^= b; c -= lb_rol32(b, 16);
	a ^= c; a -= lb_rol32(c, 4);
	b ^= a; b -= lb_rol32(a, 14);
	c ^= b; c -= lb_rol32(b, 24);
	return c;
}

static __always_inline __u32 lb4_flow_hash(__be32 saddr, __be32 daddr, __be16 sport, __be16 dport, __u8 proto)
{
	return lb_jhash_3words(saddr, daddr, ((__u32)sport << 16) | dport, proto);
}

/* The backend id the frontend's Maglev table gives this flow hash; 0 when the table or the configured
 * size is missing (the caller then falls back to a random slot). */
static __always_inline __u32 lb4_maglev_backend_id(__u16 rev_nat_index, __u32 hash)
{
	__u32 zero = 0, idx;
	struct lb_config *cfg;
	__u32 *backend_id;
	void *table;

	cfg = bpf_map_lookup_elem(&lb4_config, &zero);
	if (!cfg || cfg->maglev_table_size == 0)
		return 0;
	table = bpf_map_lookup_elem(&lb4_maglev, &rev_nat_index);
	if (!table)
		return 0;
	idx = hash % cfg->maglev_table_size;
	backend_id = bpf_map_lookup_elem(table, &idx);
	return backend_id ? *backend_id : 0;
}

#endif
