/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Files (--events file): opens, shipped one by one, and reads and writes of
 * regular files, counted per (cgroup, process, file) in file_io. Both run at
 * the syscall's exit (sys_exit.h); the fd table says which file an fd is.
 */
#ifndef PODTOP_FILES_H
#define PODTOP_FILES_H

#include "lib/common.h"
#include "lib/consts.h"
#include "lib/syscall.h"

#define O_WRONLY 01
#define O_CREAT 0100
#define O_TRUNC 01000

/* Reads and writes per (cgroup, process, file). A plain hash, not LRU: an
 * eviction would lose counts silently. User space removes entries that stayed
 * idle; a full map is counted as dropped. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct file_io_key);
	__type(value, struct file_io_value);
} file_io SEC(".maps");

/* Set by the socket tracepoints inside a read/write(v) on a socket, so that
 * the syscall's exit need not look the fd up to learn it is no regular file.
 * Per CPU, for one (task, fd): a task moved to another CPU in between just
 * takes the lookup, and a stale entry only matches that task and fd again.
 * Written by sockbytes.h, read here: it sits in the lower of the two families
 * (sockbytes.h includes this header). */
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

#endif /* PODTOP_FILES_H */
