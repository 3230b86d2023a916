/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TCP connections (--events net): connect, accept, listen and close from the
 * socket's state changes, with the owner, the endpoints, the bytes and the
 * request/response turns podtop keeps per socket (sock_states). The bytes and
 * turns are added as the socket sends and receives (sockbytes.h), or taken at
 * close from its sequence numbers where no hook counts them. A connection
 * that stays open reports what it did every interval (progress records): the
 * first send or receive once an interval has passed since its last report
 * emits one, so an idle connection costs nothing and a busy one a comparison
 * per send or receive.
 */
#ifndef PODTOP_TCP_H
#define PODTOP_TCP_H

#include "lib/common.h"
#include "lib/consts.h"
#include "lib/sock.h"

/* TCP states (include/net/tcp_states.h) */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_LAST_ACK 9
#define TCP_LISTEN 10
#define SOCK_DONE 1 /* enum sock_flags: set when a FIN is received */

/* Which way a connection's last bytes went. */
enum turn { TURN_NONE = 0, TURN_SENT = 1, TURN_RECEIVED = 2 };

/* What podtop knows of one TCP socket; freed by the kernel with the socket. */
/* One direction of an HTTP/2 connection, as http2.h walks its frames. */
struct h2_direction {
	__u64 next_header; /* its position in the direction's stream */
	__u32 copy_left;   /* of the frame now in progress: payload bytes still shipped */
	__u8 header[9];    /* a frame header as far as a call that ended in it had it */
	__u8 header_have;
	__u8 lost; /* a walk that lost its place: the direction is not followed */
	__u8 _pad;
};

struct sock_state {
	struct process_identity who;
	__u64 start_ns;
	__u64 tx_bytes;
	__u64 rx_bytes;
	/* Endpoints as of establishment: at close the port is already released. */
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 role;
	__u8 wanted;
	__u8 established;
	__u8 local;
	/* The owner came from the listener; the first process doing I/O on the
	 * socket (the one that accepted it) replaces it. */
	__u8 owner_from_listener;
	/* sequence fallback: a FIN was queued (it takes a sequence number) */
	__u8 fin_sent;
	/* sequence fallback: write_seq and copied_seq when established */
	__u32 start_write_seq;
	__u32 start_copied_seq;
	/* Request/response turns as this end sees them (struct turns), timed
	 * from its last send and its last receive. */
	__u64 last_send_ns;
	__u64 last_recv_ns;
	struct turns turns;
	__u8 turn; /* enum turn: which way the last bytes went */
	/* What the connection carries, from its first bytes (enum l7_kind, http.h). */
	__u8 l7;
	/* Open before podtop started, found by adopt.h: its counts start then. */
	__u8 adopted;
	/* An adopted connection's reads and writes looked at for an HTTP/1 head
	 * so far (http.h gives up after ADOPTED_L7_LOOKS). */
	__u8 adopted_l7_looks;
	/* The totals its last progress record carried, and when it was sent
	 * (the start while it has sent none). */
	__u64 reported_ns;
	__u64 reported_tx_bytes;
	__u64 reported_rx_bytes;
	struct turns reported_turns;
	/* HTTP/2 (http2.h): where each direction's frames are, [0] sent, [1] received. */
	struct h2_direction h2[2];
};

/* Per socket, freed with it. Written here at connect and accept, and by
 * sockbytes.h as the socket sends and receives: it sits in the lower of the
 * two (sockbytes.h includes this header). */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_state);
} sock_states SEC(".maps");

/* Listening sockets by (netns, port): who will accept their connections.
 * Accepted connections are established in softirq context, where the current
 * task is unrelated; the listener tells whose they are. User space fills it
 * with the listeners older than podtop. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct listener_key);
	__type(value, struct listener_value);
} listeners SEC(".maps");

/* A listen's record is made from a sock_state of its own, too big for the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sock_state);
} listen_state SEC(".maps");

/* Loopback, or the namespace's own address: the connection never leaves it. */
static __always_inline bool stays_inside(struct sock_state *st)
{
	if (st->family == AF_INET)
		return st->daddr[0] == 127 || *(__u32 *)st->daddr == *(__u32 *)st->saddr;
	bool loopback6 = true, same = true;

	for (int i = 0; i < 16; i++) {
		if (st->daddr[i] != st->saddr[i])
			same = false;
		if (st->daddr[i] != (i == 15 ? 1 : 0))
			loopback6 = false;
	}
	/* ::ffff:127.x.x.x */
	bool mapped = st->daddr[10] == 0xff && st->daddr[11] == 0xff && st->daddr[12] == 127;
	return loopback6 || same || mapped;
}

