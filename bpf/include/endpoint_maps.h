/* The endpoint maps every program on a pod veth may need, apart from the rest of policy's: which pod a
 * host-side veth belongs to (endpoints), and the drop counters (policy_drops). pod_veth includes this
 * for source verification (source.h) without taking policy's ipcache, policy entries and CT table;
 * pod_policy gets it through policy_maps.h. Objects loaded with the same pin directory share the maps.
 *
 * endpoints: written by the agent's policy subsystem (always on) for every local pod, enforced or not.
 *
 * policy_drops: LRU_PERCPU_HASH: one drop_value per possible CPU (read with typedPerCpu and summed);
 *   per CPU because it is written on the drop path, which a flood of denied packets hits hardest; LRU
 *   so that it never stops counting when full (a forgotten counter costs less than a missing one).
 */
#ifndef SLUICE_ENDPOINT_MAPS_H
#define SLUICE_ENDPOINT_MAPS_H

#include "sluice_common.h"
#include "policy.h"

#define POLICY_DROPS_MAX_ENTRIES 16384

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ENDPOINTS_MAX);
	__type(key, __u32);
	__type(value, struct endpoint_info);
} endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, POLICY_DROPS_MAX_ENTRIES);
	__type(key, struct drop_key);
	__type(value, struct drop_value);
} policy_drops SEC(".maps");

#endif
