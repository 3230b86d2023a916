// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podtop's kernel side: exec, file and network activity of every process,
 * captured with the identity (cgroup, namespaces, pid) of whoever did it.
 *
 * Every attach point is a BTF-typed raw tracepoint (tp_btf): they need neither
 * tracefs nor kprobes, and work on kernels in lockdown where fentry does not.
 * Syscalls are seen through the one raw `sys_exit` tracepoint: the saved user
 * registers still hold the arguments there, so no enter/exit pairing map is
 * needed.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define MSG_PEEK 2
#define S_IFMT 0170000
#define S_IFREG 0100000
#define S_IFSOCK 0140000
#define MAX_CGROUP_DEPTH 16

/* x86_64 syscall numbers seen by the sys_exit program. */
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
#define O_WRONLY 01
#define O_CREAT 0100
#define O_TRUNC 01000

/* TCP states (include/net/tcp_states.h) */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_LAST_ACK 9
#define TCP_LISTEN 10
#define SOCK_DONE 1 /* enum sock_flags: set when a FIN is received */

/* Configuration, written by user space before load. */
const volatile __u32 events_mask = CLASS_EXEC | CLASS_FILE | CLASS_NET;
const volatile __u32 filter_pid = 0;
const volatile bool filter_by_cgroup = false;
/* Wake the reader only once this much is queued: batches wakeups at high
 * rates; the reader also polls on a short timeout so nothing waits long. */
const volatile __u64 wakeup_bytes = 0;
/* Report TCP close when the socket is destroyed (tcp:tcp_destroy_sock): by then
 * the application has read and written all it will, so the byte counts are
 * final. Without that tracepoint, close is reported at the TCP_CLOSE state,
 * which can come before the application reads the last bytes queued for it. */
const volatile bool close_at_destroy = false;
/* No tracepoint or fexit counts TCP bytes sent (received) on this kernel:
 * they are taken at close from the socket's sequence numbers instead. */
const volatile bool tcp_tx_from_sequence = false;
const volatile bool tcp_rx_from_sequence = false;
/* Which record kinds go through the ring buffer (bit 1 << kind): the TUI
 * takes opens from counters only, so they are never shipped one by one. */
const volatile __u32 ringbuf_kinds = 0xffffffff;
/* Ship an open only the first time its file is seen (the TUI wants the names
 * of files for its counters, not every open). */
const volatile bool first_open_per_file = false;

/* Dummy instances so the skeleton generates Rust types for the boundary. */
struct exec_event _exec_event = {};
struct exit_event _exit_event = {};
struct open_event _open_event = {};
struct conn_event _conn_event = {};
struct cgroup_event _cgroup_event = {};
struct file_io_key _file_io_key = {};
struct file_io_value _file_io_value = {};
struct udp_key _udp_key = {};
struct udp_value _udp_value = {};
struct kind_counters _kind_counters = {};
struct cgroup_counters _cgroup_counters = {};
struct listener_key _listener_key = {};
struct listener_value _listener_value = {};
struct payload_event _payload_event = {};
/* The enums too: Rust gets them from the skeleton, not from a second copy. */
enum event_kind _event_kind = EVENT_EXEC;
enum event_class _event_class = CLASS_EXEC;
enum payload_protocol _payload_protocol = PAYLOAD_HTTP;
enum sock_role _sock_role = ROLE_NONE;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024); /* resized by user space */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kind_counters);
} counters SEC(".maps");

