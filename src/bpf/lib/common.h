/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every hook family uses: the ring buffer and its reserve/submit, the
 * per-kind and per-cgroup counters, the --pid, --pod and --container filters,
 * and the identity every record carries. podtop.bpf.c includes the families
 * after its configuration globals, which these helpers read.
 */
#ifndef PODTOP_LIB_COMMON_H
#define PODTOP_LIB_COMMON_H

/* The deepest cgroup level the cgroup filter looks at, for a task here and
 * for a socket in tcp.h. */
#define MAX_CGROUP_DEPTH 16

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

/* Cgroup ids whose whole subtree passes the --pod/--container filter. Read
 * here for the current task and by tcp.h for a socket's own cgroup. */
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

/* Whether records of `kind` go to the ring buffer for this sink; one that
 * does not is counted as seen. */
static __always_inline bool shipped(__u32 kind)
{
	if (ringbuf_kinds & (1U << kind))
		return true;
	count(kind, false);
	return false;
}

/* A ring buffer slot for a record of `kind`, or NULL: not shipped to this
 * sink (counted as seen), or the ring buffer is full (counted as lost).
 *
 * The slot is tested against NULL once on each path, and callers test it once
 * more: the verifier of kernels before 6.2 does not know that a ring buffer
 * pointer found non-NULL stays so, and would follow the impossible branch to
 * an "unreleased reference". Written as branches, the compiler folds the two
 * tests into one; computing `e == NULL` into a flag does not fold. */
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

#endif /* PODTOP_LIB_COMMON_H */
