/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/2 in cleartext (--events http): the frames of a connection that began
 * with the client's preface, walked as its reads and writes move them. Each
 * direction keeps where its next frame header starts (sock_state's h2), so a
 * frame split across calls is followed, and a header split across two calls
 * is completed in the second. Shipped as pieces (struct h2_piece): every
 * frame header, and the payloads that carry or end header blocks (HEADERS,
 * CONTINUATION, PUSH_PROMISE, RST_STREAM, GOAWAY) up to H2_BLOCK_MAX bytes a
 * frame; a DATA frame's payload never. User space decodes the header blocks
 * (HPACK) and pairs the streams.
 *
 * A call's bytes may lie in many buffers (gRPC writes a header block's
 * strings from separate iovecs): the walk reads through the call's iovecs.
 */
#ifndef PODTOP_HTTP2_H
#define PODTOP_HTTP2_H

#include "lib/common.h"
#include "lib/syscall.h"
#include "tcp.h"

#define H2_PREFACE_LEN 24
#define H2_FRAME_HEADER_LEN 9
/* Frames walked in one read or write (bpf_loop): past them the direction is lost. */
#define H2_FRAMES_PER_CALL 64
/* A call's buffers followed: gRPC writes a request from about 20. */
#define H2_IOVS 32
/* A record's data; a piece that would not fit ships the record and starts the next. */
#define H2_RECORD_DATA 4096
#define H2_OFFSET_MASK (H2_RECORD_DATA - 1)
/* Where a frame header is read to, past the record's data, in the same
 * buffer: one bound on every read's destination (the 6.1 verifier cannot
 * follow a read whose bounds depend on where it goes). */
#define H2_HEADER_AT H2_RECORD_DATA
#define H2_READ_AT_MASK (2 * H2_RECORD_DATA - 1)

enum h2_frame_type {
	H2_DATA = 0,
	H2_HEADERS = 1,
	H2_RST_STREAM = 3,
	H2_PUSH_PROMISE = 5,
	H2_GOAWAY = 7,
	H2_CONTINUATION = 9,
};

struct h2_iov {
	__u64 base;
	__u64 len;
	__u64 start; /* of its first byte among the call's bytes */
};

/* A record in the making, and the call's buffers: per CPU, too big for the stack. */
struct h2_scratch {
	struct payload_event e;
	/* the record's data, then a frame header as read (H2_HEADER_AT); room
	 * for any read's bounds */
	__u8 data[3 * H2_RECORD_DATA];
	struct h2_iov iov[H2_IOVS];
	__u32 iovs; /* of iov, filled */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct h2_scratch);
} h2_scratch SEC(".maps");

/* One call's walk, as bpf_loop's callbacks share it. */
struct h2_walk {
	struct h2_direction d;
	__u64 base;  /* the call's first byte, in the direction's stream */
	__u64 bytes; /* the call's bytes */
	__u32 used; /* of the record's data */
	bool tx;
	bool split; /* the walk ended in a header the next call completes */
};

/* Whether a frame's payload is shipped: it carries a header block (whose
 * HPACK state every later block depends on) or ends a stream. */
static __always_inline bool h2_copied(__u8 type)
{
	return type == H2_HEADERS || type == H2_CONTINUATION || type == H2_PUSH_PROMISE || type == H2_RST_STREAM ||
	       type == H2_GOAWAY;
}

/* The call's buffers, from the arguments it was made with (nr's buffer
 * or iovec array in si, its length or count in dx): their number, or 0 when
 * none can be read (sendfile, splice, io_uring). A function of its own, so
 * that the verifier walks its loop once, not once per caller's path. */
__noinline int h2_buffers(struct h2_scratch *s, long nr, __u64 si, __u64 dx)
{
	const struct iovec *iov = NULL;
	__u64 count = 0, start = 0;
	__u32 i;

	if (!s)
		return 0;
	switch (nr) {
	case NR_read:
	case NR_write:
	case NR_sendto:
	case NR_recvfrom:
		s->iov[0].base = si;
		s->iov[0].len = dx;
		s->iov[0].start = 0;
		return 1;
	case NR_readv:
	case NR_writev:
		iov = (const struct iovec *)si;
		count = dx;
		break;
	case NR_sendmsg:
	case NR_recvmsg: {
		const struct user_msghdr *msg = (const void *)si;

		if (bpf_probe_read_user(&iov, sizeof(iov), &msg->msg_iov) ||
		    bpf_probe_read_user(&count, sizeof(count), &msg->msg_iovlen))
			return 0;
		break;
	}
	default:
		return 0;
	}
	for (i = 0; i < H2_IOVS && i < count; i++) {
		struct iovec one = {};

		if (bpf_probe_read_user(&one, sizeof(one), &iov[i]))
			break;
		s->iov[i].base = (__u64)one.iov_base;
		s->iov[i].len = one.iov_len;
		s->iov[i].start = start;
		start += one.iov_len;
	}
	return i;
}