/* Cgroup ids whose whole subtree passes the --pod/--container filter. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_filter SEC(".maps");

/* Per CPU: every read and write on the node adds to its cgroup's counters,
 * and a shared entry would bounce its cache line between the cores doing I/O
 * in one cgroup; user space sums the CPUs' copies each interval. Allocated per
 * entry: preallocated, it would hold 16384 entries x every CPU's copy. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct cgroup_counters);
} cgroup_stats SEC(".maps");

/* Plain hashes, not LRU: an eviction would lose counts silently. User space
 * removes entries that stayed idle; a full map is counted as dropped. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct file_io_key);
	__type(value, struct file_io_value);
} file_io SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct udp_key);
	__type(value, struct udp_value);
} udp_flows SEC(".maps");

/* Set by the socket tracepoints inside a read/write(v) on a socket, so that
 * the syscall's exit need not look the fd up to learn it is no regular file.
 * Per CPU, for one (task, fd): a task moved to another CPU in between just
 * takes the lookup, and a stale entry only matches that task and fd again. */
struct socket_io {
	__u64 task;
	__u64 fd;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct socket_io);
} socket_io_task SEC(".maps");

/* A file as one mount namespace sees it: a path names a file only within a
 * namespace, so each namespace's first open is shipped, and a pod that opens a
 * host file first, through a link of its own, does not keep the host's open
 * of it from being named. */
struct file_id {
	__u64 ino;
	__u32 dev;
	__u32 mntns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH); /* forgetting a file only ships its name again */
	__uint(max_entries, 65536);
	__type(key, struct file_id);
	__type(value, __u8);
} named_files SEC(".maps");

/* Which way a connection's last bytes went. */
enum turn { TURN_NONE = 0, TURN_SENT = 1, TURN_RECEIVED = 2 };

/* What podtop knows of one TCP socket; freed by the kernel with the socket. */
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
	/* What the connection carries, from its first bytes (enum l7_kind). */
	__u8 l7;
};

/* L7_TLS_HEADER: a TLS handshake record's 5-byte header was read alone; the
 * next read has its message. */
enum l7_kind { L7_UNKNOWN = 0, L7_HTTP = 1, L7_OTHER = 2, L7_TLS_HEADER = 3 };

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

static __always_inline void count(__u32 kind, bool lost)
{
	__u32 zero = 0;
	struct kind_counters *c = bpf_map_lookup_elem(&counters, &zero);

	if (!c || kind >= EVENT_KIND_COUNT)
		return;
	if (lost)
		c->lost[kind]++;
	else
		c->seen[kind]++;
}

enum counter_map { FILE_IO_MAP, UDP_MAP, CGROUP_MAP };

static __always_inline void count_dropped(enum counter_map map)
{
	__u32 zero = 0;
	struct kind_counters *c = bpf_map_lookup_elem(&counters, &zero);

	if (!c)
		return;
	if (map == UDP_MAP)
		c->udp_dropped++;
	else if (map == FILE_IO_MAP)
		c->file_io_dropped++;
	else
		c->cgroup_dropped++;
}

/* A ring buffer slot for a record of `kind`, or NULL: not shipped to this
 * sink (counted as seen), or the ring buffer is full (counted as lost).
 *
 * The slot is tested against NULL once on each path, and callers test it once
 * more: the verifier of kernels before 6.2 does not know that a ring buffer
 * pointer found non-NULL stays so, and would follow the impossible branch to
 * an "unreleased reference". Written as branches, the compiler folds the two
 * tests into one; computing `e == NULL` into a flag does not fold. */
/* Whether records of `kind` go to the ring buffer for this sink; one that
 * does not is counted as seen. */
static __always_inline bool shipped(__u32 kind)
{
	if (ringbuf_kinds & (1U << kind))
		return true;
	count(kind, false);
	return false;
}

static __always_inline void *reserve(__u64 size, __u32 kind)
{
	void *e;

	if (!shipped(kind))
		return NULL;
	e = bpf_ringbuf_reserve(&events, size, 0);
	if (!e) {
		count(kind, true);
		return NULL;
	}
	count(kind, false);
	return e;
}

static __always_inline struct cgroup_counters *cgroup_counters_of(__u64 cgroup_id)
{
	struct cgroup_counters *c = bpf_map_lookup_elem(&cgroup_stats, &cgroup_id);

	if (c)
		return c;
	struct cgroup_counters zero = {};
	bpf_map_update_elem(&cgroup_stats, &cgroup_id, &zero, BPF_NOEXIST);
	c = bpf_map_lookup_elem(&cgroup_stats, &cgroup_id);
	if (!c)
		count_dropped(CGROUP_MAP);
	return c;
}

