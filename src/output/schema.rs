//! The NDJSON schema, once: every record podtop writes, as typed structs.
//!
//! `JsonSink` writes these records with its own fast writer (one reused
//! buffer, attributions rendered once); its tests check that what it writes
//! is exactly what serializing these types gives. `podtop replay` reads
//! recordings back into them with serde. The JSON Schema published in
//! `schema/podtop-records.schema.json` is generated from them, and the
//! integration tests check every record they see against it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One line of `podtop --json`, by its `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// The first line: the run, and what it can and cannot see.
    Start(Start),
    Exec(Event<ExecBody>),
    Exit(Event<ExitBody>),
    Open(Event<OpenBody>),
    Connect(Event<ConnectionBody>),
    Accept(Event<ConnectionBody>),
    Close(Event<ConnectionBody>),
    /// A TCP connection still open, once an interval has passed since its
    /// last record and it sends or receives: its bytes and turns since its
    /// last progress record (or its start). `duration_ns` is its age.
    Progress(Event<ConnectionBody>),
    /// Bytes one process moved through one UDP socket since its last record.
    Udp(Event<UdpBody>),
    /// One HTTP/1 request and its response, as one end of the connection saw them (`--events http`).
    Http(Event<HttpBody>),
    /// One DNS query and its answer, as one end saw them (`--events dns`).
    Dns(Event<DnsBody>),
    /// Bytes one process read and wrote in one file since its last record.
    FileIo(Event<FileIoBody>),
    /// One cgroup's activity during the last interval, counted in the kernel.
    Counters(Counters),
    /// The kernel's statistics since start: every interval, and at the end.
    Stats(Stats),
    /// One sidecar proxy's bill for the last interval.
    Sidecar(Sidecar),
    /// The node's sidecars together for the last interval, beside podtop's own cost.
    Sidecars(Sidecars),
    /// A record type this version does not know (a newer podtop wrote it).
    #[serde(other)]
    Unknown,
}

