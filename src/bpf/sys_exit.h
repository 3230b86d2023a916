/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one syscall hook: the raw sys_exit tracepoint, where the saved user
 * registers still hold the arguments. It tells the few calls podtop watches
 * from the rest and hands them to their families: opens, reads and writes to
 * files.h, sendmmsg and recvmmsg to dns.h.
 */
#ifndef PODTOP_SYS_EXIT_H
#define PODTOP_SYS_EXIT_H

#include "lib/common.h"
#include "lib/syscall.h"
#include "files.h"
#include "dns.h"

/* Whether `nr`, through either entry, can be a call the program watches.
 * Every syscall on the node runs the program, and most are none of these:
 * they leave after one load and a few compares, before the task is looked at
 * to tell a 32-bit call from a native one. */
static __always_inline bool maybe_watched(long nr)
{
	const __u64 below_64 = (1ULL << NR_read) | (1ULL << NR_write) | (1ULL << NR_open) | (1ULL << NR_pread64) |
			       (1ULL << NR_pwrite64) | (1ULL << NR_readv) | (1ULL << NR_writev) | (1ULL << NR32_read) |
			       (1ULL << NR32_write) | (1ULL << NR32_open) | (1ULL << NR32_creat);

	if (nr >= 0 && nr < 64)
		return (below_64 >> nr) & 1;
	switch (nr) {
	case NR_creat:
	case NR_openat:
	case NR_preadv: /* also NR32_openat */
	case NR_pwritev:
	case NR_preadv2:
	case NR_pwritev2:
	case NR_openat2:
	case NR32_readv:
	case NR32_writev:
	case NR32_pread64:
	case NR32_pwrite64:
	case NR32_preadv:
	case NR32_pwritev:
	case NR32_preadv2:
	case NR32_pwritev2:
	case NR_sendmmsg:
	case NR_recvmmsg:
		return true;
	default:
		return false;
	}
}

static __always_inline void sys_exit(struct pt_regs *regs, long ret, bool typed)
{
	struct syscall sc;

	if (!maybe_watched(regs->orig_ax))
		return;
	read_syscall(regs, &sc);
	switch (sc.nr) {
	case NR_open:
	case NR_creat:
	case NR_openat:
	case NR_openat2:
		if (wanted(CLASS_FILE))
			on_open_exit(&sc, ret, typed);
		break;
	case NR_read:
	case NR_write:
	case NR_pread64:
	case NR_pwrite64:
	case NR_readv:
	case NR_writev:
	case NR_preadv:
	case NR_pwritev:
	case NR_preadv2:
	case NR_pwritev2:
		if (wanted(CLASS_FILE))
			on_file_io_exit(sc.nr, sc.arg[0], ret, typed);
		break;
	case NR_sendmmsg:
	case NR_recvmmsg:
		if ((events_mask & CLASS_DNS) && wanted(CLASS_DNS))
			on_mmsg_exit(&sc, ret, sc.nr == NR_sendmmsg);
		break;
	}
}

/* Kernels >= 6.2: a file's fields are plain loads (bpf_rdonly_cast). */
SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	sys_exit(regs, ret, true);
	return 0;
}

/* The stand-in for older kernels: the same, a helper call per field. */
SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit_read, struct pt_regs *regs, long ret)
{
	sys_exit(regs, ret, false);
	return 0;
}

#endif /* PODTOP_SYS_EXIT_H */