/* Adds to one counter of a cgroup: the field's offset in the struct. The
 * entry is this CPU's own copy; the add stays atomic because a program in
 * softirq (a socket's close) can interrupt another on the same CPU. */
#define COUNT(cgroup_id, field, n)                                                  \
	do {                                                                        \
		struct cgroup_counters *__c = cgroup_counters_of(cgroup_id);        \
		if (__c)                                                            \
			__sync_fetch_and_add(&__c->field, (n));                     \
	} while (0)

/* Two counters of one cgroup with one lookup: an operation and its bytes. */
#define COUNT2(cgroup_id, field1, n1, field2, n2)                                   \
	do {                                                                        \
		struct cgroup_counters *__c = cgroup_counters_of(cgroup_id);        \
		if (__c) {                                                          \
			__sync_fetch_and_add(&__c->field1, (n1));                   \
			__sync_fetch_and_add(&__c->field2, (n2));                   \
		}                                                                   \
	} while (0)

/* Wake the reader only once wakeup_bytes are waiting (0: at every record). */
static __always_inline __u64 wakeup_flags(void)
{
	if (!wakeup_bytes)
		return 0;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void submit(void *e)
{
	bpf_ringbuf_submit(e, wakeup_flags());
}

static __always_inline bool pid_wanted(void)
{
	return !filter_pid || (bpf_get_current_pid_tgid() >> 32) == filter_pid;
}

/* True when the current task is inside one of the filtered cgroups' subtrees:
 * a pod's cgroup covers its containers, also those started after podtop. */
static __always_inline bool cgroup_wanted(void)
{
	if (!filter_by_cgroup)
		return true;
	for (int level = 1; level <= MAX_CGROUP_DEPTH; level++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);

		if (!id)
			break;
		if (bpf_map_lookup_elem(&cgroup_filter, &id))
			return true;
	}
	return false;
}

static __always_inline bool wanted(__u32 class)
{
	return (events_mask & class) && pid_wanted() && cgroup_wanted();
}

static __always_inline void fill_identity(struct process_identity *who)
{
	/* Typed (BTF) pointers: each field below is a plain load, not a helper
	 * call; a NULL on the way reads as 0, as BPF_CORE_READ's would. */
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	who->cgroup_id = bpf_get_current_cgroup_id();
	who->pid = pid_tgid >> 32;
	who->tid = (__u32)pid_tgid;
	who->uid = (__u32)uid_gid;
	who->gid = uid_gid >> 32;
	who->ppid = task->real_parent->tgid;
	/* nsproxy is NULL late in exit; the loads then yield 0 */
	who->netns = task->nsproxy->net_ns->ns.inum;
	who->mntns = task->nsproxy->mnt_ns->ns.inum;
	bpf_get_current_comm(who->comm, sizeof(who->comm));
}

static __always_inline void fill_header(struct event_header *hdr, __u32 kind)
{
	hdr->boot_ns = bpf_ktime_get_boot_ns();
	hdr->kind = kind;
	hdr->_pad = 0;
	fill_identity(&hdr->who);
}

