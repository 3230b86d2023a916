/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Socket bytes, from the best source the kernel offers (user space picks
 * one): the sock_{send,recv}_length tracepoints (6.5+), else fexit on the
 * protocols' sendmsg/recvmsg (needs a kernel that allows fexit), else TCP
 * totals at close from the socket's sequence numbers (tcp_*_from_sequence).
 *
 * Each send or receive adds to its TCP connection (tcp.h's sock_states) or
 * its UDP flow (udp_flows), adopts a TCP connection older than podtop
 * (adopt.h), reports a TCP connection's progress once an
 * interval has passed (tcp.h), and hands the bytes to the payload capture of
 * HTTP (http.h) or DNS (dns.h). It also marks the task's read or write as
 * a socket's, for the syscall's exit (files.h's socket_io_task).
 */
#ifndef PODTOP_SOCKBYTES_H
#define PODTOP_SOCKBYTES_H

#include "lib/common.h"
#include "lib/consts.h"
#include "lib/sock.h"
#include "lib/syscall.h"
#include "files.h"
#include "tcp.h"
#include "http.h"
#include "dns.h"
#include "adopt.h"

#define MSG_PEEK 2

/* Datagrams and bytes per UDP flow (cgroup, process, endpoints). A plain
 * hash, not LRU: an eviction would lose counts silently. User space removes
 * entries that stayed idle; a full map is counted as dropped. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct udp_key);
	__type(value, struct udp_value);
} udp_flows SEC(".maps");

static __always_inline void count_udp(struct sock *sk, int bytes, bool tx)
{
	struct udp_key key = {};
	struct udp_value *value;

	if (!wanted(CLASS_NET))
		return;
	key.cgroup_id = bpf_get_current_cgroup_id();
	key.pid = bpf_get_current_pid_tgid() >> 32;
	read_endpoints(sk, key.saddr, key.daddr, &key.sport, &key.dport, &key.family);
	value = bpf_map_lookup_elem(&udp_flows, &key);
	if (!value) {
		struct udp_value init = {};

		fill_identity(&init.who);
		bpf_map_update_elem(&udp_flows, &key, &init, BPF_NOEXIST);
		value = bpf_map_lookup_elem(&udp_flows, &key);
		if (!value) {
			count_dropped(UDP_MAP);
			return;
		}
	}
	if (tx) {
		__sync_fetch_and_add(&value->tx_bytes, bytes);
		__sync_fetch_and_add(&value->tx_datagrams, 1);
		COUNT2(key.cgroup_id, udp_tx_bytes, bytes, udp_tx_datagrams, 1);
	} else {
		__sync_fetch_and_add(&value->rx_bytes, bytes);
		__sync_fetch_and_add(&value->rx_datagrams, 1);
		COUNT2(key.cgroup_id, udp_rx_bytes, bytes, udp_rx_datagrams, 1);
	}
}

static __always_inline void count_sock_bytes(struct sock *sk, int bytes, bool tx)
{
	struct sock_state *st;
	__u64 now;
	__u16 protocol;
	__u32 zero = 0;
	struct socket_io *socket_io = bpf_map_lookup_elem(&socket_io_task, &zero);
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long nr = BPF_CORE_READ(regs, orig_ax);

	if (socket_io && (nr == NR_read || nr == NR_write || nr == NR_readv || nr == NR_writev)) {
		socket_io->task = bpf_get_current_pid_tgid();
		socket_io->fd = BPF_CORE_READ(regs, di);
	}
	if (bytes <= 0)
		return;
	protocol = BPF_CORE_READ(sk, sk_protocol);
	if (protocol == IPPROTO_UDP) {
		__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

		if (family == AF_INET || family == AF_INET6) {
			count_udp(sk, bytes, tx);
			if (events_mask & CLASS_DNS)
				udp_payload(sk, bytes, tx, regs, nr);
		}
		return;
	}
	if (protocol != IPPROTO_TCP)
		return;
	st = bpf_sk_storage_get(&sock_states, sk, 0, 0);
	if (!st)
		st = adopt(sk);
	if (!st || !st->wanted)
		return;
	if (st->owner_from_listener) {
		/* in process context now: the process that accepted the socket */
		fill_identity(&st->who);
		st->owner_from_listener = 0;
	}
	/* timed before the payload is copied: that is podtop's time, not the turn's */
	now = take_turn(st, tx);
	if ((events_mask & CLASS_HTTP) && st->l7 != L7_OTHER)
		capture_payload(sk, st, bytes, tx, regs, nr);
	if (tx) {
		__sync_fetch_and_add(&st->tx_bytes, bytes);
		if (st->local)
			COUNT(st->who.cgroup_id, tcp_local_tx_bytes, bytes);
		else
			COUNT(st->who.cgroup_id, tcp_tx_bytes, bytes);
	} else {
		__sync_fetch_and_add(&st->rx_bytes, bytes);
		if (st->local)
			COUNT(st->who.cgroup_id, tcp_local_rx_bytes, bytes);
		else
			COUNT(st->who.cgroup_id, tcp_rx_bytes, bytes);
	}
	report_progress(sk, st, now);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(on_sock_send, struct sock *sk, int ret, int flags)
{
	count_sock_bytes(sk, ret, true);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(on_sock_recv, struct sock *sk, int ret, int flags)
{
	if (!(flags & MSG_PEEK))
		count_sock_bytes(sk, ret, false);
	return 0;
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(on_tcp_sendmsg, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	count_sock_bytes(sk, ret, true);
	return 0;
}

SEC("fexit/tcp_recvmsg")
int BPF_PROG(on_tcp_recvmsg, struct sock *sk, struct msghdr *msg, size_t len, int flags, int *addr_len, int ret)
{
	if (!(flags & MSG_PEEK))
		count_sock_bytes(sk, ret, false);
	return 0;
}

SEC("fexit/udp_sendmsg")
int BPF_PROG(on_udp_sendmsg, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	count_sock_bytes(sk, ret, true);
	return 0;
}

SEC("fexit/udp_recvmsg")
int BPF_PROG(on_udp_recvmsg, struct sock *sk, struct msghdr *msg, size_t len, int flags, int *addr_len, int ret)
{
	if (!(flags & MSG_PEEK))
		count_sock_bytes(sk, ret, false);
	return 0;
}

SEC("fexit/udpv6_sendmsg")
int BPF_PROG(on_udpv6_sendmsg, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	count_sock_bytes(sk, ret, true);
	return 0;
}

SEC("fexit/udpv6_recvmsg")
int BPF_PROG(on_udpv6_recvmsg, struct sock *sk, struct msghdr *msg, size_t len, int flags, int *addr_len, int ret)
{
	if (!(flags & MSG_PEEK))
		count_sock_bytes(sk, ret, false);
	return 0;
}

#endif /* PODTOP_SOCKBYTES_H */
