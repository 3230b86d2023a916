/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP (--events http): the heads of HTTP/1 requests and responses on TCP
 * connections, and TLS ClientHellos, copied from the user buffer as the
 * socket sends or receives (sockbytes.h). A connection's first bytes decide
 * what it carries (sock_state's l7).
 */
#ifndef PODTOP_HTTP_H
#define PODTOP_HTTP_H

#include "lib/common.h"
#include "lib/sock.h"
#include "payload.h"
#include "tcp.h"
#include "http2.h"

/* L7_TLS_HEADER: a TLS handshake record's 5-byte header was read alone; the
 * next read has its message. L7_ADOPTED: a connection older than podtop
 * (adopt.h), met in the middle of its stream: its first read or write that
 * begins with an HTTP/1 request line or status line makes it L7_HTTP; after
 * ADOPTED_L7_LOOKS that do not, it is L7_OTHER. L7_HTTP2: it began with the
 * client's HTTP/2 preface (http2.h). */
enum l7_kind { L7_UNKNOWN = 0, L7_HTTP = 1, L7_OTHER = 2, L7_TLS_HEADER = 3, L7_ADOPTED = 4, L7_HTTP2 = 5 };

/* Enough for a keep-alive connection to finish the message it was in the
 * middle of (a body of a few reads) and begin the next; bounded, so that an
 * adopted connection that never carries HTTP stops costing a look per read. */
#define ADOPTED_L7_LOOKS 64

/* Copied of an HTTP read or write: a request line or a status line, enough
 * for a method, a path and a version. A ClientHello gets PAYLOAD_MAX_LEN - 1. */
#define HTTP_HEAD_LEN 256

/* What the first bytes of a connection say it carries: HTTP/1 (a request
 * line's method, or a status line), HTTP/2 (the client's preface), a TLS
 * ClientHello, or something else. */
static __always_inline __u8 classify(const __u8 *b)
{
	__u32 word = b[0] | b[1] << 8 | b[2] << 16 | (__u32)b[3] << 24;

#define WORD(a, b, c, d) ((a) | (b) << 8 | (c) << 16 | (__u32)(d) << 24)
	switch (word) {
	case WORD('G', 'E', 'T', ' '):
	case WORD('P', 'O', 'S', 'T'):
	case WORD('P', 'U', 'T', ' '):
	case WORD('H', 'E', 'A', 'D'):
	case WORD('D', 'E', 'L', 'E'):
	case WORD('O', 'P', 'T', 'I'):
	case WORD('P', 'A', 'T', 'C'):
	case WORD('C', 'O', 'N', 'N'):
	case WORD('T', 'R', 'A', 'C'):
		return PAYLOAD_HTTP;
	case WORD('H', 'T', 'T', 'P'):
		return b[4] == '/' && b[5] == '1' ? PAYLOAD_HTTP : 0;
	case WORD('P', 'R', 'I', ' '):
		return b[4] == '*' && b[5] == ' ' && b[6] == 'H' && b[7] == 'T' ? PAYLOAD_HTTP2 : 0;
	}
#undef WORD
	/* handshake record, SSL3.0..TLS1.3 legacy version, ClientHello */
	if (b[0] == 22 && b[1] == 3 && b[2] <= 4 && b[5] == 1)
		return PAYLOAD_TLS;
	return 0;
}

/* One read or write of `bytes` on a TCP connection: its first bytes shipped
 * when the connection carries HTTP/1 (every read and write, so that requests
 * and responses are counted and timed; a head's first HTTP_HEAD_LEN bytes,
 * a body's none), or once for its TLS ClientHello (as the client writes it
 * and as the server reads it, in one read or after the record's header). A
 * connection whose first bytes are neither is not looked at again. */
static __always_inline void capture_payload(const struct sock *sk, struct sock_state *st, int bytes, bool tx,
					    struct pt_regs *regs, long nr)
{
	__u8 first[8] = {};
	__u64 room = 0, len;
	__u32 zero = 0;
	__u8 protocol;
	const void *buf;
	struct payload_record *r;
	struct payload_event *e;

	/* before the first bytes are looked up: http2.h reads the call's buffers itself */
	if (st->l7 == L7_HTTP2) {
		h2_capture(sk, st, bytes, tx, regs, nr);
		return;
	}
	buf = user_buffer(regs, nr, &room);
	if (!buf || bpf_probe_read_user(first, sizeof(first), buf))
		return;
	protocol = bytes >= sizeof(first) && room >= sizeof(first) ? classify(first) : 0;
	/* The client's preface, or a server's SETTINGS sent before the preface came */
	if (st->l7 == L7_UNKNOWN &&
	    (protocol == PAYLOAD_HTTP2 || (tx && st->role == ROLE_ACCEPT && bytes >= 9 && h2_settings(first)))) {
		st->l7 = L7_HTTP2;
		h2_begin(st, protocol == PAYLOAD_HTTP2 && tx);
		h2_capture(sk, st, bytes, tx, regs, nr);
		return;
	}
	if (st->l7 == L7_UNKNOWN) {
		/* A server that reads a record's header before its body: a
		 * handshake record's header, read alone, waits for the next read. */
		if (!tx && bytes == 5 && first[0] == 22 && first[1] == 3 && first[2] <= 4) {
			st->l7 = L7_TLS_HEADER;
			return;
		}
		/* decided by the connection's first bytes, either way (an
		 * HTTP/2 upgrade from HTTP/1, h2c, is not followed) */
		st->l7 = protocol == PAYLOAD_HTTP ? L7_HTTP : L7_OTHER;
		if (protocol == 0)
			return;
	} else if (st->l7 == L7_ADOPTED) {
		if (protocol != PAYLOAD_HTTP) {
			if (++st->adopted_l7_looks >= ADOPTED_L7_LOOKS)
				st->l7 = L7_OTHER;
			return;
		}
		st->l7 = L7_HTTP;
	} else if (st->l7 == L7_TLS_HEADER) {
		st->l7 = L7_OTHER;
		if (tx || first[0] != 1 /* client_hello */)
			return;
		protocol = PAYLOAD_TLS_HANDSHAKE;
	} else if (st->l7 != L7_HTTP) {
		return;
	}
	if (!shipped(EVENT_PAYLOAD))
		return;
	r = bpf_map_lookup_elem(&payload_scratch, &zero);
	if (!r)
		return;
	e = &r->e;
	/* an HTTP body's bytes (protocol 0 on an HTTP connection): none */
	len = protocol == PAYLOAD_HTTP ? HTTP_HEAD_LEN : protocol == 0 ? 0 : PAYLOAD_MAX_LEN - 1;
	if (len > (__u64)bytes)
		len = bytes;
	if (len > room)
		len = room;
	/* The bound, again, in an instruction the compiler must keep: it knows
	 * len <= 511 from the branches above and would drop a plain mask, and
	 * the 6.1 verifier cannot follow those branches ("R2 min value is
	 * negative"). */
	asm volatile("%[len] &= %[mask]" : [len] "+r"(len) : [mask] "i"(PAYLOAD_MAX_LEN - 1));
	if (len && bpf_probe_read_user(r->data, len, buf))
		return;
	fill_header(&e->hdr, EVENT_PAYLOAD);
	__builtin_memcpy(e->saddr, st->saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, st->daddr, sizeof(e->daddr));
	e->sport = st->sport;
	e->dport = st->dport;
	e->family = st->family;
	e->tx = tx;
	e->protocol = protocol ? protocol : PAYLOAD_HTTP;
	e->sock_netns = sock_netns(sk);
	e->captured = len;
	e->bytes = bytes;
	e->cookie = bpf_get_socket_cookie((void *)sk);
	e->local = st->local;
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));
	if (bpf_ringbuf_output(&events, r, sizeof(r->e) + len, wakeup_flags()))
		count(EVENT_PAYLOAD, true);
	else
		count(EVENT_PAYLOAD, false);
}

#endif /* PODTOP_HTTP_H */