/* ---------------------------------------------------------------- exec */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct exec_event *e;
	unsigned long arg_start, arg_end, len;
	struct file *file;
	struct inode *inode;
	long n;

	if (!wanted(CLASS_EXEC))
		return 0;
	COUNT(bpf_get_current_cgroup_id(), execs, 1);
	e = reserve(sizeof(*e), EVENT_EXEC);
	if (!e)
		return 0;
	fill_header(&e->hdr, EVENT_EXEC);

	/* the tracepoint's arguments are typed pointers: plain loads */
	n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), bprm->filename);
	e->filename_len = n > 0 ? n - 1 : 0;
	e->filename_truncated = n == sizeof(e->filename);

	/* A program whose file no directory holds leaves nothing on disk to look
	 * at afterwards: a memfd (memfd_create, then execveat or /proc/self/fd/N)
	 * or a file deleted before its exec. Both have no link left. The name is
	 * its dentry's, not the path it was run by (that is /proc/self/fd/N).
	 * A script's bprm->file is its interpreter's by now: a script run from
	 * a memfd is not marked (its record says filename /proc/self/fd/N, args
	 * /bin/sh /proc/self/fd/N ..., measured). */
	file = bprm->file;
	inode = file ? file->f_inode : NULL; /* a NULL on the way would read as no link */
	e->fileless = inode && inode->i_nlink == 0;
	e->_pad = 0;
	e->dname_len = 0;
	if (e->fileless) {
		n = bpf_probe_read_kernel_str(e->dname, sizeof(e->dname), file->f_path.dentry->d_name.name);
		e->dname_len = n > 0 ? n - 1 : 0;
	}

	/* argv lives on the new program's stack, NUL-separated */
	arg_start = task->mm->arg_start;
	arg_end = task->mm->arg_end;
	len = arg_end > arg_start ? arg_end - arg_start : 0;
	e->args_truncated = len > ARGS_MAX_LEN;
	if (len > ARGS_MAX_LEN)
		len = ARGS_MAX_LEN;
	if (bpf_probe_read_user(e->args, len, (void *)arg_start))
		len = 0;
	e->args_len = len;
	submit(e);
	return 0;
}

static __always_inline void emit_exit(struct task_struct *task)
{
	struct exit_event *e;

	COUNT(bpf_get_current_cgroup_id(), exits, 1);
	e = reserve(sizeof(*e), EVENT_EXIT);
	if (!e)
		return;
	fill_header(&e->hdr, EVENT_EXIT);
	/* `task` is the tracepoint's typed pointer: plain loads */
	e->exit_code = task->signal->group_exit_code;
	if (!e->exit_code)
		e->exit_code = task->exit_code;
	e->duration_ns = bpf_ktime_get_ns() - task->group_leader->start_time;
	e->_pad = 0;
	submit(e);
}

/* Kernels >= 6.16 pass group_dead: one record per process, when its last
 * thread is gone. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task, bool group_dead)
{
	if (group_dead && wanted(CLASS_EXEC))
		emit_exit(task);
	return 0;
}

/* Processes whose exit was reported, by their signal_struct and the start
 * time of their leader (a freed signal_struct's address can come back). */
struct exited_group {
	__u64 signal;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct exited_group);
	__type(value, __u64);
} exited_groups SEC(".maps");

/* Older kernels pass only the task. do_exit() has already counted the thread
 * out of signal->live, so the last thread finds it at 0; two threads ending
 * at once can both find 0, and the map lets only the first one report. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit_live, struct task_struct *task)
{
	struct exited_group key = {};
	__u64 started, *reported;

	if (BPF_CORE_READ(task, signal, live.counter) != 0 || !wanted(CLASS_EXEC))
		return 0;
	key.signal = (__u64)BPF_CORE_READ(task, signal);
	started = BPF_CORE_READ(task, group_leader, start_time);
	if (bpf_map_update_elem(&exited_groups, &key, &started, BPF_NOEXIST)) {
		reported = bpf_map_lookup_elem(&exited_groups, &key);
		if (reported && *reported == started)
			return 0;
		bpf_map_update_elem(&exited_groups, &key, &started, BPF_ANY);
	}
	emit_exit(task);
	return 0;
}

/* ---------------------------------------------------------------- files */

/* The hot path of opens, reads and writes: BTF-typed loads from the current
 * task (plain loads, no helper call) down to the fd array, then one read. */
static __always_inline struct file *file_of_fd(unsigned int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct files_struct *files = task->files;
	struct fdtable *fdt;
	struct file **fds;
	struct file *file = NULL;

	if (!files)
		return NULL;
	fdt = files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	bpf_probe_read_kernel(&file, sizeof(file), (void *)((unsigned long)fds + fd * sizeof(file)));
	return file;
}

