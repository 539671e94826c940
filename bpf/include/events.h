/* Reporting from the datapath: flow events into the node's ring buffer (flow_maps.h), the Service events
 * both load balancers send, and per-CPU drop counters. Every program that reports includes this, so that
 * an event is reserved, stamped and submitted the same way everywhere.
 *
 * Why reserve/fill/submit and not bpf_ringbuf_output of a stack copy: the event is written once, in the
 * ring, and a full ring costs one failed reservation instead of a 96-byte copy that goes nowhere.
 */
#ifndef SLUICE_EVENTS_H
#define SLUICE_EVENTS_H

#include "flow_maps.h"
#include "policy.h"

static __always_inline __u32 flow_level(void)
{
	__u32 zero = 0;
	struct flow_config *config = bpf_map_lookup_elem(&flow_config, &zero);

	return config ? config->level : FLOW_AGG_DISABLED;
}

/* A zeroed event in the ring, stamped with the time, or NULL (counted as lost) when the ring is full.
 * The caller fills it and calls flow_submit. */
static __always_inline struct flow_event *flow_reserve(__u8 type, __u8 verdict)
{
	struct flow_event *ev = bpf_ringbuf_reserve(&flow_events, sizeof(*ev), 0);

	if (!ev) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&flow_lost, &zero);

		if (lost)
			*lost += 1; /* per CPU: no atomics needed */
		return NULL;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ktime_ns = bpf_ktime_get_ns();
	ev->type = type;
	ev->verdict = verdict;
	return ev;
}

/* Submits a reserved event without waking the agent: a wake-up per event cost each new connection about
 * 19 us at p50 (a context switch on the reader's side, measured by FlowBench), so the agent reads the ring
 * on a timer instead. The event that takes the ring past a quarter full wakes the reader at once, so that
 * a burst is drained before it fills the ring; only the events at that crossing pay for a wake-up (a
 * wake-up for every event past it made each cost ~4 us more while the reader was behind: during a flood,
 * when the datapath can least afford it). Crossings missed under concurrency are caught by the timer. */
static __always_inline void flow_submit(struct flow_event *ev)
{
	__u64 used = bpf_ringbuf_query(&flow_events, BPF_RB_AVAIL_DATA);
	__u64 mark = bpf_ringbuf_query(&flow_events, BPF_RB_RING_SIZE) / 4;
	__u64 window = 4 * (sizeof(*ev) + 8); /* a few records, each with its 8-byte header */

	bpf_ringbuf_submit(ev, used >= mark && used < mark + window ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* An event about a Service flow's first packet or socket: translated to a backend, or refused for want of
 * one (DROP_NO_SERVICE). Returned unsubmitted (NULL when reporting is off or the ring is full) for the
 * caller to say where it saw it (the socket's cgroup, or the packet's source and device). */
static __always_inline struct flow_event *flow_service(__u8 type, __u8 verdict, __u8 proto, __be32 frontend, __be16 fport,
						      __be32 backend, __be16 bport)
{
	struct flow_event *ev;

	if (flow_level() == FLOW_AGG_DISABLED)
		return NULL;
	ev = flow_reserve(type, verdict);
	if (!ev)
		return NULL;
	ev->orig_daddr = frontend;
	ev->orig_dport = fport;
	ev->daddr = backend;
	ev->dport = bport;
	ev->proto = proto;
	ev->direction = FLOW_DIR_EGRESS;
	ev->reply = FLOW_REPLY_NO;
	ev->reason = verdict == FLOW_VERDICT_DROPPED ? DROP_NO_SERVICE : 0;
	return ev;
}

/* A Service event seen on a packet (per-packet LB): the packet's source and device. */
static __always_inline void flow_service_packet(const struct __sk_buff *skb, __u8 type, __u8 verdict, __u8 proto,
						__be32 saddr, __be16 sport, __be32 frontend, __be16 fport,
						__be32 backend, __be16 bport)
{
	struct flow_event *ev = flow_service(type, verdict, proto, frontend, fport, backend, bport);

	if (!ev)
		return;
	ev->saddr = saddr;
	ev->sport = sport;
	ev->ifindex = skb->ifindex;
	ev->len = skb->len;
	flow_submit(ev);
}

/* A Service event seen on a socket (socket LB): the source is the connecting task's cgroup (its pod); the
 * source port is not bound yet at connect(). Only for programs with a current task (cgroup hooks). */
static __always_inline void flow_service_socket(__u8 type, __u8 verdict, __u8 proto, __be32 frontend, __be16 fport,
						__be32 backend, __be16 bport)
{
	struct flow_event *ev = flow_service(type, verdict, proto, frontend, fport, backend, bport);

	if (!ev)
		return;
	ev->cgroup_id = bpf_get_current_cgroup_id();
	flow_submit(ev);
}

/* Counts a dropped packet of len bytes under key in a per-CPU counter map (LRU_PERCPU_HASH of
 * drop_key -> drop_value, e.g. policy_drops). Per CPU: this CPU's slot is ours alone, no atomics needed. */
static __always_inline void drop_count(void *map, const struct drop_key *key, __u32 len)
{
	struct drop_value first = {
		.packets = 1,
		.bytes = len,
	};
	struct drop_value *value = bpf_map_lookup_elem(map, key);

	if (!value && bpf_map_update_elem(map, key, &first, BPF_NOEXIST) == 0)
		return;
	if (!value)
		value = bpf_map_lookup_elem(map, key); /* created meanwhile on another CPU */
	if (value) {
		value->packets += 1;
		value->bytes += len;
	}
}

#endif
