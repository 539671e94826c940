/* Flow events: what the datapath tells the agent about connections, drops and translations, through one
 * BPF ring buffer per node. Mirrored by dev.sluice.datapath.flow.FlowStructs (one record + codec); tests
 * check the size against the object's BTF. Addresses and ports are in network byte order. */
#ifndef SLUICE_FLOW_H
#define SLUICE_FLOW_H

#include <linux/types.h>

/* Default size of the ring (bytes, a power of two times the page size); the agent may set another. */
#define FLOW_RING_BYTES (4 * 1024 * 1024)

/* flow_event.type */
#define FLOW_EV_POLICY_VERDICT 1    /* a new flow was allowed (its first packet), with the rule */
#define FLOW_EV_DROP 2              /* a packet was dropped, with the reason and rule */
#define FLOW_EV_TRACE 3             /* a packet of a tracked flow (aggregation permitting) */
#define FLOW_EV_CONN_END 4          /* a tracked TCP flow closed (FIN both ways, or RST), with its counters */
#define FLOW_EV_SERVICE_XLATE 5     /* a Service flow went to a backend: socket LB at connect()/sendmsg() (ifindex 0), or per packet */
#define FLOW_EV_SOCK_BYPASS 6       /* a connection between two pods of this node now bypasses the stack (sock_bypass.bpf.c; ifindex 0) */

/* flow_event.verdict: Hubble's Verdict numbers. */
#define FLOW_VERDICT_FORWARDED 1
#define FLOW_VERDICT_DROPPED 2
#define FLOW_VERDICT_TRANSLATED 7

/* flow_event.reply */
#define FLOW_REPLY_NO 0
#define FLOW_REPLY_YES 1
#define FLOW_REPLY_UNKNOWN 2

/* flow_event.direction, from the endpoint's side; the same numbers as policy.h's POLICY_INGRESS/EGRESS */
#define FLOW_DIR_INGRESS 0
#define FLOW_DIR_EGRESS 1
#define FLOW_DIR_UNKNOWN 2

/* Drop reasons beyond policy.h's, Cilium's numbers. */
#define DROP_NO_SERVICE 158         /* a Service without backends */

/* flow_config.level: how much the datapath reports, after Cilium's bpf.monitorAggregation. Every level
 * but DISABLED reports drops and new flows; the levels differ in what they say about packets of flows
 * already tracked. 0 is DISABLED so that a map nobody configured yet stays silent. */
#define FLOW_AGG_DISABLED 0         /* nothing */
#define FLOW_AGG_NONE 1             /* every packet */
#define FLOW_AGG_LOW 2              /* medium + the first reply + every packet with SYN, FIN or RST */
#define FLOW_AGG_MEDIUM 3           /* new flows, drops, and the end of each TCP flow */
#define FLOW_AGG_MAXIMUM 4          /* new flows and drops only */

struct flow_config {
	__u32 level;                /* FLOW_AGG_* */
	__u32 pad;
};

struct flow_event {
	__u64 ktime_ns;             /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cgroup_id;            /* socket LB events: the cgroup of the connecting task (its pod) */
	__be32 saddr;
	__be32 daddr;               /* after any translation: the backend */
	__be16 sport;               /* 0 when not yet bound (FLOW_EV_SERVICE_XLATE) */
	__be16 dport;
	__be32 orig_daddr;          /* FLOW_EV_SERVICE_XLATE and no-backend drops: the Service's address */
	__be16 orig_dport;
	__u8 proto;
	__u8 type;                  /* FLOW_EV_* */
	__u8 verdict;               /* FLOW_VERDICT_* */
	__u8 direction;             /* FLOW_DIR_*: the connection's direction (a reply travels against it) */
	__u8 tcp_flags;             /* TCP: the packet's flags; ICMP: its type (the field is free there) */
	__u8 reply;                 /* FLOW_REPLY_* */
	__u32 reason;               /* drop reason (policy.h, above) */
	__u32 ifindex;              /* the pod's host-side veth; 0 for socket events */
	__u32 src_identity;
	__u32 dst_identity;
	__u32 rule_id;              /* the allow or deny rule, or the default deny's attribution */
	__u32 len;                  /* the packet's length */
	__u64 packets;              /* FLOW_EV_CONN_END: both directions */
	__u64 bytes;
	/* An IPv6 packet's addresses (ip_version FLOW_IP_V6), as on the wire; saddr and daddr are 0 then. Only
	 * drops report IPv6 (the datapath decides IPv4 only: IPv6 is dropped where policy is enforced), but a
	 * drop must say who sent what to whom. Appended, so that every IPv4 field keeps its offset. */
	__u8 saddr6[16];
	__u8 daddr6[16];
	__u8 ip_version;            /* FLOW_IP_V4_OR_NONE or FLOW_IP_V6 */
	__u8 pad[7];
};

/* flow_event.ip_version */
#define FLOW_IP_V4_OR_NONE 0        /* saddr/daddr hold the IPv4 addresses, or 0 for a frame without any */
#define FLOW_IP_V6 6                /* saddr6/daddr6 hold the IPv6 addresses */

#endif