/* What the file paths need of an open file. */
struct file_facts {
	__u64 ino;
	__u32 dev;
	bool regular;
};

/* The fd table holds its files as plain numbers to a BPF program, so each
 * field behind them takes a helper call (five here). Where the kernel lets a
 * program make such a number a typed pointer again (bpf_rdonly_cast, >= 6.2:
 * `typed`), they are plain loads, which is most of what a read or write costs
 * podtop beyond the hook itself. `typed` is a constant in each program. */
static __always_inline void file_facts_of(struct file *file, bool typed, struct file_facts *out)
{
	if (typed) {
		struct inode *inode = bpf_core_cast(file, struct file)->f_inode;

		out->regular = (inode->i_mode & S_IFMT) == S_IFREG;
		out->ino = inode->i_ino;
		out->dev = inode->i_sb->s_dev;
	} else {
		struct inode *inode = BPF_CORE_READ(file, f_inode);

		out->regular = (BPF_CORE_READ(inode, i_mode) & S_IFMT) == S_IFREG;
		out->ino = BPF_CORE_READ(inode, i_ino);
		out->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	}
}

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

static __always_inline void on_open_exit(struct syscall *sc, long ret, bool typed)
{
	struct open_event *e;
	const char *path;
	struct file_facts facts = {};
	long n;
	struct cgroup_counters *counters = cgroup_counters_of(bpf_get_current_cgroup_id());

	if (counters) {
		counters->opens++; /* plain adds: see on_file_io_exit */
		if (ret < 0)
			counters->open_errors++;
	}
	if (ret >= 0)
		file_facts_of(file_of_fd(ret), typed, &facts);
	if (first_open_per_file) {
		struct task_struct *task = bpf_get_current_task_btf();
		struct file_id id = {.ino = facts.ino, .dev = facts.dev, .mntns = task->nsproxy->mnt_ns->ns.inum};
		__u8 yes = 1;

		if (ret < 0 || bpf_map_lookup_elem(&named_files, &id)) {
			count(EVENT_OPEN, false);
			return;
		}
		bpf_map_update_elem(&named_files, &id, &yes, BPF_ANY);
	}
	e = reserve(sizeof(*e), EVENT_OPEN);
	if (!e)
		return;
	fill_header(&e->hdr, EVENT_OPEN);
	if (sc->nr == NR_open) {
		path = (const char *)sc->arg[0];
		e->flags = sc->arg[1];
	} else if (sc->nr == NR_creat) { /* open(path, O_CREAT|O_WRONLY|O_TRUNC, mode) */
		path = (const char *)sc->arg[0];
		e->flags = O_CREAT | O_WRONLY | O_TRUNC;
	} else if (sc->nr == NR_openat) {
		path = (const char *)sc->arg[1];
		e->flags = sc->arg[2];
	} else { /* openat2: flags are the first field of struct open_how */
		path = (const char *)sc->arg[1];
		e->flags = 0;
		bpf_probe_read_user(&e->flags, sizeof(e->flags), (void *)sc->arg[2]);
	}
	n = bpf_probe_read_user_str(e->path, sizeof(e->path), path);
	e->path_len = n > 0 ? n - 1 : 0;
	e->path_truncated = n == sizeof(e->path);
	e->ret = ret;
	e->ino = facts.ino;
	e->dev = facts.dev;
	submit(e);
}

