// SPDX-License-Identifier: GPL-2.0
/* Compiles, but the verifier must refuse it: a hash map's value is used without checking it for NULL.
 * (A hash, because recent verifiers prove array lookups with constant in-range keys non-NULL.) */
#include "sluice_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counter SEC(".maps");

SEC("tc")
int unchecked_lookup(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *value = bpf_map_lookup_elem(&counter, &key);
	*value += 1; /* no NULL check: R0 invalid mem access 'map_value_or_null' */
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
