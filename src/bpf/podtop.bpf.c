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
 *
 * One compilation unit, one skeleton: this file holds what the whole program
 * shares (the license, the configuration user space writes before load, the
 * boundary's dummy instances) and includes the hook families, each a header
 * with its own maps, constants and helpers. lib/ holds what several families
 * use: the ring buffer, the counters, the filters (common.h), a socket's
 * endpoints (sock.h), a syscall's number and arguments (syscall.h). A header
 * includes the headers it uses; the order below is the programs' order in the
 * object and in the generated skeleton.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

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
/* A TCP connection that sends or receives once this long has passed since
 * its last progress record (or its start) reports what it did since (tcp.h);
 * 0: connections report only at close. */
const volatile __u64 progress_interval_ns = 0;
/* Which record kinds go through the ring buffer (bit 1 << kind): the TUI
 * takes opens from counters only, so they are never shipped one by one. */
const volatile __u32 ringbuf_kinds = 0xffffffff;
/* Ship an open only the first time its file is seen (the TUI wants the names
 * of files for its counters, not every open). */
const volatile bool first_open_per_file = false;
/* The ports whose datagrams are DNS (dns.h): 53 and up to three more
 * (--dns-port); 0: unused. */
const volatile __u16 dns_ports[4] = {53};

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
struct h2_piece _h2_piece = {};
/* The enums too: Rust gets them from the skeleton, not from a second copy. */
enum event_kind _event_kind = EVENT_EXEC;
enum event_class _event_class = CLASS_EXEC;
enum payload_protocol _payload_protocol = PAYLOAD_HTTP;
enum sock_role _sock_role = ROLE_NONE;
enum h2_piece_kind _h2_piece_kind = H2_PIECE_HEADER;
enum h2_limits _h2_limits = H2_BLOCK_MAX;

#include "exec.h"      /* exec and exit of processes */
#include "files.h"     /* opens, reads and writes of files (from sys_exit.h) */
#include "payload.h"   /* the payload record and the user buffer it is copied from */
#include "dns.h"       /* DNS datagrams on UDP sockets (--events dns) */
#include "sys_exit.h"  /* the one syscall hook, dispatching to files.h and dns.h */
#include "tcp.h"       /* TCP connections: their state, listeners, connect, accept, close */
#include "http.h"      /* HTTP/1 heads, HTTP/2 frames (http2.h) and TLS ClientHellos on TCP connections (--events http) */
#include "adopt.h"     /* TCP connections older than podtop, adopted at their first send or receive */
#include "sockbytes.h" /* socket sends and receives: TCP and UDP bytes, payload capture */
#include "cgroup.h"    /* cgroups made and removed, with their paths */