static __always_inline void emit_conn(const struct sock *sk, struct sock_state *st, __u32 kind)
{
	struct conn_event *e;

	if (kind == EVENT_CONNECT || kind == EVENT_ACCEPT || kind == EVENT_LISTEN) {
		__builtin_memset(st->saddr, 0, sizeof(st->saddr));
		__builtin_memset(st->daddr, 0, sizeof(st->daddr));
		read_endpoints(sk, st->saddr, st->daddr, &st->sport, &st->dport, &st->family);
		st->local = stays_inside(st);
	}
	/* An adopted connection was made before podtop: not counted as made now. */
	if ((kind == EVENT_CONNECT || kind == EVENT_ACCEPT) && !st->adopted) {
		if (st->local)
			COUNT(st->who.cgroup_id, tcp_local_connections, 1);
		else if (kind == EVENT_CONNECT)
			COUNT(st->who.cgroup_id, tcp_connects, 1);
		else
			COUNT(st->who.cgroup_id, tcp_accepts, 1);
	} else if (kind == EVENT_CLOSE && !st->local) {
		COUNT(st->who.cgroup_id, tcp_closes, 1);
	}
	e = reserve(sizeof(*e), kind);
	if (!e)
		return;
	e->hdr.boot_ns = bpf_ktime_get_boot_ns();
	e->hdr.kind = kind;
	e->hdr._pad = 0;
	e->hdr.who = st->who;
	__builtin_memcpy(e->saddr, st->saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, st->daddr, sizeof(e->daddr));
	e->sport = st->sport;
	e->dport = st->dport;
	e->family = st->family;
	e->protocol = IPPROTO_TCP;
	e->sock_netns = sock_netns(sk);
	e->_pad = 0;
	e->tx_bytes = st->tx_bytes;
	e->rx_bytes = st->rx_bytes;
	e->duration_ns = kind == EVENT_CLOSE || kind == EVENT_PROGRESS ? bpf_ktime_get_boot_ns() - st->start_ns : 0;
	e->cookie = bpf_get_socket_cookie((void *)sk);
	e->local = st->local;
	__builtin_memset(e->_pad2, 0, sizeof(e->_pad2));
	e->role = st->role;
	e->adopted = st->adopted;
	if (kind == EVENT_CLOSE || kind == EVENT_PROGRESS) {
		/* one read of the totals, which sends and receives go on adding to */
		e->turns = st->turns;
		e->tail_tx_bytes = e->tx_bytes - st->reported_tx_bytes;
		e->tail_rx_bytes = e->rx_bytes - st->reported_rx_bytes;
		e->tail_turns.exchanges = e->turns.exchanges - st->reported_turns.exchanges;
		e->tail_turns.exchange_ns = e->turns.exchange_ns - st->reported_turns.exchange_ns;
		e->tail_turns.asked_at_sum = e->turns.asked_at_sum - st->reported_turns.asked_at_sum;
		e->tail_turns.replies = e->turns.replies - st->reported_turns.replies;
		e->tail_turns.reply_ns = e->turns.reply_ns - st->reported_turns.reply_ns;
		e->tail_turns.heard_at_sum = e->turns.heard_at_sum - st->reported_turns.heard_at_sum;
	} else {
		__builtin_memset(&e->turns, 0, sizeof(e->turns));
		e->tail_tx_bytes = 0;
		e->tail_rx_bytes = 0;
		__builtin_memset(&e->tail_turns, 0, sizeof(e->tail_turns));
	}
	if (kind == EVENT_PROGRESS) {
		/* reported only once the record is sure to go: a lost one's counts go with the next */
		st->reported_tx_bytes = e->tx_bytes;
		st->reported_rx_bytes = e->rx_bytes;
		st->reported_turns = e->turns;
	}
	submit(e);
}

/* A connection's counts start over (connect or accept). */
static __always_inline void start_counting(struct sock_state *st)
{
	st->start_ns = bpf_ktime_get_boot_ns();
	st->tx_bytes = 0;
	st->rx_bytes = 0;
	st->reported_ns = st->start_ns;
	st->reported_tx_bytes = 0;
	st->reported_rx_bytes = 0;
	__builtin_memset(&st->reported_turns, 0, sizeof(st->reported_turns));
}

/* As the socket sends or receives at `now`: once an interval has passed
 * since its last progress record, it sends one. Two threads of one socket
 * that pass here at once can both send one, counting the bytes between
 * their reads twice in the progress records (the close's totals stay exact). */
