/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A syscall as its exit sees it: its number, through the native or the 32-bit
 * entry, and its first arguments from the saved user registers. The numbers
 * are x86_64's (build.rs builds for x86_64 only).
 */
#ifndef PODTOP_LIB_SYSCALL_H
#define PODTOP_LIB_SYSCALL_H

/* x86_64 syscall numbers: the native entry's. */
#define NR_read 0
#define NR_write 1
#define NR_open 2
#define NR_pread64 17
#define NR_pwrite64 18
#define NR_readv 19
#define NR_writev 20
#define NR_openat 257
#define NR_preadv 295
#define NR_pwritev 296
#define NR_preadv2 327
#define NR_pwritev2 328
#define NR_openat2 437
#define NR_creat 85
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_sendmmsg 307
#define NR_recvmmsg 299

/* The same calls made through the 32-bit entry (int $0x80, sysenter): other
 * numbers, arguments in bx, cx, dx. Read as x86_64 numbers they would be
 * other calls (getpid, 20, would read as writev). */
#define NR32_read 3
#define NR32_write 4
#define NR32_open 5
#define NR32_creat 8
#define NR32_readv 145
#define NR32_writev 146
#define NR32_pread64 180
#define NR32_pwrite64 181
#define NR32_openat 295
#define NR32_preadv 333
#define NR32_pwritev 334
#define NR32_preadv2 378
#define NR32_pwritev2 379
#define TS_COMPAT 0x0002 /* thread_info.status: in a 32-bit syscall */

/* A syscall's number and first arguments, whichever entry it came through. */
struct syscall {
	long nr; /* the x86_64 number of the same call */
	unsigned long arg[3];
};

static __always_inline long native_nr(long nr32)
{
	switch (nr32) {
	case NR32_read: return NR_read;
	case NR32_write: return NR_write;
	case NR32_open: return NR_open;
	case NR32_creat: return NR_creat;
	case NR32_readv: return NR_readv;
	case NR32_writev: return NR_writev;
	case NR32_pread64: return NR_pread64;
	case NR32_pwrite64: return NR_pwrite64;
	case NR32_openat: return NR_openat;
	case NR32_preadv: return NR_preadv;
	case NR32_pwritev: return NR_pwritev;
	case NR32_preadv2: return NR_preadv2;
	case NR32_pwritev2: return NR_pwritev2;
	case NR_openat2: return NR_openat2; /* numbers from 424 on are shared */
	default: return -1;
	}
}

static __always_inline void read_syscall(struct pt_regs *regs, struct syscall *sc)
{
	struct task_struct *task = bpf_get_current_task_btf();
	bool compat = false;

	if (bpf_core_field_exists(task->thread_info.status))
		compat = task->thread_info.status & TS_COMPAT;
	if (compat) {
		sc->nr = native_nr(regs->orig_ax);
		sc->arg[0] = regs->bx;
		sc->arg[1] = regs->cx;
		sc->arg[2] = regs->dx;
	} else {
		sc->nr = regs->orig_ax;
		sc->arg[0] = regs->di;
		sc->arg[1] = regs->si;
		sc->arg[2] = regs->dx;
	}
}

#endif /* PODTOP_LIB_SYSCALL_H */
