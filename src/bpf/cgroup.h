/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Cgroups: each made or removed cgroup v2 directory, with its id and path,
 * so that user space names a container's cgroup however short its life.
 */
#ifndef PODTOP_CGROUP_H
#define PODTOP_CGROUP_H

#include "lib/common.h"

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

#endif /* PODTOP_CGROUP_H */