static __always_inline void on_file_io_exit(long nr, unsigned int fd, long ret, bool typed)
{
	struct file_io_key key = {};
	struct file_io_value *value;
	struct cgroup_counters *counters;
	struct file_facts facts;
	struct file *file;
	bool is_write;
	__u32 zero = 0;
	struct socket_io *socket_io;

	if (ret <= 0)
		return;
	socket_io = bpf_map_lookup_elem(&socket_io_task, &zero);
	if (socket_io && socket_io->task == bpf_get_current_pid_tgid()) {
		bool same_fd = socket_io->fd == fd;

		socket_io->task = 0;
		if (same_fd)
			return; /* this read or write was on a socket, counted per socket */
	}
	file = file_of_fd(fd);
	if (!file)
		return;
	file_facts_of(file, typed, &facts);
	/* sockets and pipes are not file I/O; network bytes are counted per socket */
	if (!facts.regular)
		return;
	key.cgroup_id = bpf_get_current_cgroup_id();
	key.pid = bpf_get_current_pid_tgid() >> 32;
	key.ino = facts.ino;
	key.dev = facts.dev;

	value = bpf_map_lookup_elem(&file_io, &key);
	if (!value) {
		struct file_io_value init = {};

		fill_identity(&init.who);
		bpf_map_update_elem(&file_io, &key, &init, BPF_NOEXIST);
		value = bpf_map_lookup_elem(&file_io, &key);
		if (!value) {
			count_dropped(FILE_IO_MAP);
			return;
		}
	}
	is_write = nr == NR_write || nr == NR_pwrite64 || nr == NR_writev || nr == NR_pwritev ||
		   nr == NR_pwritev2;
	/* The file's entry is shared by the process's threads: atomic adds. */
	if (is_write) {
		__sync_fetch_and_add(&value->write_bytes, ret);
		__sync_fetch_and_add(&value->writes, 1);
	} else {
		__sync_fetch_and_add(&value->read_bytes, ret);
		__sync_fetch_and_add(&value->reads, 1);
	}
	/* The cgroup's counters are this CPU's copy, and only this program
	 * writes these fields: it runs with preemption off and a syscall never
	 * exits inside another's exit on one CPU, so plain adds lose nothing.
	 * (Programs that interrupt it, in softirq, write other fields.) */
	counters = cgroup_counters_of(key.cgroup_id);
	if (!counters)
		return;
	if (is_write) {
		counters->file_write_bytes += ret;
		counters->file_writes++;
	} else {
		counters->file_read_bytes += ret;
		counters->file_reads++;
	}
}

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

static __always_inline void on_mmsg_exit(struct syscall *sc, long ret, bool tx);

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

/* ---------------------------------------------------------------- network */

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
	if (kind == EVENT_CONNECT || kind == EVENT_ACCEPT) {
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
	e->duration_ns = kind == EVENT_CLOSE ? bpf_ktime_get_boot_ns() - st->start_ns : 0;
	e->cookie = bpf_get_socket_cookie((void *)sk);
	e->local = st->local;
	__builtin_memset(e->_pad2, 0, sizeof(e->_pad2));
	e->role = st->role;
	if (kind == EVENT_CLOSE)
		e->turns = st->turns;
	else
		__builtin_memset(&e->turns, 0, sizeof(e->turns));
	submit(e);
}

static __always_inline void reset_turns(struct sock_state *st)
{
	__builtin_memset(&st->turns, 0, sizeof(st->turns));
	st->turn = TURN_NONE;
}

/* One send (tx) or receive on a connection: the exchange or reply it ends.
 * Two threads sending and receiving on one socket at once can lose an
 * update to a count or a sum: user space takes the turns as estimates. */
