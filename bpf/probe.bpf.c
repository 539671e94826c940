// SPDX-License-Identifier: GPL-2.0
/* Loaded by `sluice doctor` to prove that this kernel accepts the program types Sluice attaches:
 * a TC classifier (pod veth), a cgroup connect4 hook (socket LB), XDP (prefilter) and sock_ops
 * (socket bypass). Each program does nothing but let traffic through. */
#include "sluice_common.h"

SEC("tc")
int probe_tc(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

SEC("cgroup/connect4")
int probe_connect4(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("xdp")
int probe_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("sockops")
int probe_sockops(struct bpf_sock_ops *ctx)
{
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