/* The call's bytes [at, at + len) through whichever of its buffers hold
 * them, to s->data at dst (len at most H2_BLOCK_MAX); false if some are not
 * in the buffers followed. A function of its own: the verifier walks its
 * loop once. */
__noinline bool h2_read(struct h2_scratch *s, __u64 at, __u64 len, __u32 dst)
{
	__u64 copied = 0;
	__u32 i;

	if (!s)
		return false;
	for (i = 0; i < H2_IOVS && i < s->iovs; i++) {
		__u64 lo = s->iov[i].start, hi = lo + s->iov[i].len, n;

		if (hi <= at + copied)
			continue;
		if (lo >= at + len)
			break;
		lo = at + copied;
		n = hi - lo;
		if (n > len - copied)
			n = len - copied;
		if (bpf_probe_read_user(s->data + ((dst + copied) & H2_READ_AT_MASK), n & H2_OFFSET_MASK,
					(const void *)(s->iov[i].base + lo - s->iov[i].start)))
			return false;
		copied += n;
		if (copied >= len)
			return true;
	}
	return copied >= len;
}

/* A frame header's first `len` bytes, from the call's `at`, to H2_HEADER_AT. */
static __always_inline bool h2_read_header(struct h2_scratch *s, __u64 at, __u64 len)
{
	return h2_read(s, at, len, H2_HEADER_AT);
}

/* A finished record: shipped, and the next begins empty. */
static __always_inline void h2_ship(struct h2_scratch *s, struct h2_walk *w)
{
	if (!w->used)
		return;
	s->e.captured = w->used;
	if (bpf_ringbuf_output(&events, s, sizeof(s->e) + (w->used & H2_READ_AT_MASK), wakeup_flags()))
		count(EVENT_PAYLOAD, true);
	else
		count(EVENT_PAYLOAD, false);
	w->used = 0;
}

/* A piece's header at the record's end, for `len` bytes at `position` in the
 * direction's stream (the record shipped first if the piece would not fit):
 * the offset its bytes go to. */
static __always_inline __u32 h2_piece_header(struct h2_scratch *s, struct h2_walk *w, __u8 kind, __u64 position,
					     __u64 len)
{
	struct h2_piece *p;

	if (w->used + sizeof(*p) + len > H2_RECORD_DATA)
		h2_ship(s, w);
	p = (struct h2_piece *)(s->data + (w->used & H2_OFFSET_MASK));
	p->position = position;
	p->len = len;
	p->kind = kind;
	__builtin_memset(p->_pad, 0, sizeof(p->_pad));
	return w->used + sizeof(*p);
}

/* A piece of `len` of the call's bytes from `at` (none for a lost mark). */
static __always_inline bool h2_piece(struct h2_scratch *s, struct h2_walk *w, __u8 kind, __u64 position, __u64 at,
				     __u64 len)
{
	__u32 data = h2_piece_header(s, w, kind, position, len);

	if (len && !h2_read(s, at, len, data))
		return false;
	w->used = data + len;
	return true;
}

/* A frame header complete in d.header, at d.next_header: shipped, and the
 * walk set past its payload (whose first bytes, from the call's `at`, are
 * shipped if its kind is). */
static __always_inline bool h2_frame(struct h2_scratch *s, struct h2_walk *w, __u64 at)
{
	struct h2_direction *d = &w->d;
	__u32 len = (__u32)d->header[0] << 16 | (__u32)d->header[1] << 8 | d->header[2];
	__u64 position = d->next_header, in_call;
	__u32 data = h2_piece_header(s, w, H2_PIECE_HEADER, position, H2_FRAME_HEADER_LEN);

	__builtin_memcpy(s->data + (data & H2_OFFSET_MASK), d->header, H2_FRAME_HEADER_LEN);
	w->used = data + H2_FRAME_HEADER_LEN;
	d->next_header = position + H2_FRAME_HEADER_LEN + len;
	d->copy_left = h2_copied(d->header[3]) ? (len < H2_BLOCK_MAX ? len : H2_BLOCK_MAX) : 0;
	if (!d->copy_left || at >= w->bytes)
		return true;
	in_call = w->bytes - at;
	if (in_call > d->copy_left)
		in_call = d->copy_left;
	if (!h2_piece(s, w, H2_PIECE_PAYLOAD, position + H2_FRAME_HEADER_LEN, at, in_call))
		return false;
	d->copy_left -= in_call;
	return true;
}

/* One frame of the call: its header read (or its first bytes kept, when the
 * call ends inside it), shipped, and the walk moved past it. */
