/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Processes: an exec with its file and arguments, and an exit with its code
 * and duration, one per process (--events exec).
 */
#ifndef PODTOP_EXEC_H
#define PODTOP_EXEC_H

#include "lib/common.h"

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

#endif /* PODTOP_EXEC_H */
