/* Service load balancing: the maps the agent writes and the socket-LB and per-packet programs read.
 * Each struct here is mirrored by exactly one Java record + codec in dev.sluice.datapath.lb; the tests
 * check their sizes against this object's BTF. Addresses and ports are in network byte order. */
#ifndef SLUICE_LB_H
#define SLUICE_LB_H

#include <linux/types.h>

#define LB_MAX_SERVICES 65536       /* frontends (slot 0 entries) */
#define LB_MAX_BACKENDS 65536
#define LB_MAX_SLOTS (LB_MAX_SERVICES * 4)

/* lb4_service.flags */
#define LB_SVC_F_AFFINITY 0x1       /* sessionAffinity: ClientIP */

/* One frontend and its backend slots. Slot 0 is the service (count = number of backends); slots 1..count
 * each name one backend. The agent writes slots before slot 0, so a reader never sees a count whose
 * slots are missing. */
struct lb4_key {
	__be32 address;             /* ClusterIP */
	__be16 dport;               /* Service port */
	__u16 backend_slot;         /* 0: the service; 1..count: a backend */
	__u8 proto;                 /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 scope;                 /* reserved, 0 */
	__u8 pad[2];
};

struct lb4_service {
	__u32 backend_id;           /* slots > 0: the backend */
	__u16 count;                /* slot 0: backends in slots 1..count (0: reject, ECONNREFUSED) */
	__u16 rev_nat_index;        /* the frontend's id, also the key of lb4_reverse_nat and lb4_maglev */
	__u8 flags;                 /* LB_SVC_F_* */
	__u8 pad[3];
	__u32 affinity_timeout;     /* seconds, with LB_SVC_F_AFFINITY */
};

struct lb4_backend {
	__be32 address;
	__be16 port;
	__u8 proto;
	__u8 flags;                 /* reserved, 0 */
};

/* The frontend a translated connection answers as. */
struct lb4_reverse_nat {
	__be32 address;
	__be16 port;
	__u16 pad;
};

/* sessionAffinity: the backend a client was given, per frontend. The client is the netns cookie at the
 * socket hooks (a pod is one netns) and the source address per packet. */
struct lb4_affinity_key {
	__u64 client;
	__u16 rev_nat_index;
	__u8 netns_cookie;          /* 1: client is a netns cookie; 0: an IPv4 address */
	__u8 pad[5];
};

struct lb4_affinity {
	__u64 last_used_ns;         /* bpf_ktime_get_ns() */
	__u32 backend_id;
	__u32 pad;
};

/* Socket LB: the frontend behind a socket's real peer, for getpeername() and the source of UDP replies. */
struct lb4_sock_key {
	__u64 cookie;               /* bpf_get_socket_cookie() */
	__be32 address;             /* the backend */
	__be16 port;
	__u16 pad;
};

struct lb4_sock_revnat {
	__be32 address;             /* the frontend */
	__be16 port;
	__u16 rev_nat_index;
};

/* Global settings, lb4_config[0]. */
struct lb_config {
	__u32 maglev_table_size;    /* M: entries of every inner lb4_maglev table (a prime) */
	__u32 flags;                /* reserved */
};

/* Per-packet LB (TC): one connection-tracking entry per flow, keyed by the original tuple as the client
 * sent it (to the frontend). Replies are matched through the reverse key the entry records.
 * (pod_veth.bpf.c makes that reverse key a second entry, keyed by the reply tuple and marked with
 * CT4_F_REPLY in flags, so that a reply is one lookup: see the convention in conntrack.h.) */
struct ct4_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct ct4_lb_entry {
	__u64 last_seen_ns;
	__u32 backend_id;
	__be32 backend_address;
	__be16 backend_port;
	__u16 rev_nat_index;
	__be32 frontend_address;
	__be16 frontend_port;
	__u8 flags;                 /* CT4_F_REPLY, CT4_F_HAIRPIN (conntrack.h) */
	__u8 pad;
	__u32 reserved;             /* keeps the size explicit: 32 */
};

#endif
