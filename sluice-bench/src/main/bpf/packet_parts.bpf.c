// SPDX-License-Identifier: GPL-2.0
/* PacketCostBench only: the pieces a pod-veth program is made of, each alone, to price what merging the
 * LB and policy programs into one per hook could save (one parse, one clock read, one CT lookup per
 * packet). Never attached anywhere; run by BPF_PROG_TEST_RUN on an established flow's packet. */
#include "conntrack.h"

/* Stand-ins for the two CT tables, as big as the real ones (lb_maps.h, policy_maps.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct ct4_key);
	__type(value, struct ct4_lb_entry);
} part_ct_lb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CT4_MAX_ENTRIES);
	__type(key, struct ct4_tuple);
	__type(value, struct ct4_entry);
} part_ct_policy SEC(".maps");

/* Written so that the compiler cannot drop the work. */
__u64 part_sink;

static __always_inline int parse(struct __sk_buff *skb, struct ct4_tuple *t, __u8 *flags)
{
	struct iphdr ip;
	__u32 l4_off;

	if (ipv4_load(skb, &ip, &l4_off) < 0 || ipv4_is_fragment(&ip) || ip.protocol != IPPROTO_TCP)
		return -1;
	if (tcp_load_ports_flags(skb, l4_off, &t->sport, &t->dport, flags) < 0)
		return -1;
	t->saddr = ip.saddr;
	t->daddr = ip.daddr;
	t->proto = ip.protocol;
	return 0;
}

/* The parse every program starts with. */
SEC("tc")
int part_parse(struct __sk_buff *skb)
{
	struct ct4_tuple t = {};
	__u8 flags = 0;

	if (parse(skb, &t, &flags) < 0)
		return TC_ACT_SHOT;
	part_sink += t.sport + flags;
	return TC_ACT_UNSPEC;
}

/* Parse and one bpf_ktime_get_ns (each program reads the clock for its CT). */
SEC("tc")
int part_parse_ktime(struct __sk_buff *skb)
{
	struct ct4_tuple t = {};
	__u8 flags = 0;

	if (parse(skb, &t, &flags) < 0)
		return TC_ACT_SHOT;
	part_sink += bpf_ktime_get_ns() + t.sport + flags;
	return TC_ACT_UNSPEC;
}

/* Parse and one CT hit in policy's table, the entry touched as ct_account does. */
SEC("tc")
int part_parse_ct(struct __sk_buff *skb)
{
	struct ct4_tuple t = {};
	struct ct4_entry *ct;
	__u8 flags = 0;

	if (parse(skb, &t, &flags) < 0)
		return TC_ACT_SHOT;
	t.direction = POLICY_EGRESS;
	ct = bpf_map_lookup_elem(&part_ct_policy, &t);
	if (!ct)
		return TC_ACT_SHOT;
	__sync_fetch_and_add(&ct->tx_packets, 1);
	return TC_ACT_UNSPEC;
}

/* Parse and a CT hit in each table, as the chained programs do for an established Service flow. */
SEC("tc")
int part_parse_ct2(struct __sk_buff *skb)
{
	struct ct4_tuple t = {};
	struct ct4_entry *ct;
	struct ct4_lb_entry *lb;
	__u8 flags = 0;

	if (parse(skb, &t, &flags) < 0)
		return TC_ACT_SHOT;
	struct ct4_key key = ct4_lb_key(t.saddr, t.daddr, t.sport, t.dport, t.proto);
	lb = ct4_lb_lookup(&part_ct_lb, &key);
	if (!lb)
		return TC_ACT_SHOT;
	lb->last_seen_ns = 1;
	t.direction = POLICY_EGRESS;
	ct = bpf_map_lookup_elem(&part_ct_policy, &t);
	if (!ct)
		return TC_ACT_SHOT;
	__sync_fetch_and_add(&ct->tx_packets, 1);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
