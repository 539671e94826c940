/* Structs shared by the binding's test programs and their Java mirrors in BindingTestStructs. */
#ifndef BINDING_TEST_H
#define BINDING_TEST_H

#include <linux/types.h>

/* A key with padding inside, so the codec must reproduce C's layout exactly (12 bytes). */
struct test_key {
	__u32 addr;     /* network byte order */
	__u16 port;     /* network byte order */
	__u8 proto;
	__u8 pad;
	__u32 id;
};

/* 16 bytes: two counters. */
struct test_value {
	__u64 packets;
	__u64 bytes;
};

struct lpm_v4_key {
	__u32 prefixlen;
	__u32 addr;
};

/* One event per packet seen by the tc test program. */
struct packet_event {
	__u64 timestamp_ns;
	__u32 ifindex;
	__u32 len;
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 direction; /* 0 ingress, 1 egress */
	__u8 pad[2];
};

/* Indexes of the hook counters (array map "hits"). */
enum hook_counter {
	HIT_TC_INGRESS = 0,
	HIT_TC_EGRESS,
	HIT_XDP,
	HIT_CONNECT4,
	HIT_SENDMSG4,
	HIT_RECVMSG4,
	HIT_GETPEERNAME4,
	HIT_SOCK_RELEASE,
	HIT_SOCKOPS_ESTABLISHED,
	HIT_SK_MSG,
	HIT_RINGBUF_LOST,
	HIT_MAX,
};

#endif
