/* The XDP prefilter: on a node's uplink (its interface towards the fabric), drops IPv4 packets whose
 * source lies in a blocked CIDR before the stack allocates anything for them, counts each drop under the
 * CIDR that matched (per CPU), and reports it as a flow event (DROP_PREFILTER) when reporting is on.
 * Everything else passes (XDP_PASS), IPv6 and ARP included. After Cilium's bpf_xdp.c (CIDR4 filter).
 *
 * prefilter_v4: LPM_TRIE of prefilter_key -> prefilter_key (the matched CIDR), written by the agent
 *   (values) and by `sluice prefilter add|delete` (pinned with the node's other maps).
 * prefilter_drops: LRU_PERCPU_HASH of prefilter_key -> drop_value, per CPU: written on the drop path,
 *   which a flood hits hardest; LRU so that it never stops counting.
 */
#include "sluice_common.h"
#include "events.h"
#include "prefilter.h"
#include "parse.h"

#include <linux/if_ether.h>
#include <linux/ip.h>

#define ETH_P_8021Q_BE bpf_htons(0x8100)

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PREFILTER_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct prefilter_key);
	__type(value, struct prefilter_key);
} prefilter_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, PREFILTER_MAX_ENTRIES);
	__type(key, struct prefilter_key);
	__type(value, struct drop_value);
} prefilter_drops SEC(".maps");

/* As events.h's drop_count, keyed by the CIDR. Per CPU: this CPU's slot is ours alone, no atomics needed. */
static __always_inline void prefilter_count(const struct prefilter_key *cidr, __u32 len)
{
	struct prefilter_key key = *cidr;
	struct drop_value first = {
		.packets = 1,
		.bytes = len,
	};
	struct drop_value *value = bpf_map_lookup_elem(&prefilter_drops, &key);

	if (!value && bpf_map_update_elem(&prefilter_drops, &key, &first, BPF_NOEXIST) == 0)
		return;
	if (!value)
		value = bpf_map_lookup_elem(&prefilter_drops, &key); /* created meanwhile on another CPU */
	if (value) {
		value->packets += 1;
		value->bytes += len;
	}
}

/* The drop as a flow event, with the ports and TCP flags of a packet that carries them (not a later
 * fragment), so that `sluice observe` shows what was dropped (a SYN to port 7000) and its port filters
 * match prefilter drops as they match the other drops. Only on the drop path: a passed packet pays nothing. */
static __always_inline void prefilter_report(struct xdp_md *ctx, const struct iphdr *ip, __u32 l3_off, __u32 len)
{
	struct flow_event *ev;

	if (flow_level() == FLOW_AGG_DISABLED)
		return;
	ev = flow_reserve(FLOW_EV_DROP, FLOW_VERDICT_DROPPED);
	if (!ev)
		return;
	ev->saddr = ip->saddr;
	ev->daddr = ip->daddr;
	ev->proto = ip->protocol;
	if (ipv4_hdr_ok(ip) && !ipv4_is_later_fragment(ip) &&
	    (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP || ip->protocol == IPPROTO_SCTP)) {
		__u32 l4_off = l3_off + ip->ihl * 4;
		__be16 ports[2];
		__u8 flags;

		/* bpf_xdp_load_bytes: the IHL makes the offset variable, and a failed load (a truncated
		 * header) just leaves the fields 0. */
		if (bpf_xdp_load_bytes(ctx, l4_off, ports, sizeof(ports)) == 0) {
			ev->sport = ports[0];
			ev->dport = ports[1];
		}
		if (ip->protocol == IPPROTO_TCP && bpf_xdp_load_bytes(ctx, l4_off + TCP_FLAGS_OFF, &flags, 1) == 0)
			ev->tcp_flags = flags;
	}
	ev->direction = FLOW_DIR_INGRESS;
	ev->reply = FLOW_REPLY_UNKNOWN;
	ev->reason = DROP_PREFILTER;
	ev->ifindex = ctx->ingress_ifindex;
	ev->len = len;
	flow_submit(ev);
}

SEC("xdp")
int xdp_prefilter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__be16 proto;
	__u32 off = sizeof(*eth);
	struct prefilter_key key = { .prefixlen = 32 };
	struct prefilter_key *cidr;
	__u32 len;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	proto = eth->h_proto;
	if (proto == ETH_P_8021Q_BE) {
		__be16 *inner = (void *)(eth + 1) + 2;

		if ((void *)(inner + 1) > data_end)
			return XDP_PASS;
		proto = *inner;
		off += 4;
	}
	if (proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = data + off;
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	key.addr = ip->saddr;
	cidr = bpf_map_lookup_elem(&prefilter_v4, &key);
	if (!cidr)
		return XDP_PASS;
	len = data_end - data;
	prefilter_count(cidr, len);
	prefilter_report(ctx, ip, off, len);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
