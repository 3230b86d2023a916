/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Connections older than podtop (--events net). A TCP socket that sends or
 * receives with no sock_state was never seen opening: connected or accepted
 * before podtop started (or, rarely, made while its listener was unknown).
 * Its first send or receive adopts it: the process doing the I/O, which holds
 * a descriptor of it, owns it; its role comes from the listeners map (its
 * local port is listened on in its namespace: the server's end); its counts
 * start there. From then on it reports progress and closes like any
 * connection, each record marked adopted, after one connect or accept record
 * (marked too) at the adoption.
 *
 * Why at the first I/O, not by walking every process's descriptors at start:
 * a task_file iterator finds the sockets, but the socket pointer it reaches
 * is one the verifier does not trust (since 6.2) for bpf_sk_storage_get, so
 * it cannot attach the state; and a connection that moves nothing has
 * nothing to report. One that closes without moving a byte while podtop runs
 * is not seen at all (README, Limits).
 *
 * HTTP/1 on an adopted connection starts at its first read or write that
 * begins with a request line or a status line (http.h's L7_ADOPTED); a
 * request already in flight is left out.
 */
#ifndef PODTOP_ADOPT_H
#define PODTOP_ADOPT_H

#include "lib/common.h"
#include "lib/sock.h"
#include "tcp.h"
#include "http.h"

#define TCP_CLOSE_WAIT 8

/* The state of `sk`, adopted now if it is an open TCP connection podtop never
 * saw opening; NULL: not a connection to follow. A socket of a process the
 * filters leave out gets a state that is not wanted, so that it is looked at
 * once. */
static __always_inline struct sock_state *adopt(const struct sock *sk)
{
	struct listener_key listener = {};
	struct sock_state *st;
	__u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (!(events_mask & CLASS_NET))
		return NULL;
	/* Still open (the peer may have sent its FIN): not one being set up. */
	if (state != TCP_ESTABLISHED && state != TCP_CLOSE_WAIT)
		return NULL;
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	st = bpf_sk_storage_get(&sock_states, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return NULL;
	st->wanted = wanted(CLASS_NET);
	if (!st->wanted)
		return st;
	fill_identity(&st->who);
	start_counting(st);
	reset_turns(st);
	listener.netns = sock_netns(sk);
	listener.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	st->role = bpf_map_lookup_elem(&listeners, &listener) ? ROLE_ACCEPT : ROLE_CONNECT;
	st->established = 1;
	st->owner_from_listener = 0;
	st->adopted = 1;
	st->l7 = L7_ADOPTED;
	st->adopted_l7_looks = 0;
	if (tcp_tx_from_sequence || tcp_rx_from_sequence)
		mark_sequence_start(sk, st);
	emit_conn(sk, st, st->role == ROLE_ACCEPT ? EVENT_ACCEPT : EVENT_CONNECT);
	return st;
}

#endif /* PODTOP_ADOPT_H */