static long h2_walk_frame(__u64 index, void *ctx)
{
	struct h2_walk *w = ctx;
	struct h2_direction *d = &w->d;
	__u32 zero = 0;
	struct h2_scratch *s = bpf_map_lookup_elem(&h2_scratch, &zero);
	__u64 at;

	if (!s || d->next_header >= w->base + w->bytes)
		return 1;
	at = d->next_header - w->base;
	if (at + H2_FRAME_HEADER_LEN > w->bytes) {
		/* kept for the next call, which completes it */
		d->header_have = w->bytes - at;
		if (!h2_read_header(s, at, d->header_have))
			d->lost = 1;
		__builtin_memcpy(d->header, s->data + H2_HEADER_AT, H2_FRAME_HEADER_LEN);
		w->split = true;
		return 1;
	}
	if (!h2_read_header(s, at, H2_FRAME_HEADER_LEN)) {
		d->lost = 1;
		return 1;
	}
	__builtin_memcpy(d->header, s->data + H2_HEADER_AT, H2_FRAME_HEADER_LEN);
	if (!h2_frame(s, w, at + H2_FRAME_HEADER_LEN)) {
		d->lost = 1;
		return 1;
	}
	return 0;
}

/* The start of a call: the rest of a frame the last call began (its
 * payload's next bytes if they are shipped, or the rest of its header). */
static __always_inline bool h2_resume(struct h2_scratch *s, struct h2_walk *w)
{
	struct h2_direction *d = &w->d;
	__u32 need, i;

	if (d->header_have) {
		need = H2_FRAME_HEADER_LEN - d->header_have;
		if (need > w->bytes || !h2_read_header(s, 0, need))
			return false; /* a header split over three calls: not followed */
		for (i = 0; i < H2_FRAME_HEADER_LEN; i++)
			if (i >= d->header_have)
				d->header[i] = s->data[H2_HEADER_AT + ((i - d->header_have) & 15)];
		d->header_have = 0;
		return h2_frame(s, w, need);
	}
	if (d->copy_left && d->next_header > w->base) {
		__u64 n = d->next_header - w->base;

		if (n > w->bytes)
			n = w->bytes;
		if (n > d->copy_left)
			n = d->copy_left;
		if (!h2_piece(s, w, H2_PIECE_PAYLOAD, w->base, 0, n))
			return false;
		d->copy_left -= n;
	}
	return true;
}

/* One read or write of an HTTP/2 connection: its frames walked and shipped. */
static __always_inline void h2_capture(const struct sock *sk, struct sock_state *st, int bytes, bool tx,
				       struct pt_regs *regs, long nr)
{
	struct h2_direction *state = &st->h2[tx ? 0 : 1];
	__u32 zero = 0;
	struct h2_scratch *s;
	struct h2_walk w = {};

	if (state->lost || !shipped(EVENT_PAYLOAD))
		return;
	s = bpf_map_lookup_elem(&h2_scratch, &zero);
	if (!s)
		return;
	w.d = *state;
	w.base = tx ? st->tx_bytes : st->rx_bytes;
	w.bytes = bytes;
	w.tx = tx;
	s->iovs = h2_buffers(s, nr, BPF_CORE_READ(regs, si), BPF_CORE_READ(regs, dx));
	fill_header(&s->e.hdr, EVENT_PAYLOAD);
	__builtin_memcpy(s->e.saddr, st->saddr, sizeof(s->e.saddr));
	__builtin_memcpy(s->e.daddr, st->daddr, sizeof(s->e.daddr));
	s->e.sport = st->sport;
	s->e.dport = st->dport;
	s->e.family = st->family;
	s->e.tx = tx;
	s->e.protocol = PAYLOAD_HTTP2;
	s->e.sock_netns = sock_netns(sk);
	s->e.bytes = bytes;
	s->e.cookie = bpf_get_socket_cookie((void *)sk);
	s->e.local = st->local;
	__builtin_memset(s->e._pad, 0, sizeof(s->e._pad));
	if (!s->iovs || !h2_resume(s, &w))
		w.d.lost = 1;
	else
		bpf_loop(H2_FRAMES_PER_CALL, h2_walk_frame, &w, 0);
	if (!w.d.lost && !w.split && w.d.next_header < w.base + w.bytes)
		w.d.lost = 1; /* more frames in one call than are walked */
	if (w.d.lost)
		h2_piece(s, &w, H2_PIECE_LOST, w.base, 0, 0);
	h2_ship(s, &w);
	*state = w.d;
}

/* A connection's first bytes: each direction's first frame is where the
 * walk starts, after the preface on the client's side. */
static __always_inline void h2_begin(struct sock_state *st, bool client)
{
	__builtin_memset(st->h2, 0, sizeof(st->h2));
	st->h2[0].next_header = st->tx_bytes + (client ? H2_PREFACE_LEN : 0);
	st->h2[1].next_header = st->rx_bytes + (client ? 0 : H2_PREFACE_LEN);
}

/* A SETTINGS frame's header, as a server's first write (it need not wait for
 * the client's preface): a length of whole settings, no flags, stream 0. */
static __always_inline bool h2_settings(const __u8 *b)
{
	__u32 len = (__u32)b[0] << 16 | (__u32)b[1] << 8 | b[2];

	return b[3] == 4 /* SETTINGS */ && b[4] == 0 && len % 6 == 0 && len <= 6 * 16 && !b[5] && !b[6] && !b[7];
}

#endif /* PODTOP_HTTP2_H */
