/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS (--events dns): the datagrams of UDP sockets that talk to or serve a DNS
 * port, each shipped whole up to PAYLOAD_MAX_LEN - 1 bytes (a query, or an
 * answer with its first records); user space pairs queries with answers.
 *
 * A datagram is seen at the socket's send or receive (udp_payload, from
 * sockbytes.h), or at the exit of a sendmmsg or recvmmsg (on_mmsg_exit, from
 * sys_exit.h). The ports are podtop.bpf.c's dns_ports.
 */
#ifndef PODTOP_DNS_H
#define PODTOP_DNS_H

#include "lib/common.h"
#include "lib/consts.h"
#include "lib/sock.h"
#include "lib/syscall.h"
#include "files.h"
#include "payload.h"

/* Unconnected UDP sockets seen sending to a DNS port (musl's resolver, and
 * clients that call sendto): the answers they receive name no peer, and
 * are DNS all the same. The value is not read. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u8);
} dns_sockets SEC(".maps");

static __always_inline bool dns_port(__u16 port)
{
	return port && (port == dns_ports[0] || port == dns_ports[1] || port == dns_ports[2] || port == dns_ports[3]);
}

/* The address a send names (sendto's, a msghdr's msg_name), or that a
 * recvmmsg wrote, for a socket that is not connected. */
static __always_inline void named_peer(const void *name, __u8 *daddr, __u16 *dport)
{
	struct sockaddr_in6 sa = {};

	/* sockaddr_in first: the name may be no longer than that */
	if (!name || bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), name))
		return;
	if (sa.sin6_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&sa;

		*dport = bpf_ntohs(in->sin_port);
		__builtin_memcpy(daddr, &in->sin_addr, 4);
	} else if (sa.sin6_family == AF_INET6 && !bpf_probe_read_user(&sa, sizeof(sa), name)) {
		*dport = bpf_ntohs(sa.sin6_port);
		__builtin_memcpy(daddr, &sa.sin6_addr, 16);
	}
}

/* One datagram of `bytes` through `buf` (room: the buffer's size), when it
 * goes to or comes from a DNS port. `typed_sk` is the socket as the kernel
 * passed it to the program, to mark an unconnected client's socket; NULL
 * where it was read from the fd table (sendmmsg/recvmmsg), which glibc uses
 * on connected sockets only. */
static __always_inline void capture_dns(const struct sock *sk, const struct sock *typed_sk, long bytes, bool tx,
					const void *buf, __u64 room, const void *name)
{
	struct payload_record *r;
	struct payload_event *e;
	__u32 zero = 0;
	__u64 len;

	if (!buf || bytes <= 0 || !shipped(EVENT_PAYLOAD))
		return;
	r = bpf_map_lookup_elem(&payload_scratch, &zero);
	if (!r)
		return;
	e = &r->e;
	read_endpoints(sk, e->saddr, e->daddr, &e->sport, &e->dport, &e->family);
	if (!e->dport)
		named_peer(name, e->daddr, &e->dport);
	if (!dns_port(e->sport) && !dns_port(e->dport)) {
		if (!typed_sk || !bpf_sk_storage_get(&dns_sockets, (void *)typed_sk, 0, 0))
			return;
	} else if (tx && typed_sk && name && dns_port(e->dport) && !BPF_CORE_READ(sk, __sk_common.skc_dport)) {
		bpf_sk_storage_get(&dns_sockets, (void *)typed_sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	}
	len = bytes;
	if (len > room)
		len = room;
	if (len > PAYLOAD_MAX_LEN - 1)
		len = PAYLOAD_MAX_LEN - 1;
	asm volatile("%[len] &= %[mask]" : [len] "+r"(len) : [mask] "i"(PAYLOAD_MAX_LEN - 1));
	if (len && bpf_probe_read_user(r->data, len, buf))
		return;
	fill_header(&e->hdr, EVENT_PAYLOAD);
	e->tx = tx;
	e->protocol = PAYLOAD_DNS;
	e->sock_netns = sock_netns(sk);
	e->captured = len;
	e->bytes = bytes;
	e->cookie = 0; /* pairs are found by port and message id */
	e->local = 0;
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));
	if (bpf_ringbuf_output(&events, r, sizeof(r->e) + len, wakeup_flags()))
		count(EVENT_PAYLOAD, true);
	else
		count(EVENT_PAYLOAD, false);
}

/* A send or receive of one datagram through the socket byte programs: its
 * buffer and, for a send, the address it names. sendmmsg and recvmmsg are
 * read at their exit instead (on_mmsg_exit), where each message's length is
 * known. */
static __always_inline void udp_payload(struct sock *sk, int bytes, bool tx, struct pt_regs *regs, long nr)
{
	__u16 dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	const void *name = NULL;
	__u64 room = 0;
	const void *buf;

	/* Most datagrams: a connected socket whose ports are not DNS's (only an
	 * unconnected socket is ever marked as a resolver's client). Two loads. */
	if (dport && !dns_port(dport) && !dns_port(BPF_CORE_READ(sk, __sk_common.skc_num)))
		return;
	if (nr == NR_sendmmsg || nr == NR_recvmmsg || !wanted(CLASS_DNS))
		return;
	buf = user_buffer(regs, nr, &room);
	if (tx && nr == NR_sendto) {
		name = (const void *)BPF_CORE_READ(regs, r8);
	} else if (tx && nr == NR_sendmsg) {
		const struct user_msghdr *msg = (const void *)BPF_CORE_READ(regs, si);

		bpf_probe_read_user(&name, sizeof(name), &msg->msg_name);
	}
	capture_dns(sk, sk, bytes, tx, buf, room, name);
}

/* Messages a sendmmsg or recvmmsg moved (glibc sends a name's A and AAAA
 * queries in one sendmmsg): at most this many are looked at. */
#define MMSG_MAX 4

static __always_inline void on_mmsg_exit(struct syscall *sc, long ret, bool tx)
{
	const struct mmsghdr *vec = (const void *)sc->arg[1];
	struct file *file = file_of_fd(sc->arg[0]);
	struct socket *sock;
	struct sock *sk;

	if (ret <= 0 || !file || (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP)
		return;
	for (int i = 0; i < MMSG_MAX; i++) {
		struct mmsghdr m;
		struct iovec first;

		if (i >= ret || bpf_probe_read_user(&m, sizeof(m), &vec[i]))
			return;
		if (!m.msg_hdr.msg_iov || bpf_probe_read_user(&first, sizeof(first), m.msg_hdr.msg_iov))
			return;
		capture_dns(sk, NULL, m.msg_len, tx, first.iov_base, first.iov_len, m.msg_hdr.msg_name);
	}
}

#endif /* PODTOP_DNS_H */
