/* Identity-based network policy and connection tracking: the maps the agent writes and the pod-veth
 * policy programs read. Each struct is mirrored by one Java record + codec in
 * dev.sluice.datapath.policy.PolicyStructs; tests check sizes against the object's BTF. Addresses and
 * ports are in network byte order. */
#ifndef SLUICE_POLICY_H
#define SLUICE_POLICY_H

#include <linux/types.h>

#define POLICY_MAX_ENTRIES 65536
#define FRAG4_MAX_ENTRIES 8192
#define IPCACHE_MAX_ENTRIES 65536
#define ENDPOINTS_MAX 4096
#define CT4_MAX_ENTRIES 262144
#define CT4_NEW_MAX_ENTRIES 65536
/* How many ct4_policy (established) entries one endpoint's flows may hold, unless the agent sets another
 * limit in its ct4_quota entry: a quarter of the table, so that one endpoint opening answered connections
 * as fast as it can leaves three quarters to the others (docs/datapath.md, "Conntrack fairness"). */
#define CT4_ENDPOINT_QUOTA 65536     /* CT4_MAX_ENTRIES / 4 */
/* ct4_quota is indexed by endpoint_id, a __u16. */
#define CT4_QUOTA_ENTRIES 65536

/* Reserved identities (Cilium's numbers). */
#define IDENTITY_UNKNOWN 0
#define IDENTITY_HOST 1
#define IDENTITY_WORLD 2

/* Drop reasons, as Cilium numbers them (pkg/monitor/api/drop.go). */
#define DROP_INVALID_SMAC 130       /* a pod sent a frame from a MAC that is not its own */
#define DROP_INVALID_SIP 132        /* a pod sent a packet from an address that is not its own */
#define DROP_POLICY 133             /* no rule allows it (default deny) */
#define DROP_INVALID 134            /* a malformed IPv4 header, or an L4 header cut short */
#define DROP_UNKNOWN_L3 139         /* not IPv4 (IPv6 included) on an endpoint with enforcement */
#define DROP_FRAG_NOT_FOUND 175     /* a later fragment whose first fragment was never seen */
#define DROP_POLICY_DENY 181        /* a deny rule matched */

/* Directions, as seen from the local endpoint. */
#define POLICY_INGRESS 0
#define POLICY_EGRESS 1

/* ipcache: where an address belongs. Pod /32s get their pod's identity, CIDRs used by policy a CIDR
 * identity, node addresses remote-node/host; anything else is world. */
struct ipcache_key {
	__u32 prefixlen;            /* LPM trie: 32 for a pod */
	__be32 address;
};

struct ipcache_value {
	__u32 identity;
	__u32 flags;                /* reserved */
};

/* endpoints, keyed by the ifindex of the pod's host-side veth (in the node's namespace). */
struct endpoint_info {
	__u32 identity;
	__u16 endpoint_id;          /* the endpoint's key in policy_entries */
	__u8 enforce_ingress;       /* 1: default deny on ingress (some policy selects it) */
	__u8 enforce_egress;
	__u32 default_deny_ingress_rule;  /* attribution of a default-deny drop: the agent's rule id (0: none) */
	__u32 default_deny_egress_rule;
	__be32 address;             /* the pod's IPv4 */
	__u32 flags;                /* ENDPOINT_F_* */
	__u8 mac[6];                /* the pod's MAC (its end of the veth); all zero: unknown, not checked */
	__u16 pad;
};

#define ENDPOINT_F_FAIL_CLOSED 0x1  /* its policy did not fit the map: everything new is dropped */

/* One allow or deny, per endpoint, direction, peer identity, protocol and port. 0 in remote_identity,
 * proto or dport is a wildcard. Port ranges are expanded by the agent. The datapath looks up, most
 * specific first: {id,proto,port} {id,proto,0} {id,0,0} {0,proto,port} {0,proto,0} {0,0,0}; a deny
 * among the matches wins over any allow (Cilium's semantics). proto 0 is a wildcard only with dport 0:
 * {proto 0, port N} is never looked up, so the agent writes protocol ANY with a port as one entry per
 * protocol (TCP, UDP, SCTP). {id,0,0} is the any-protocol entry: a rule without toPorts (L3 only), the
 * only kind that admits a protocol without ports (ICMP, GRE, IP protocol 253 ...). Every IPv4 protocol
 * is looked up: one without ports is looked up with dport 0 (ICMP: its type, policy_maps.h). */
struct policy_key {
	__u32 remote_identity;
	__u16 endpoint_id;
	__u8 direction;             /* POLICY_INGRESS / POLICY_EGRESS */
	__u8 proto;                 /* an IP protocol number, 0: any */
	__be16 dport;               /* 0: any port */
	__u16 pad;
};

struct policy_entry {
	__u8 deny;                  /* 1: a deny rule */
	__u8 pad[3];
	__u32 rule_id;              /* the agent's id for the rule (policy + path), for attribution */
};