static __always_inline void report_progress(const struct sock *sk, struct sock_state *st, __u64 now)
{
	if (!progress_interval_ns || !st->established || now - st->reported_ns < progress_interval_ns)
		return;
	st->reported_ns = now;
	emit_conn(sk, st, EVENT_PROGRESS);
}

static __always_inline void reset_turns(struct sock_state *st)
{
	__builtin_memset(&st->turns, 0, sizeof(st->turns));
	st->turn = TURN_NONE;
}

/* One send (tx) or receive on a connection: the exchange or reply it ends.
 * Two threads sending and receiving on one socket at once can lose an
 * update to a count or a sum: user space takes the turns as estimates. */
static __always_inline __u64 take_turn(struct sock_state *st, bool tx)
{
	__u64 now = bpf_ktime_get_boot_ns();

	if (tx) {
		if (st->turn == TURN_RECEIVED) {
			st->turns.replies += 1;
			st->turns.reply_ns += now - st->last_recv_ns;
			st->turns.heard_at_sum += st->last_recv_ns;
		}
		st->last_send_ns = now;
		st->turn = TURN_SENT;
	} else {
		if (st->turn == TURN_SENT) {
			st->turns.exchanges += 1;
			st->turns.exchange_ns += now - st->last_send_ns;
			st->turns.asked_at_sum += st->last_send_ns;
		}
		st->last_recv_ns = now;
		st->turn = TURN_RECEIVED;
	}
	return now;
}

/* sequence fallback: the socket's sequence numbers when it is established. */
static __always_inline void mark_sequence_start(const struct sock *sk, struct sock_state *st)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;

	st->start_write_seq = BPF_CORE_READ(tp, write_seq);
	st->start_copied_seq = BPF_CORE_READ(tp, copied_seq);
	st->fin_sent = 0;
}

/* sequence fallback: what the application wrote and read over the
 * connection's life. A FIN takes a sequence number on either side: one queued
 * by close() or shutdown() is in write_seq, and one the application read (as
 * end of file) is in copied_seq, which then equals rcv_nxt. */
static __always_inline void add_sequence_totals(const struct sock *sk, struct sock_state *st)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u32 copied = BPF_CORE_READ(tp, copied_seq);
	__u32 tx = BPF_CORE_READ(tp, write_seq) - st->start_write_seq - st->fin_sent;
	__u32 rx = copied - st->start_copied_seq;

	if ((BPF_CORE_READ(sk, __sk_common.skc_flags) & (1UL << SOCK_DONE)) && copied == BPF_CORE_READ(tp, rcv_nxt) && rx > 0)
		rx--;
	if (tcp_tx_from_sequence) {
		st->tx_bytes = tx;
		if (st->local)
			COUNT(st->who.cgroup_id, tcp_local_tx_bytes, tx);
		else
			COUNT(st->who.cgroup_id, tcp_tx_bytes, tx);
	}
	if (tcp_rx_from_sequence) {
		st->rx_bytes = rx;
		if (st->local)
			COUNT(st->who.cgroup_id, tcp_local_rx_bytes, rx);
		else
			COUNT(st->who.cgroup_id, tcp_rx_bytes, rx);
	}
}

static __always_inline void emit_close(const struct sock *sk, struct sock_state *st)
{
	if (st->established && (tcp_tx_from_sequence || tcp_rx_from_sequence))
		add_sequence_totals(sk, st);
	if (st->established)
		emit_conn(sk, st, EVENT_CLOSE);
	st->wanted = 0; /* reported once; a socket reused for another connect starts over */
	st->role = ROLE_NONE;
}

static __always_inline void on_listen(const struct sock *sk, bool listening)
{
	struct listener_key key = {.netns = sock_netns(sk), .port = BPF_CORE_READ(sk, __sk_common.skc_num)};
	struct listener_value value = {};

	if (!listening) {
		/* A port the kernel chose (bind to 0, or listen unbound) is given
		 * back before the state changes to CLOSE, which zeroes skc_num;
		 * the source port the socket listened on stays. */
		if (!key.port)
			key.port = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
		bpf_map_delete_elem(&listeners, &key);
		return;
	}
	/* listen() runs in the listening process: the current task is its owner */
	fill_identity(&value.who);
	value.wanted = wanted(CLASS_NET);
	bpf_map_update_elem(&listeners, &key, &value, BPF_ANY);
	if (value.wanted) {
		__u32 zero = 0;
		struct sock_state *st = bpf_map_lookup_elem(&listen_state, &zero);

		if (!st)
			return;
		__builtin_memset(st, 0, sizeof(*st));
		st->who = value.who;
		emit_conn(sk, st, EVENT_LISTEN);
	}
}

