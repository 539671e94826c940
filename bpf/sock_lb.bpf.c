// SPDX-License-Identifier: GPL-2.0
/* Socket-level load balancing: the connect-time half of the kube-proxy replacement.
 *
 * Why at the socket: a connect() to a ClusterIP is translated once, before the kernel routes or builds a
 * single packet, so the flow carries the backend's address from its first SYN and nothing on the path
 * (veth, node, wire) has to rewrite packets or keep per-packet state for it. The cost is that the
 * application must not notice: getpeername() and the source of UDP replies are translated back to the
 * frontend through lb4_sock_revnat, keyed by the socket cookie (unique for the life of the machine, never
 * reused) and the backend the socket talks to (an unconnected UDP socket may talk to several).
 *
 * Why ECONNREFUSED for a Service without backends: the client learns at once, as kube-proxy's REJECT
 * rule makes it, instead of retransmitting SYNs to an address nobody owns.
 *
 * Why leave a connection untouched when a lookup misses (a slot or backend removed while the agent
 * rewrites a Service): failing would turn a transient agent update into connect() errors; untouched,
 * the per-packet LB on the pod veth (pod_veth.bpf.c) still gets its chance.
 *
 * sessionAffinity identifies the client by its network namespace cookie: one pod is one netns, which is
 * the unit Kubernetes' ClientIP affinity means, and it needs no address (the socket may not have one yet).
 *
 * Why v6 hooks in an IPv4 load balancer: most runtimes (the JDK, Go, Node) open dual-stack AF_INET6
 * sockets and reach IPv4 addresses as IPv4-mapped ::ffff:a.b.c.d. The kernel then runs the connect6,
 * sendmsg6, recvmsg6 and getpeername6 hooks, never the v4 ones, so without the sock6_* programs such
 * clients would bypass socket LB entirely. They translate the mapped IPv4 address and leave real IPv6 alone.
 */
#include "lb_lib.h"
#include "events.h"

#ifndef ECONNREFUSED
#define ECONNREFUSED 111
#endif
#ifndef AF_INET
#define AF_INET 2
#endif

/* Tells the agent which Service a socket was sent to, and where: a pod's flows then name the Service even
 * though no packet ever carried its address. */
static __always_inline void sock_flow(__u8 type, __u8 verdict, __u8 proto, __be32 frontend, __be16 fport,
				      __be32 backend, __be16 bport)
{
	flow_service_socket(type, verdict, proto, frontend, fport, backend, bport);
}

/* Forward translation for connect() and unconnected sendmsg() of the IPv4 destination *dst:*dport
 * (rewritten in place when it is a frontend): returns the hook's verdict. */
static __always_inline int sock_xlate_fwd(struct bpf_sock_addr *ctx, __be32 *dst, __be16 *dport)
{
	__u8 proto = ctx->protocol;
	__be32 address = *dst;
	__be16 port = *dport;
	struct lb4_service *svc;
	struct lb4_backend *backend;
	__u32 backend_id = 0;
	__u64 now, netns = 0;
	__u8 affinity;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 1;
	svc = lb4_lookup_service(address, port, proto);
	if (!svc)
		return 1;
	if (svc->count == 0) {
		/* Without bpf_set_retval a 0 verdict reads as EPERM to the application. */
		bpf_set_retval(-ECONNREFUSED);
		sock_flow(FLOW_EV_DROP, FLOW_VERDICT_DROPPED, proto, address, port, address, port);
		return 0;
	}

	now = bpf_ktime_get_ns();
	affinity = svc->flags & LB_SVC_F_AFFINITY;
	if (affinity) {
		netns = bpf_get_netns_cookie(ctx);
		backend_id = lb4_affinity_backend_id(netns, 1, svc, now);
	}
	if (!backend_id)
		backend_id = lb4_random_backend_id(address, port, proto, svc);
	backend = lb4_lookup_backend(backend_id);
	if (!backend)
		return 1;

	struct lb4_sock_key key = {
		.cookie = bpf_get_socket_cookie(ctx),
		.address = backend->address,
		.port = backend->port,
	};
	struct lb4_sock_revnat rev = {
		.address = address,
		.port = port,
		.rev_nat_index = svc->rev_nat_index,
	};
	/* An LRU update does not fail for lack of room; should it fail anyway, the connection still works,
	 * only getpeername()/recvfrom() would show the backend. */
	bpf_map_update_elem(&lb4_sock_revnat, &key, &rev, BPF_ANY);
	if (affinity)
		lb4_affinity_update(netns, 1, svc, backend_id, now);

	sock_flow(FLOW_EV_SERVICE_XLATE, FLOW_VERDICT_TRANSLATED, proto, address, port, backend->address, backend->port);
	*dst = backend->address;
	*dport = backend->port;
	return 1;
}

static __always_inline int sock4_xlate_fwd(struct bpf_sock_addr *ctx)
{
	__be32 address = ctx->user_ip4;
	__be16 port = (__be16)ctx->user_port;
	int verdict = sock_xlate_fwd(ctx, &address, &port);

	ctx->user_ip4 = address;
	ctx->user_port = port;
	return verdict;
}

