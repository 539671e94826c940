/* The flow-event maps, one set per node, shared by every object that reports (pinned together with the
 * other maps of the node). The functions that write events are in events.h.
 *
 * flow_events: the ring buffer the agent reads. A full ring never blocks or slows a program: the event
 *   is not written and flow_lost counts it (per CPU, summed by the agent).
 * flow_config: one entry, written by the agent: the aggregation level.
 */
#ifndef SLUICE_FLOW_MAPS_H
#define SLUICE_FLOW_MAPS_H

#include "sluice_common.h"
#include "flow.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FLOW_RING_BYTES);
} flow_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} flow_lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_config);
} flow_config SEC(".maps");

SLUICE_BTF_ANCHOR(struct flow_event, flow_event);

#endif