/* The cgroup filter, for a socket's cgroup rather than the current task's. */
static __always_inline bool sock_cgroup_wanted(struct cgroup *cgrp)
{
	int level = BPF_CORE_READ(cgrp, level);

	if (!filter_by_cgroup)
		return true;
	for (int i = 1; i <= MAX_CGROUP_DEPTH; i++) {
		struct cgroup *ancestor = NULL;
		__u64 id;

		if (i > level)
			break;
		bpf_core_read(&ancestor, sizeof(ancestor), &cgrp->ancestors[i]);
		id = BPF_CORE_READ(ancestor, kn, id);
		if (bpf_map_lookup_elem(&cgroup_filter, &id))
			return true;
	}
	return false;
}

/* A listener podtop never saw (listening before it started, and not found by
 * its start-up scan): the socket's own cgroup, inherited from the listener,
 * says whose it is; the process is filled in at its first I/O. */
static __always_inline bool listener_from_socket(const struct sock *sk, struct listener_value *out)
{
	struct cgroup *cgrp = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);

	if (!cgrp || filter_pid || !(events_mask & CLASS_NET) || !sock_cgroup_wanted(cgrp))
		return false;
	__builtin_memset(out, 0, sizeof(*out));
	out->who.cgroup_id = BPF_CORE_READ(cgrp, kn, id);
	out->who.netns = sock_netns(sk);
	out->wanted = 1;
	return true;
}

static __always_inline void on_accepted(const struct sock *sk)
{
	struct listener_key key = {.netns = sock_netns(sk), .port = BPF_CORE_READ(sk, __sk_common.skc_num)};
	struct listener_value *listener = bpf_map_lookup_elem(&listeners, &key);
	struct listener_value unknown;
	struct sock_state *st;

	if (!listener) {
		if (!listener_from_socket(sk, &unknown))
			return;
		listener = &unknown;
	}
	if (!listener->wanted)
		return;
	st = bpf_sk_storage_get(&sock_states, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return;
	st->who = listener->who;
	start_counting(st);
	reset_turns(st);
	st->role = ROLE_ACCEPT;
	st->wanted = 1;
	st->established = 1;
	st->owner_from_listener = 1;
	if (tcp_tx_from_sequence || tcp_rx_from_sequence)
		mark_sequence_start(sk, st);
	emit_conn(sk, st, EVENT_ACCEPT);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	struct sock_state *st;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	/* A listener's children start as clones of it (LISTEN -> SYN_RECV):
	 * only LISTEN -> CLOSE ends the listener. */
	if (newstate == TCP_LISTEN || (oldstate == TCP_LISTEN && newstate == TCP_CLOSE)) {
		on_listen(sk, newstate == TCP_LISTEN);
		return 0;
	}
	if (oldstate == TCP_LISTEN)
		return 0;
	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		/* connect() runs in the connecting process */
		bool w = wanted(CLASS_NET);

		if (!w)
			return 0;
		st = bpf_sk_storage_get(&sock_states, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (!st)
			return 0;
		fill_identity(&st->who);
		start_counting(st);
		reset_turns(st);
		st->role = ROLE_CONNECT;
		st->wanted = 1;
		st->established = 0;
		st->owner_from_listener = 0;
		st->adopted = 0;
		st->l7 = 0; /* L7_UNKNOWN (http.h): a socket connecting again starts over */
		return 0;
	}
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		on_accepted(sk);
		return 0;
	}
	st = bpf_sk_storage_get(&sock_states, (void *)sk, 0, 0);
	if (!st || !st->wanted)
		return 0;
	if (oldstate == TCP_SYN_SENT && newstate == TCP_ESTABLISHED) {
		st->established = 1;
		if (tcp_tx_from_sequence || tcp_rx_from_sequence)
			mark_sequence_start(sk, st);
		emit_conn(sk, st, EVENT_CONNECT);
	} else if (newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK) {
		/* close() or shutdown(): a FIN follows, after this state change */
		st->fin_sent = 1;
	} else if (newstate == TCP_CLOSE && !close_at_destroy) {
		emit_close(sk, st);
	}
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(on_tcp_destroy, struct sock *sk)
{
	struct sock_state *st = bpf_sk_storage_get(&sock_states, sk, 0, 0);

	if (st && st->wanted)
		emit_close(sk, st);
	return 0;
}

#endif /* PODTOP_TCP_H */
