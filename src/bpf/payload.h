/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Socket payload, what the protocols that copy it (http.h, dns.h) share: the
 * record they build and the user buffer a syscall moved the bytes through.
 */
#ifndef PODTOP_PAYLOAD_H
#define PODTOP_PAYLOAD_H

#include "lib/syscall.h"

/* A payload record and its data, built here, not on the stack (it is larger
 * than the BPF stack), then shipped only as long as its data. */
struct payload_record {
	struct payload_event e;
	__u8 data[PAYLOAD_MAX_LEN];
};

/* One record per CPU, that http.h and dns.h both build in: it sits here,
 * below both. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct payload_record);
} payload_scratch SEC(".maps");

/* The user buffer a read or write of `nr` moved its first bytes through, and
 * how many bytes are there: the saved registers hold the arguments. */
static __always_inline const void *user_buffer(struct pt_regs *regs, long nr, __u64 *room)
{
	const struct iovec *iov = NULL;
	struct iovec first = {};

	switch (nr) {
	case NR_read:
	case NR_write:
	case NR_sendto:
	case NR_recvfrom:
		*room = BPF_CORE_READ(regs, dx);
		return (const void *)BPF_CORE_READ(regs, si);
	case NR_readv:
	case NR_writev:
		iov = (const struct iovec *)BPF_CORE_READ(regs, si);
		break;
	case NR_sendmsg:
	case NR_recvmsg: {
		const struct user_msghdr *msg = (const void *)BPF_CORE_READ(regs, si);

		if (bpf_probe_read_user(&iov, sizeof(iov), &msg->msg_iov))
			return NULL;
		break;
	}
	default: /* sendfile, splice, io_uring, the 32-bit calls: not read */
		return NULL;
	}
	if (!iov || bpf_probe_read_user(&first, sizeof(first), iov))
		return NULL;
	*room = first.iov_len; /* only the first iovec: a head spread over several is cut */
	return first.iov_base;
}

#endif /* PODTOP_PAYLOAD_H */
