/* The network-policy maps, defined once for every object that uses them. Objects loaded with the same
 * pin directory share them: libbpf reuses a pinned map of the same definition. One set per node; the
 * policy programs on every pod veth of the node read the same maps.
 *
 * Conventions beyond policy.h that the programs (pod_policy.bpf.c) and the agent rely on:
 *
 * ipcache: an LPM trie; the programs look addresses up with prefixlen 32 and take the longest prefix
 *   that covers them. An address no entry covers is IDENTITY_WORLD.
 *
 * policy_entries, ICMP: proto IPPROTO_ICMP (1), and dport holds the ICMP type in network order (as
 *   Cilium's icmps rules), so {id, 1, 0} allows every ICMP type and {id, 1, htons(8)} only echo requests.
 *
 * ct4_policy tuples:
 *   - TCP and UDP: the packet's addresses and ports;
 *   - ICMP echo request: sport = the echo identifier, dport = 0; echo reply: sport = 0, dport = the
 *     identifier, so that the reversed reply tuple is the request's;
 *   - other ICMP: both ports 0. ICMP errors (destination unreachable, time exceeded, parameter problem)
 *     whose quoted packet belongs to a tracked flow pass as related, without an entry of their own;
 *   - direction: the direction of the endpoint the entry belongs to (see policy.h), equal to
 *     ct4_entry.direction. A flow between two pods of one node has two entries, one per endpoint.
 *   An entry whose lifetime_ns has passed is treated as absent (and deleted when found as a reply
 *   candidate, or overwritten when its tuple opens a new flow); the LRU evicts the rest under pressure.
 *
 * ct4_policy and ct4_policy_new: the same entries in two LRU tables by the flow's state. A flow is
 *   created in ct4_policy_new and moved to ct4_policy once established (conntrack.h, ct_established: TCP
 *   with a reply and a packet past the SYN, any other protocol with a reply); the programs look a tuple
 *   up in ct4_policy first. So new flows, however many one pod opens or forges, only ever evict new
 *   flows: an established flow is evicted only by other established ones (docs/datapath.md, "Conntrack
 *   fairness"). An entry is in one table at a time, except for an instant while it moves.
 *
 * ct4_quota: an ARRAY indexed by endpoint_id (policy.h, struct ct4_quota): the per-endpoint bound on
 *   ct4_policy. A flow that becomes established moves to ct4_policy only while its endpoint holds fewer
 *   entries there than its limit; past it, the flow stays in ct4_policy_new (it works as well there, but
 *   competes with new flows) and is counted as refused. So an endpoint opening answered connections as fast
 *   as it can holds at most its limit of the established table, and the other endpoints' established flows
 *   keep the rest.
 *
 * policy_revisions: an ARRAY indexed by endpoint_id (policy.h, struct policy_revision), written by the agent
 *   after each change of what the endpoint's verdicts depend on, read by the policy programs and the socket
 *   bypass to re-check established flows admitted under an older revision.
 *
 * endpoints and policy_drops: in endpoint_maps.h, which pod_veth includes too (source verification).
 *
 * frag4_policy: the L4 ports of datagrams seen fragmented (policy.h, struct frag4_key), written when a
 *   first fragment passes a policy program (before its verdict: a later fragment of a dropped datagram
 *   is then judged, and dropped, as its first fragment was) and read by the later fragments. Shared by
 *   both directions and every endpoint: the same datagram has the same key and the same ports wherever
 *   it is seen after DNAT.
 */
#ifndef SLUICE_POLICY_MAPS_H
#define SLUICE_POLICY_MAPS_H

#include "endpoint_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, IPCACHE_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ipcache_key);
	__type(value, struct ipcache_value);
} ipcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, POLICY_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct policy_key);
	__type(value, struct policy_entry);
} policy_entries SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CT4_MAX_ENTRIES);
	__type(key, struct ct4_tuple);
	__type(value, struct ct4_entry);
} ct4_policy SEC(".maps");

/* Flows not yet established (see ct4_policy above): a flood of new flows churns this table only. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CT4_NEW_MAX_ENTRIES);
	__type(key, struct ct4_tuple);
	__type(value, struct ct4_entry);
} ct4_policy_new SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CT4_QUOTA_ENTRIES);
	__type(key, __u32);
	__type(value, struct ct4_quota);
} ct4_quota SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, POLICY_REVISION_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct policy_revision);
} policy_revisions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FRAG4_MAX_ENTRIES);
	__type(key, struct frag4_key);
	__type(value, struct frag4_l4);
} frag4_policy SEC(".maps");

#endif