/* Connection tracking for policy: one entry per flow and endpoint, keyed by the tuple of the packet that
 * opened it (as seen on the endpoint's veth, after any per-packet DNAT) and the direction it was opened
 * in, from that endpoint's side. A packet whose reversed tuple has an entry of the other direction is a
 * reply and always passes. The direction is part of the key because the map is shared by every endpoint
 * of a node: a flow between two local pods is the client's EGRESS entry and the server's INGRESS entry,
 * and with the tuple alone the client's entry would let the flow past the server's ingress policy. */
struct ct4_tuple {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 direction;             /* POLICY_INGRESS / POLICY_EGRESS, as ct4_entry.direction */
	__u8 pad[2];
};

struct ct4_entry {
	__u64 lifetime_ns;          /* expires at this bpf_ktime_get_ns() value */
	__u64 rx_packets;           /* replies */
	__u64 rx_bytes;
	__u64 tx_packets;           /* the opening direction */
	__u64 tx_bytes;
	__u32 src_identity;         /* who opened it */
	__u16 flags;                /* CT_F_* */
	__u8 direction;             /* POLICY_INGRESS: opened towards the endpoint; POLICY_EGRESS: by it */
	__u8 pad;
	__u32 rule_id;              /* the allow rule that admitted it (0: no enforcement) */
	__u16 endpoint_id;          /* the endpoint it belongs to: whose ct4_quota it counts against */
	__u16 pad2;
	__u32 policy_revision;      /* the endpoint's policy_revision when its policy last admitted the flow */
	__u32 pad3;
};

/* ct4_entry.flags, Cilium's names; OVER_QUOTA is Sluice's */
#define CT_F_RX_CLOSING 0x1
#define CT_F_TX_CLOSING 0x2
#define CT_F_SEEN_NON_SYN 0x10
#define CT_F_OVER_QUOTA 0x20        /* established while its endpoint was at its limit: kept in ct4_policy_new */
#define CT_F_POLICY_DENIED 0x40     /* re-checked after a policy change and denied: its forward packets are dropped */

/* Per endpoint (an ARRAY indexed by endpoint_id): the revision of everything its verdicts depend on (its
 * policy entries, its endpoint_info, the ipcache), bumped by the agent after it wrote a change that may
 * change a verdict of the endpoint's flows. A CT entry keeps the revision under which it was last admitted
 * (ct4_entry.policy_revision); a forward packet of a tracked flow is decided again only when they differ
 * (pod_policy.bpf.c, "Why the re-check"). Revision 0 (the agent never wrote one) is never re-checked. */
struct policy_revision {
	__u32 revision;
	__u32 ifindex;              /* the endpoint's key in endpoints: the socket bypass knows an endpoint by its id only */
};
#define POLICY_REVISION_MAX_ENTRIES 65536   /* endpoint_id is a __u16 */

/* Per endpoint (indexed by endpoint_id): how many ct4_policy entries its flows hold, and its limit.
 * established is counted up by the datapath as it promotes a flow and recounted by the agent from the table
 * itself at each conntrack collection (entries leave by expiry and LRU eviction, which tell nobody), so it
 * is approximate between two collections. */
struct ct4_quota {
	__u32 established;
	__u32 limit;                /* 0: CT4_ENDPOINT_QUOTA */
	__u64 refused;              /* flows that became established while the endpoint was at its limit */
};

/* Lifetimes (Cilium's defaults): established TCP 6 h (21600 s), SYN 60 s, closing 10 s; UDP and others 60 s. */
#define CT_LIFETIME_TCP_NS (21600ULL * 1000000000ULL)
#define CT_LIFETIME_SYN_NS (60ULL * 1000000000ULL)
#define CT_LIFETIME_CLOSE_NS (10ULL * 1000000000ULL)
#define CT_LIFETIME_NONTCP_NS (60ULL * 1000000000ULL)

/* Drop counters per endpoint, direction, reason and rule, for `sluice` to attribute drops until the flow
 * events of the observability issue exist. */
struct drop_key {
	__u16 endpoint_id;
	__u8 direction;
	__u8 pad;
	__u32 reason;               /* DROP_* above */
	__u32 rule_id;
	__u32 remote_identity;
};

struct drop_value {
	__u64 packets;
	__u64 bytes;
};

/* IP fragments: only the first fragment of a datagram carries its L4 header, so the ports of every
 * datagram seen fragmented are kept here, keyed by what each fragment carries (Cilium's
 * ipv4_frag_datagrams), for its later fragments to be judged as the first one was: the same CT entry,
 * the same policy. An LRU, so that datagrams whose later fragments never come do not fill it. */
struct frag4_key {
	__be32 saddr;
	__be32 daddr;
	__be16 id;                  /* iphdr.id */
	__u8 proto;
	__u8 pad;
};

struct frag4_l4 {
	__be16 sport;               /* the CT tuple's ports (ICMP: policy_maps.h's convention) */
	__be16 dport;
	__be16 policy_port;         /* the port policy is looked up with (ICMP: the type) */
	__u8 tcp_flags;             /* the first fragment's, so that the CT state sees the same packet */
	__u8 pad;
};

#endif