static __always_inline void take_turn(struct sock_state *st, bool tx)
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
		bpf_map_delete_elem(&listeners, &key);
		return;
	}
	/* listen() runs in the listening process: the current task is its owner */
	fill_identity(&value.who);
	value.wanted = wanted(CLASS_NET);
	bpf_map_update_elem(&listeners, &key, &value, BPF_ANY);
	if (value.wanted) {
		struct sock_state st = {.who = value.who};

		emit_conn(sk, &st, EVENT_LISTEN);
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
	st->start_ns = bpf_ktime_get_boot_ns();
	st->tx_bytes = 0;
	st->rx_bytes = 0;
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
		st->start_ns = bpf_ktime_get_boot_ns();
		st->tx_bytes = 0;
		st->rx_bytes = 0;
		reset_turns(st);
		st->role = ROLE_CONNECT;
		st->wanted = 1;
		st->established = 0;
		st->owner_from_listener = 0;
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

/* ---------------------------------------------------------------- payload */

/* A payload record and its data, built here, not on the stack (it is larger
 * than the BPF stack), then shipped only as long as its data. */
struct payload_record {
	struct payload_event e;
	__u8 data[PAYLOAD_MAX_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct payload_record);
} payload_scratch SEC(".maps");

/* Copied of an HTTP read or write: a request line or a status line, enough
 * for a method, a path and a version. A ClientHello gets PAYLOAD_MAX_LEN - 1. */
#define HTTP_HEAD_LEN 256

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

/* What the first bytes of a connection say it carries: HTTP/1 (a request
 * line's method, or a status line), a TLS ClientHello, or something else. */
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
	const void *buf = user_buffer(regs, nr, &room);
	struct payload_record *r;
	struct payload_event *e;

	if (!buf || bpf_probe_read_user(first, sizeof(first), buf))
		return;
	protocol = bytes >= sizeof(first) && room >= sizeof(first) ? classify(first) : 0;
	if (st->l7 == L7_UNKNOWN) {
		/* A server that reads a record's header before its body: a
		 * handshake record's header, read alone, waits for the next read. */
		if (!tx && bytes == 5 && first[0] == 22 && first[1] == 3 && first[2] <= 4) {
			st->l7 = L7_TLS_HEADER;
			return;
		}
		/* decided by the connection's first bytes, either way */
		st->l7 = protocol == PAYLOAD_HTTP ? L7_HTTP : L7_OTHER;
		if (protocol == 0)
			return;
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

/* DNS: the datagrams of UDP sockets that talk to or serve a DNS port, each
 * shipped whole up to PAYLOAD_MAX_LEN - 1 bytes (a query, or an answer with
 * its first records); user space pairs queries with answers. */

/* 53 and up to three more (--dns-port); 0: unused. */
const volatile __u16 dns_ports[4] = {53};

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

static __always_inline void count_sock_bytes(struct sock *sk, int bytes, bool tx)
{
	struct sock_state *st;
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
	if (!st || !st->wanted)
		return;
	if (st->owner_from_listener) {
		/* in process context now: the process that accepted the socket */
		fill_identity(&st->who);
		st->owner_from_listener = 0;
	}
	/* timed before the payload is copied: that is podtop's time, not the turn's */
	take_turn(st, tx);
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
}

/* Socket bytes, from the best source the kernel offers (user space picks
 * one): the sock_{send,recv}_length tracepoints (6.5+), else fexit on the
 * protocols' sendmsg/recvmsg (needs a kernel that allows fexit), else TCP
 * totals at close from the socket's sequence numbers (tcp_*_from_sequence). */

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

/* ---------------------------------------------------------------- cgroups */

/* New cgroups are announced with their path while they exist, so a container
 * that lives a millisecond is still named (kept even after rmdir). */
static __always_inline void emit_cgroup(struct cgroup *cgrp, const char *path, __u32 kind)
{
	struct cgroup_event *e;
	long n;

	/* hierarchy 0 is the cgroup v2 (default) hierarchy */
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return;
	e = reserve(sizeof(*e), kind);
	if (!e)
		return;
	fill_header(&e->hdr, kind);
	e->id = BPF_CORE_READ(cgrp, kn, id);
	e->level = BPF_CORE_READ(cgrp, level);
	n = bpf_probe_read_kernel_str(e->path, sizeof(e->path), path);
	e->path_len = n > 0 ? n - 1 : 0;
	submit(e);
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(on_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	emit_cgroup(cgrp, path, EVENT_CGROUP_MKDIR);
	return 0;
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(on_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	emit_cgroup(cgrp, path, EVENT_CGROUP_RMDIR);
	return 0;
}
