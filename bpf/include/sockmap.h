/* The same-node socket bypass (sock_bypass.bpf.c): the SOCKHASH of bypassed sockets and the counters the
 * agent reads. Mirrored by dev.sluice.datapath.sockmap.SockmapStructs; tests check sizes against the
 * object's BTF. Addresses and ports in network byte order.
 *
 * sock_bypass: SOCKHASH keyed by the socket's own 4-tuple (local first); the value the kernel returns to
 *   user space is the socket cookie (8-byte value). A socket's peer is found under the reversed key.
 * sock_bypass_counters: PERCPU_ARRAY of one sock_bypass_counters, summed by the agent.
 */
#ifndef SLUICE_SOCKMAP_H
#define SLUICE_SOCKMAP_H

#include <linux/types.h>

#define SOCK_BYPASS_MAX_ENTRIES 65536

struct sock_key {
	__be32 local_ip4;
	__be32 remote_ip4;
	__be16 local_port;
	__be16 remote_port;
};

struct sock_bypass_counters {
	__u64 inserted;             /* sockets put into sock_bypass (each side of a connection counts) */
	__u64 skipped;              /* established connections between two local pods not bypassed (no CT: policy never admitted both ends, L7 proxy, hairpin) */
	__u64 redirected_msgs;      /* messages handed to the peer socket */
	__u64 redirected_bytes;
	__u64 fallback_msgs;        /* messages that took the stack (peer gone, CT entry gone, socket fell back) */
	__u64 fallbacks;            /* sockets that fell back to the stack for the rest of their life */
};

/* Per socket (BPF_MAP_TYPE_SK_STORAGE, freed with the socket): the policy CT tuple of its connection, in the
 * direction it was opened (client to server), and whether the socket has left the bypass for good. */
struct sock_bypass_state {
	__be32 client;
	__be32 server;
	__be16 client_port;
	__be16 server_port;
	__u8 is_client;             /* this socket is the connection's client */
	__u8 fell_back;             /* 1: sent through the stack once; never redirects again (ordering) */
	__u8 pad[2];
};

#endif