/* ::ffff:a.b.c.d, the form of an IPv4 address on a dual-stack socket. */
static __always_inline int sock6_is_v4_mapped(struct bpf_sock_addr *ctx)
{
	return ctx->user_ip6[0] == 0 && ctx->user_ip6[1] == 0 && ctx->user_ip6[2] == bpf_htonl(0x0000ffff);
}

static __always_inline int sock6_xlate_fwd(struct bpf_sock_addr *ctx)
{
	if (!sock6_is_v4_mapped(ctx))
		return 1;
	__be32 address = ctx->user_ip6[3];
	__be16 port = (__be16)ctx->user_port;
	int verdict = sock_xlate_fwd(ctx, &address, &port);

	ctx->user_ip6[3] = address;
	ctx->user_port = port;
	return verdict;
}

/* Reverse translation: the socket's real peer *peer:*pport (a backend) back to the frontend it was
 * reached through, in place. */
static __always_inline void sock_xlate_rev(struct bpf_sock_addr *ctx, __be32 *peer, __be16 *pport)
{
	struct lb4_sock_key key = {
		.cookie = bpf_get_socket_cookie(ctx),
		.address = *peer,
		.port = *pport,
	};
	struct lb4_sock_revnat *rev;
	struct lb4_service *svc;

	rev = bpf_map_lookup_elem(&lb4_sock_revnat, &key);
	if (!rev)
		return;
	/* The Service is gone or is now another one: stop pretending, the peer really is the backend. */
	svc = lb4_lookup_service(rev->address, rev->port, ctx->protocol);
	if (!svc || svc->rev_nat_index != rev->rev_nat_index) {
		bpf_map_delete_elem(&lb4_sock_revnat, &key);
		return;
	}
	*peer = rev->address;
	*pport = rev->port;
}

static __always_inline void sock4_xlate_rev(struct bpf_sock_addr *ctx)
{
	__be32 address = ctx->user_ip4;
	__be16 port = (__be16)ctx->user_port;

	sock_xlate_rev(ctx, &address, &port);
	ctx->user_ip4 = address;
	ctx->user_port = port;
}

static __always_inline void sock6_xlate_rev(struct bpf_sock_addr *ctx)
{
	if (!sock6_is_v4_mapped(ctx))
		return;
	__be32 address = ctx->user_ip6[3];
	__be16 port = (__be16)ctx->user_port;

	sock_xlate_rev(ctx, &address, &port);
	ctx->user_ip6[3] = address;
	ctx->user_port = port;
}

SEC("cgroup/connect4")
int sock4_connect(struct bpf_sock_addr *ctx)
{
	return sock4_xlate_fwd(ctx);
}

/* sendto()/sendmsg() with an address on an unconnected UDP socket: each datagram is balanced on its
 * own (as kube-proxy's per-datagram conntrack does for a new tuple), unless sessionAffinity pins it. */
SEC("cgroup/sendmsg4")
int sock4_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock4_xlate_fwd(ctx);
}

SEC("cgroup/recvmsg4")
int sock4_recvmsg(struct bpf_sock_addr *ctx)
{
	sock4_xlate_rev(ctx);
	return 1; /* recvmsg4 must return 1 */
}

SEC("cgroup/getpeername4")
int sock4_getpeername(struct bpf_sock_addr *ctx)
{
	sock4_xlate_rev(ctx);
	return 1;
}

SEC("cgroup/connect6")
int sock6_connect(struct bpf_sock_addr *ctx)
{
	return sock6_xlate_fwd(ctx);
}

SEC("cgroup/sendmsg6")
int sock6_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock6_xlate_fwd(ctx);
}

SEC("cgroup/recvmsg6")
int sock6_recvmsg(struct bpf_sock_addr *ctx)
{
	sock6_xlate_rev(ctx);
	return 1;
}

SEC("cgroup/getpeername6")
int sock6_getpeername(struct bpf_sock_addr *ctx)
{
	sock6_xlate_rev(ctx);
	return 1;
}

/* Nothing here is needed for correctness: cookies are never reused, so a stale lb4_sock_revnat entry
 * can never translate another socket, and the LRU ages such entries out. The one cheap thing to do is
 * to drop the entry of a connected socket (its peer is the backend, so the key is known) so that the LRU
 * does not evict live entries of long-lived sockets first. Entries of unconnected UDP sockets (one per
 * backend they sent to) cannot be named from here and are left to the LRU. */
SEC("cgroup/sock_release")
int sock4_release(struct bpf_sock *sk)
{
	struct lb4_sock_key key = {};

	if (sk->family != AF_INET || sk->dst_port == 0)
		return 1;
	key.cookie = bpf_get_socket_cookie(sk);
	key.address = sk->dst_ip4;
	key.port = sk->dst_port;
	bpf_map_delete_elem(&lb4_sock_revnat, &key);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
