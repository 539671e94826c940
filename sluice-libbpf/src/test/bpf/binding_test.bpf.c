// SPDX-License-Identifier: GPL-2.0
/* Test programs for the libbpf binding: every map type the binding types, and one program per hook it
 * attaches. Each hook counts its runs so that tests can tell that real traffic went through it. */
#include "sluice_common.h"
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include "binding_test.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct test_key);
	__type(value, struct test_value);
} test_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct test_key);
	__type(value, struct test_value);
} test_lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct test_value);
} test_percpu_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} test_percpu_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct test_value);
} test_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, __u32);
} test_lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} test_sockhash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HIT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

/* config[0]: the UDP destination port (host order) whose packets the tc programs report (0: none). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

/* submit_flags[0]: the flags report() submits with (BPF_RB_NO_WAKEUP: the reader is not woken). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} submit_flags SEC(".maps");

SLUICE_BTF_ANCHOR(struct packet_event, packet_event);

static __always_inline void hit(__u32 counter)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &counter);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void report(struct __sk_buff *skb, __u8 direction)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp = (void *)ip + sizeof(*ip);

	if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return;
	__u32 zero = 0;
	__u32 *port = bpf_map_lookup_elem(&config, &zero);
	if (!port || *port == 0 || udp->dest != bpf_htons((__u16)*port))
		return;
	struct packet_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		hit(HIT_RINGBUF_LOST);
		return;
	}
	e->timestamp_ns = bpf_ktime_get_ns();
	e->ifindex = skb->ifindex;
	e->len = skb->len;
	e->saddr = ip->saddr;
	e->daddr = ip->daddr;
	e->sport = udp->source;
	e->dport = udp->dest;
	e->proto = ip->protocol;
	e->direction = direction;
	e->pad[0] = 0;
	e->pad[1] = 0;
	__u64 *flags = bpf_map_lookup_elem(&submit_flags, &zero);
	bpf_ringbuf_submit(e, flags ? *flags : 0);
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	hit(HIT_TC_INGRESS);
	report(skb, 0);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	hit(HIT_TC_EGRESS);
	report(skb, 1);
	return TC_ACT_UNSPEC;
}

/* Drops UDP packets to config[0]'s port; everything else goes on to the next program of the chain. */
SEC("tc")
int tc_drop_port(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp = (void *)ip + sizeof(*ip);
	__u32 zero = 0;
	__u32 *port = bpf_map_lookup_elem(&config, &zero);

	if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return TC_ACT_UNSPEC;
	if (port && *port && udp->dest == bpf_htons((__u16)*port))
		return TC_ACT_SHOT;
	return TC_ACT_UNSPEC;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	hit(HIT_XDP);
	return XDP_PASS;
}

SEC("cgroup/connect4")
int cg_connect4(struct bpf_sock_addr *ctx)
{
	hit(HIT_CONNECT4);
	return 1;
}

SEC("cgroup/sendmsg4")
int cg_sendmsg4(struct bpf_sock_addr *ctx)
{
	hit(HIT_SENDMSG4);
	return 1;
}

SEC("cgroup/recvmsg4")
int cg_recvmsg4(struct bpf_sock_addr *ctx)
{
	hit(HIT_RECVMSG4);
	return 1;
}

SEC("cgroup/getpeername4")
int cg_getpeername4(struct bpf_sock_addr *ctx)
{
	hit(HIT_GETPEERNAME4);
	return 1;
}

SEC("cgroup/sock_release")
int cg_sock_release(struct bpf_sock *ctx)
{
	hit(HIT_SOCK_RELEASE);
	return 1;
}

/* Puts every established active TCP socket into test_sockhash, keyed by its local port. */
SEC("sockops")
int sockops_track(struct bpf_sock_ops *skops)
{
	if (skops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		__u32 key = skops->local_port;
		hit(HIT_SOCKOPS_ESTABLISHED);
		bpf_sock_hash_update(skops, &test_sockhash, &key, BPF_ANY);
	}
	return 1;
}

SEC("sk_msg")
int sk_msg_count(struct sk_msg_md *msg)
{
	hit(HIT_SK_MSG);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
