/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel/user boundary of podtop, declared once.
 *
 * Every record in the ring buffer starts with `struct event_header`; its
 * `kind` says which struct follows. The Rust side gets these structs from the
 * generated skeleton (`types::*`), never from a hand-written twin.
 *
 * Bounds (documented in the README): exec filename 512 bytes, argv 4096 bytes
 * (NUL-separated), a fileless exec's file name 255 bytes, open path 512 bytes,
 * cgroup path 512 bytes. A field that was cut carries a `*_truncated` flag.
 */
#ifndef PODTOP_EVENTS_H
#define PODTOP_EVENTS_H

#define TASK_COMM_LEN 16
#define FILENAME_MAX_LEN 512
#define ARGS_MAX_LEN 4096
#define PATH_MAX_LEN 512
#define CGROUP_PATH_MAX_LEN 512

enum event_kind {
	EVENT_EXEC = 1,
	EVENT_EXIT = 2,
	EVENT_OPEN = 3,
	EVENT_CONNECT = 4,
	EVENT_ACCEPT = 5,
	EVENT_CLOSE = 6,
	EVENT_LISTEN = 7,
	EVENT_CGROUP_MKDIR = 8,
	EVENT_CGROUP_RMDIR = 9,
	EVENT_PAYLOAD = 10,
	/* A TCP connection still open: its bytes and turns since its last record. */
	EVENT_PROGRESS = 11,
	/* Not a record kind: the size of the per-kind counter arrays. */
	EVENT_KIND_COUNT = 12,
};

/* Bits of `events_mask`, chosen with --events. */
enum event_class {
	CLASS_EXEC = 1, /* exec, exit */
	CLASS_FILE = 2, /* open, file I/O counters */
	CLASS_NET = 4,  /* connect, accept, close, UDP counters */
	CLASS_HTTP = 8, /* HTTP/1 heads and TLS ClientHellos of TCP connections */
	CLASS_DNS = 16, /* DNS messages of UDP sockets that talk to or serve a DNS port */
};

/* Who did something: captured in the kernel, at the time it happened. */
struct process_identity {
	__u64 cgroup_id;
	__u32 pid; /* thread group id, what user space calls the pid */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 netns;
	__u32 mntns;
	char comm[TASK_COMM_LEN];
};

struct event_header {
	__u64 boot_ns; /* CLOCK_BOOTTIME of the event */
	__u32 kind;    /* enum event_kind */
	__u32 _pad;
	struct process_identity who;
};

/* The name a dentry can have: NAME_MAX and its NUL. A memfd's is "memfd:"
 * and the name its maker gave, at most 249 bytes. */
#define DNAME_MAX_LEN 256

struct exec_event {
	struct event_header hdr;
	__u32 filename_len;
	__u32 args_len;
	__u8 filename_truncated;
	__u8 args_truncated;
	/* The program ran from a file no directory holds: a memfd, a deleted or
	 * an O_TMPFILE file (its inode has no link left). */
	__u8 fileless;
	__u8 _pad;
	__u32 dname_len; /* of dname: only a fileless exec carries it */
	char filename[FILENAME_MAX_LEN];
	char dname[DNAME_MAX_LEN]; /* the file's own name: memfd:NAME, a deleted file's last name */
	char args[ARGS_MAX_LEN];
};

struct exit_event {
	struct event_header hdr;
	__u64 duration_ns;
	__u32 exit_code; /* raw wait status: (code << 8) | signal */
	__u32 _pad;
};

struct open_event {
	struct event_header hdr;
	__s64 ret;   /* fd, or -errno */
	__u64 flags;
	__u64 ino;   /* inode of the opened file, 0 on failure */
	__u32 dev;
	__u32 path_len;
	__u8 path_truncated;
	__u8 _pad[7];
	char path[PATH_MAX_LEN];
};

/* connect, accept, close, listen, progress */
/* Request/response turns at one end of a TCP connection, for any protocol:
 * exchanges this end asked (its last send before a receive, to that
 * receive), replies it gave (its last receive before a send, to that send),
 * their latencies summed, and the sums of the times each exchange was asked
 * and each reply's request was heard. Those sums wrap and mean something
 * only less the other end's, which user space pairs for connections inside
 * the node (how long each end took to wake to the other's bytes). */
struct turns {
	__u64 exchanges;
	__u64 exchange_ns;
	__u64 asked_at_sum;
	__u64 replies;
	__u64 reply_ns;
	__u64 heard_at_sum;
};

/* Which end of a connection a socket is. */
enum sock_role { ROLE_NONE = 0, ROLE_CONNECT = 1, ROLE_ACCEPT = 2 };

struct conn_event {
	struct event_header hdr;
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family; /* AF_INET / AF_INET6 */
	__u16 protocol; /* IPPROTO_TCP */
	__u32 sock_netns;
	__u32 _pad;
	__u64 tx_bytes; /* close and progress: bytes the owner sent / received so far */
	__u64 rx_bytes;
	__u64 duration_ns;
	__u64 cookie; /* kernel socket cookie: ties connect/accept to close */
	__u8 local;   /* stays inside its network namespace (loopback, own address) */
	__u8 role;    /* enum sock_role */
	__u8 adopted; /* open before podtop started: counted from its adoption (adopt.h) */
	__u8 _pad2[5];
	struct turns turns; /* close and progress: so far */
	/* Close and progress: what no earlier record of the connection carried,
	 * the bytes and turns since its last progress record (a close's are all
	 * of them where it had none). A connection's progress records' and its
	 * close's add up to its close's totals. */
	__u64 tail_tx_bytes;
	__u64 tail_rx_bytes;
	struct turns tail_turns;
};

