// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor `make bench` measures podtop against: what the syscall hook
 * podtop uses (tp_btf/sys_exit) costs with nothing in it, and with the least
 * a byte counter needs. Loaded by the benchmark only, never by podtop.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* x86_64 syscall numbers */
#define NR_read 0
#define NR_write 1
#define NR_pread64 17
#define NR_pwrite64 18

/* Every syscall on the node runs this: the cost of the hook itself. */
SEC("tp_btf/sys_exit")
int BPF_PROG(floor_empty, struct pt_regs *regs, long ret)
{
	return 0;
}

struct cgroup_bytes {
	__u64 read_bytes;
	__u64 write_bytes;
};

/* Per CPU: plain adds, no atomics, no cache line shared between cores. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct cgroup_bytes);
} bytes_by_cgroup SEC(".maps");

/* The least a per-cgroup byte counter does: the syscall number, one lookup
 * (an insert the first time), one add. It does not tell regular files from
 * sockets or pipes, which podtop must. */
SEC("tp_btf/sys_exit")
int BPF_PROG(floor_bytes_per_cpu, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	struct cgroup_bytes *bytes;
	__u64 cgroup_id;

	if (ret <= 0 || (nr != NR_read && nr != NR_write && nr != NR_pread64 && nr != NR_pwrite64))
		return 0;
	cgroup_id = bpf_get_current_cgroup_id();
	bytes = bpf_map_lookup_elem(&bytes_by_cgroup, &cgroup_id);
	if (!bytes) {
		struct cgroup_bytes zero = {};

		bpf_map_update_elem(&bytes_by_cgroup, &cgroup_id, &zero, BPF_NOEXIST);
		bytes = bpf_map_lookup_elem(&bytes_by_cgroup, &cgroup_id);
		if (!bytes)
			return 0;
	}
	if (nr == NR_write || nr == NR_pwrite64)
		bytes->write_bytes += ret;
	else
		bytes->read_bytes += ret;
	return 0;
}