/// Every record's time and node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Header {
    /// RFC 3339, UTC, with nanoseconds.
    pub time: String,
    /// The node's host name.
    pub node: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Start {
    #[serde(flatten)]
    pub header: Header,
    pub version: String,
    pub kernel: String,
    /// Where cgroup v2 is mounted.
    pub cgroup2: String,
    pub probes: BTreeMap<String, Probe>,
    /// Each capability podtop was asked for, and the attached programs that give it
    /// (absent from recordings made before podtop chose programs per kernel).
    #[serde(default)]
    pub capabilities: BTreeMap<String, Vec<String>>,
    /// Capabilities given with less than the best source, and how.
    #[serde(default)]
    pub degraded: BTreeMap<String, String>,
    /// Capabilities nothing gives on this kernel, and what that means.
    #[serde(default)]
    pub unavailable: BTreeMap<String, String>,
    pub filters: Filters,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Probe {
    /// tp_btf or fexit.
    pub hook: String,
    /// The tracepoint (`subsystem:event`) or kernel function.
    pub target: String,
    /// attached, standby, off, skipped or failed.
    pub status: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Filters {
    pub pod: Option<String>,
    pub namespace: Option<String>,
    pub container: Option<String>,
    pub pid: Option<u32>,
}

/// Who did something: read in the kernel at the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Process {
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub comm: String,
    /// The exact bytes of `comm`, where they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm_b64: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Cgroup {
    /// The cgroup v2 id: the inode of its directory.
    pub id: u64,
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Container {
    pub id: String,
    /// docker, containerd, cri-o, podman or runc.
    pub runtime: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pod {
    pub uid: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    /// guaranteed, burstable or besteffort.
    pub qos: String,
}

/// Whose cgroup it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Owner {
    pub cgroup: Cgroup,
    pub container: Option<Container>,
    pub pod: Option<Pod>,
}

/// The other end of a connection, when it is a process in a pod on this node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Peer {
    pub container: Option<Container>,
    pub pod: Option<Pod>,
}

/// A record about one process, with its body under the type's own key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event<B> {
    #[serde(flatten)]
    pub header: Header,
    pub process: Process,
    #[serde(flatten)]
    pub owner: Owner,
    pub netns: u32,
    pub mntns: u32,
    /// Whether a sidecar proxy in the pod could have seen this.
    pub sidecar_visible: bool,
    #[serde(flatten)]
    pub body: B,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExecBody {
    pub exec: Exec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Exec {
    pub filename: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename_b64: Option<String>,
    pub filename_truncated: bool,
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_b64: Option<Vec<String>>,
    pub args_truncated: bool,
    /// A secret in the arguments was replaced by `***`.
    #[serde(default)]
    pub args_redacted: bool,
    /// The program ran from a file no directory holds (its inode has no link
    /// left): a memfd (memfd_create, then fexecve or /proc/self/fd/N), or a
    /// file deleted before it ran. What malware does to leave nothing on disk.
    #[serde(default)]
    pub fileless: bool,
    /// A fileless program's own file name: `memfd:NAME` for a memfd, the last
    /// name of a deleted file (`filename` says only /proc/self/fd/N).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fileless_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fileless_name_b64: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExitBody {
    pub exit: Exit,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Exit {
    /// Null when a signal ended it.
    pub code: Option<u32>,
    pub signal: Option<u32>,
    pub core_dumped: bool,
    pub duration_ns: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OpenBody {
    pub file: Open,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Open {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_b64: Option<String>,
    pub path_truncated: bool,
    pub flags: u64,
    pub flags_text: String,
    /// The descriptor, or -errno.
    pub ret: i64,
    pub error: Option<String>,
    /// major:minor of the file's device, when it was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ino: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectionBody {
    pub net: Connection,
    pub peer: Option<Peer>,
    /// At close, with `--events http`: the TLS ClientHello the connection began with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
}

/// What a TLS client asked for in its ClientHello (nothing is decrypted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tls {
    /// The server name (SNI), lower-case; null when the hello names none.
    pub sni: Option<String>,
    /// The highest version offered: 1.3 when supported_versions offers it, else the hello's own (1.2, ...).
    pub version: String,
}

/// A socket's two ends: the first fields of every record's `net`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Endpoints {
    /// tcp or udp.
    pub proto: String,
    /// ipv4 or ipv6.
    pub family: String,
    pub saddr: String,
    pub sport: u16,
    /// Null for an unconnected UDP socket.
    pub daddr: Option<String>,
    pub dport: u16,
    /// With `--events dns`: the name a process of the same pod looked up and got daddr for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dname: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DnsBody {
    /// The socket, as this end sees it; daddr is the other end (null when no
    /// datagram of the pair named it: a server's query whose answer never left).
    pub net: Endpoints,
    pub peer: Option<Peer>,
    pub dns: Dns,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Dns {
    /// client: this end sent the query and received the answer; server: the reverse.
    pub role: String,
    /// The message id the answer echoes.
    pub id: u16,
    /// The name asked for, lower-case, without the final dot ("." for the root).
    pub qname: String,
    /// A, AAAA, PTR, ... or TYPEn.
    pub qtype: String,
    /// NOERROR, NXDOMAIN, SERVFAIL, ...; null: no answer within 5 s.
    pub rcode: Option<String>,
    /// The addresses of the answer's A and AAAA records, in its order (at most 16;
    /// only those in its first 511 bytes).
    pub answers: Vec<String>,
    /// The names of its CNAME records, in its order.
    pub cnames: Vec<String>,
    /// From the query to its answer, as this end saw them.
    pub latency_ns: Option<u64>,
    pub query_bytes: u64,
    pub answer_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HttpBody {
    pub net: HttpNet,
    pub peer: Option<Peer>,
    pub http: Http,
}

/// The connection the request went over, as this end sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HttpNet {
    #[serde(flatten)]
    pub ends: Endpoints,
    /// The connection's socket cookie, as on its connect, accept and close records.
    pub cookie: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Http {
    /// client: this end wrote the request and read the response; server: the reverse.
    pub role: String,
    pub method: String,
    /// The request target, its query string dropped unless `--http-query`;
    /// at most 512 bytes, and only what the kernel copied (the request line's first 256 bytes).
    pub path: String,
    pub path_truncated: bool,
    /// 1.0, 1.1 or 2; null when the request line was cut before it.
    pub version: Option<String>,
    /// Null: no response came (the connection closed or the stream was reset first, or it was not HTTP).
    pub status: Option<u16>,
    /// From the request's last bytes to the response's first, as this end saw them.
    pub latency_ns: Option<u64>,
    /// Bytes of the request (head and body) and of the response, as this end's syscalls moved them.
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// HTTP/2's :authority.
    #[serde(default)]
    pub authority: Option<String>,
    /// How an HTTP/2 stream ended short: RST_STREAM's error (CANCEL, REFUSED_STREAM, ...) or GOAWAY.
    #[serde(default)]
    pub reset: Option<String>,
    /// The heads could not be read (HTTP/2: the connection's header compression
    /// state was lost to dropped records or a header block past the kernel's
    /// bound): method and path are "*"; bytes, status and timing stand.
    #[serde(default)]
    pub heads_lost: bool,
    /// A gRPC call (content-type application/grpc).
    #[serde(default)]
    pub grpc: Option<Grpc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Grpc {
    /// The path's first part: package.Service.
    pub service: String,
    pub method: String,
    /// grpc-status by name (OK, NOT_FOUND, DEADLINE_EXCEEDED, ...); null when none came.
    pub status: Option<String>,
    pub status_code: Option<u32>,
}

/// A TCP connection as this end sees it: its ends, bytes, duration and request/response turns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Connection {
    #[serde(flatten)]
    pub ends: Endpoints,
    /// "client" for the end that connected, "server" for the end that accepted.
    #[serde(default)]
    pub role: Option<String>,
    /// Application bytes sent and received by this end (final at close;
    /// in a progress record, since the connection's last one).
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub duration_ns: u64,
    /// The kernel's socket cookie: ties connect or accept to close.
    pub cookie: u64,
    /// At close: request/response exchanges this end asked on it (its last
    /// send before a receive, to that receive), and their latencies summed
    /// (0 where the kernel gives no per-send hook: the sequence-number stand-in).
    #[serde(default)]
    pub exchanges: u64,
    #[serde(default)]
    pub exchange_ns: u64,
    /// At close: replies this end gave on it (its last receive before a
    /// send, to that send: how long it took to answer), and their latencies
    /// summed; 0 as for exchanges. On a keep-alive connection, a client's
    /// replies are its pauses before each next request, and a server's
    /// exchanges its waits for the next request.
    #[serde(default)]
    pub replies: u64,
    #[serde(default)]
    pub reply_ns: u64,
    /// At close: the bytes sent and received since the connection's last
    /// progress record (all of them where it had none). Its progress
    /// records' bytes and these add up to its close's `tx_bytes` and `rx_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail_tx_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail_rx_bytes: Option<u64>,
    /// Open before podtop started, which adopted it: its connect or accept
    /// record was written at podtop's start, not when it was made, and its
    /// bytes, duration and turns count from then. Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UdpBody {
    pub net: Udp,
    pub peer: Option<Peer>,
}

/// One process's UDP socket: its ends, and what moved through it since its last record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Udp {
    #[serde(flatten)]
    pub ends: Endpoints,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub tx_datagrams: u64,
    pub rx_datagrams: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FileIoBody {
    pub file: FileIo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FileIo {
    /// The path the file was last opened by while podtop ran, else null.
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_b64: Option<String>,
    pub dev: String,
    pub ino: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub reads: u64,
    pub writes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Counters {
    #[serde(flatten)]
    pub header: Header,
    #[serde(flatten)]
    pub owner: Owner,
    /// `struct cgroup_counters` of the kernel, by field name. `tcp_*` counts
    /// connections across the network namespace's boundary, `tcp_local_*`
    /// those that stay inside it.
    pub counters: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SeenLost {
    pub seen: u64,
    /// Found the ring buffer full.
    pub lost: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Dropped {
    #[serde(default)]
    pub file_io: u64,
    #[serde(default)]
    pub udp: u64,
    #[serde(default)]
    pub cgroup: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stats {
    #[serde(flatten)]
    pub header: Header,
    // A count a reader does not find is 0: podtop writes them all, a
    // recording trimmed by hand or by an older podtop still replays.
    /// By record kind.
    #[serde(default)]
    pub events: BTreeMap<String, SeenLost>,
    pub seen_total: u64,
    pub lost_total: u64,
    /// Counter updates that found the kernel's maps full.
    #[serde(default)]
    pub counters_dropped: Dropped,
    #[serde(default)]
    pub decode_errors: u64,
    /// Records a reader that stopped reading did not take before podtop ended.
    #[serde(default)]
    pub output_dropped: u64,
    pub bpf_run_time_ns: Option<u64>,
    pub bpf_run_count: Option<u64>,
    /// How full each of user space's bounded tables is at the interval's end
    /// (attributions, peer_connections, file_names, http_connections, ...):
    /// what fills, for an operator watching podtop's memory.
    #[serde(default)]
    pub tables: BTreeMap<String, TableFill>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TableFill {
    pub entries: u64,
    /// The bound: past it the least recently used entry goes.
    pub capacity: u64,
    /// Entries the bound pushed out since start (what ages out, as a closed
    /// connection's ends do, is not counted): each one a name or an owner
    /// found again later, or lost.
    #[serde(default)]
    pub evicted: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sidecar {
    #[serde(flatten)]
    pub header: Header,
    /// The sidecar's own container.
    #[serde(flatten)]
    pub owner: Owner,
    pub sidecar: SidecarBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SidecarBody {
    /// A well-known proxy's name in its container's or process's name (only a hint: the
    /// verdict comes from what it does, relaying its pod's connections).
    pub hint: Option<String>,
    /// CPU time over the interval, in cores (the cgroup's `cpu.stat` usage_usec).
    pub cpu_cores: Option<f64>,
    /// The cgroup's `memory.current`, where the memory controller is on for it.
    pub memory_bytes: Option<u64>,
    /// The resident size of its processes.
    pub rss_bytes: Option<u64>,
    /// Connections from the pod's other containers to it, closed during the interval...
    pub relayed_connections: u64,
    /// ...and the bytes those containers sent and received through it.
    pub relayed_tx_bytes: u64,
    pub relayed_rx_bytes: u64,
    /// Bytes pushed through the TCP stack because of the proxy: twice the relayed bytes.
    pub extra_stack_bytes: u64,
    /// The time a request spends in it, at the 50th and 99th percentile:
    /// the time it takes to reply on the connections it accepted, less the
    /// time it waits on the connections it opened, plus twice the time it
    /// takes to wake to its pod's other containers' bytes (seen where both
    /// ends of a connection closed). Null without replies and exchanges on
    /// both sides; p99 null below 100 exchanges in the interval.
    pub added_latency_p50_ns: Option<u64>,
    pub added_latency_p99_ns: Option<u64>,
    /// The requests the pod's other containers made through it (inbound:
    /// the requests they answered through it), closed in the interval.
    pub exchanges: u64,
    /// Connections from the pod's other containers that left the pod without it.
    pub bypass_connections: u64,
    /// Where the first of them went (address:port).
    pub bypass: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sidecars {
    #[serde(flatten)]
    pub header: Header,
    /// Sidecars found on the node so far.
    pub sidecars: u64,
    pub cpu_cores: Option<f64>,
    pub memory_bytes: u64,
    pub rss_bytes: u64,
    pub relayed_connections: u64,
    pub bypass_connections: u64,
    pub podtop: PodtopCost,
}

/// podtop's own cost over the same interval, measured the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PodtopCost {
    /// User space, all threads, in cores.
    pub cpu_cores: Option<f64>,
    /// Its BPF programs' run time, in cores, where the kernel accounts it (`--bpf-stats`).
    pub bpf_cores: Option<f64>,
    pub rss_bytes: Option<u64>,
}

/// The JSON Schema of a record, as published in the repository.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Record)).expect("a schema serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLISHED: &str = include_str!("../../schema/podtop-records.schema.json");

    /// The published schema is the one these types give; after a change,
    /// `PODTOP_WRITE_SCHEMA=1 cargo test --lib schema` writes it anew.
    #[test]
    fn the_published_schema_is_the_types_schema() {
        let generated = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
        if std::env::var_os("PODTOP_WRITE_SCHEMA").is_some() {
            std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/podtop-records.schema.json"), &generated).unwrap();
            return;
        }
        assert!(generated == PUBLISHED, "schema/podtop-records.schema.json is stale: PODTOP_WRITE_SCHEMA=1 cargo test --lib schema");
    }

    #[test]
    fn unknown_record_types_are_read_as_unknown() {
        let r: Record = serde_json::from_str(r#"{"type":"quic","time":"t","node":"n"}"#).unwrap();
        assert_eq!(r, Record::Unknown);
    }
}
