/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the socket families (TCP, UDP, DNS, HTTP) read of any socket: its
 * endpoints and its network namespace.
 */
#ifndef PODTOP_LIB_SOCK_H
#define PODTOP_LIB_SOCK_H

#include "lib/consts.h"

static __always_inline void read_endpoints(const struct sock *sk, __u8 *saddr, __u8 *daddr, __u16 *sport,
					   __u16 *dport, __u16 *family)
{
	*family = BPF_CORE_READ(sk, __sk_common.skc_family);
	*sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	*dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (*family == AF_INET6) {
		/* explicit sizes: BPF_CORE_READ_INTO would copy sizeof(*saddr), one byte */
		bpf_core_read(saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(daddr, 16, &sk->__sk_common.skc_v6_daddr);
	} else {
		BPF_CORE_READ_INTO((__u32 *)saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)daddr, sk, __sk_common.skc_daddr);
	}
}

static __always_inline __u32 sock_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

#endif /* PODTOP_LIB_SOCK_H */