/* What a payload record carries: the first bytes of one read or write. */
#define PAYLOAD_MAX_LEN 512
enum payload_protocol {
	PAYLOAD_HTTP = 1, /* a read or write of a connection that carries HTTP/1 */
	PAYLOAD_TLS = 2,  /* a TLS ClientHello: its server name */
	PAYLOAD_DNS = 3,  /* a UDP datagram to or from a DNS port */
	/* A ClientHello's handshake message, read after its 5-byte record header
	 * was read alone (openssl's servers read a record in two). */
	PAYLOAD_TLS_HANDSHAKE = 4,
	/* Pieces of an HTTP/2 connection's frames (struct h2_piece, http2.h) */
	PAYLOAD_HTTP2 = 5,
};

/* An HTTP/2 record's data: pieces, each this header and `len` bytes, at
 * `position` in its direction's byte stream (the bytes the connection sent,
 * or received, before them). A frame's header comes whole; a payload that
 * carries a header block comes up to H2_BLOCK_MAX bytes, perhaps in pieces
 * as calls move it; after a LOST piece the direction is not followed. */
enum h2_limits { H2_BLOCK_MAX = 2048 };
enum h2_piece_kind {
	H2_PIECE_HEADER = 1,
	H2_PIECE_PAYLOAD = 2,
	H2_PIECE_LOST = 3,
};

struct h2_piece {
	__u64 position;
	__u16 len;
	__u8 kind; /* enum h2_piece_kind */
	__u8 _pad[5];
};

/* One read or write on a TCP connection that carries HTTP/1 (the connection's
 * first bytes were a request or a status line), its TLS ClientHello, or one
 * DNS datagram. Followed in the ring buffer by its `captured` bytes of data,
 * no more. A DNS datagram received on a socket that names no peer (a server's,
 * or an unconnected client's) has a zero daddr and dport. */
struct payload_event {
	struct event_header hdr;
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 tx;       /* a send (1) or a receive (0) */
	__u8 protocol; /* enum payload_protocol */
	__u32 sock_netns;
	__u32 captured; /* bytes of data[]: the buffer's first, at most PAYLOAD_MAX_LEN */
	__u64 bytes;    /* the syscall's whole byte count */
	__u64 cookie;   /* the connection's, as on its connect/accept/close records */
	__u8 local;
	__u8 _pad[7];
};

struct cgroup_event {
	struct event_header hdr;
	__u64 id;
	__u32 level;
	__u32 path_len;
	char path[CGROUP_PATH_MAX_LEN];
};

/* File I/O counted in the kernel, per process and file. */
struct file_io_key {
	__u64 cgroup_id;
	__u64 ino;
	__u32 dev;
	__u32 pid;
};

struct file_io_value {
	__u64 read_bytes;
	__u64 write_bytes;
	__u64 reads;
	__u64 writes;
	struct process_identity who; /* the first thread that did I/O on it */
};

/* UDP bytes counted in the kernel, per process and socket endpoints. */
struct udp_key {
	__u64 cgroup_id;
	__u8 saddr[16];
	__u8 daddr[16]; /* zero for unconnected sockets */
	__u32 pid;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 _pad[3];
};

struct udp_value {
	__u64 tx_bytes;
	__u64 rx_bytes;
	__u64 tx_datagrams;
	__u64 rx_datagrams;
	struct process_identity who;
};

/* Activity of one cgroup, counted in the kernel: what the TUI shows as rates.
 * TCP is split by whether the connection crosses the network namespace's
 * boundary (what a sidecar proxy could see) or stays inside it (loopback,
 * or the namespace's own address). */
struct cgroup_counters {
	__u64 execs;
	__u64 exits;
	__u64 opens;
	__u64 open_errors;
	__u64 file_reads;
	__u64 file_writes;
	__u64 file_read_bytes;
	__u64 file_write_bytes;
	__u64 tcp_connects;
	__u64 tcp_accepts;
	__u64 tcp_closes;
	__u64 tcp_tx_bytes;
	__u64 tcp_rx_bytes;
	__u64 tcp_local_connections;
	__u64 tcp_local_tx_bytes;
	__u64 tcp_local_rx_bytes;
	__u64 udp_tx_datagrams;
	__u64 udp_rx_datagrams;
	__u64 udp_tx_bytes;
	__u64 udp_rx_bytes;
};

/* Listening sockets, by network namespace and port (user space adds those
 * older than podtop, so both sides write this map). */
struct listener_key {
	__u32 netns;
	__u16 port;
	__u16 _pad;
};

struct listener_value {
	struct process_identity who;
	__u8 wanted;
	__u8 _pad[7];
};

/* Per-CPU counters: records by enum event_kind, and updates that found the
 * in-kernel counter maps full (their bytes could not be counted). */
struct kind_counters {
	__u64 seen[EVENT_KIND_COUNT];
	__u64 lost[EVENT_KIND_COUNT];
	__u64 file_io_dropped;
	__u64 udp_dropped;
	__u64 cgroup_dropped;
};

#endif /* PODTOP_EVENTS_H */
