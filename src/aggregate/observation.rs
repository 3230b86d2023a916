//! What the TUI's model is built from: owned, sink-independent records.
//!
//! Live, the pipeline's records become observations (`from_records`); in
//! replay, the JSON lines of a recording do (`from_recording`). Both feed the
//! same model.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::enrich::Attribution;
use crate::events::CgroupCounters;
use crate::l7::exchanges::Role;
use crate::records::PodtopCost;
use crate::sidecars::SidecarBill;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRef {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnKind {
    Connect,
    Accept,
    Close,
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub kind: ConnKind,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub cookie: u64,
    pub peer: Option<Arc<Attribution>>,
    pub sidecar_visible: bool,
    /// The name a process of the pod looked up and got the remote address for (`--events dns`).
    pub dname: Option<Arc<str>>,
}

/// One HTTP request and its response, as one end of the connection saw them.
#[derive(Debug, Clone)]
pub struct Request {
    pub role: Role,
    pub method: String,
    /// As the records show it: without its query string unless --http-query.
    pub path: String,
    /// None: no response came.
    pub status: Option<u16>,
    /// Answered with a 5xx status, or a gRPC call whose status is not OK.
    pub failed: bool,
    pub latency_ns: Option<u64>,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub peer: Option<Arc<Attribution>>,
    /// It crossed the pod's boundary: a proxy in the pod sees it.
    pub sidecar_visible: bool,
    /// The name the pod looked up for the remote address.
    pub dname: Option<Arc<str>>,
}

/// One DNS query and its answer, as one end saw them.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// Client: the pod asked; server: it answered.
    pub role: Role,
    /// Lower-case, without the final dot.
    pub qname: String,
    /// A, AAAA, ... as the records name them.
    pub qtype: String,
    /// NOERROR, NXDOMAIN, ... as the records name them; None: no answer came.
    pub rcode: Option<String>,
    /// The answer's addresses, in its order.
    pub answers: Vec<IpAddr>,
    pub latency_ns: Option<u64>,
    /// The other end (the resolver, for a client), where a datagram named it.
    pub remote: Option<SocketAddr>,
}

/// What a process did, as the TUI shows it.
#[derive(Debug, Clone)]
pub enum Action {
    Exec { filename: String, args: Vec<String> },
    Exit { code: Option<u32>, signal: Option<u32> },
    Connection(Connection),
    FileIo { path: Option<String>, read_bytes: u64, write_bytes: u64 },
    Udp { local: SocketAddr, remote: Option<SocketAddr>, dname: Option<Arc<str>>, tx_bytes: u64, rx_bytes: u64, datagrams: u64 },
    Request(Request),
    Lookup(Lookup),
}

/// One thing a process did: when, in which cgroup, which process, and what.
#[derive(Debug, Clone)]
pub struct ProcessEvent {
    pub unix_ns: u64,
    pub owner: Arc<Attribution>,
    pub process: ProcessRef,
    pub action: Action,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelTotals {
    pub seen: u64,
    pub lost: u64,
    pub dropped: u64,
    pub bpf_run_time_ns: Option<u64>,
}

#[derive(Debug, Clone)]
pub enum Observation {
    /// Something a process did (a record of it: exec, exit, connection, ...).
    Process(ProcessEvent),
    /// A cgroup found holding these processes as the run starts, before
    /// they did anything: its pod and container are rows, its processes listed.
    Present { unix_ns: u64, owner: Arc<Attribution>, processes: Vec<ProcessRef> },
    /// One cgroup's activity during the interval that ends with the next `Tick`.
    Counters { owner: Arc<Attribution>, delta: CgroupCounters },
    /// The end of an interval, with the kernel's running totals.
    Tick { unix_ns: u64, totals: KernelTotals },
    /// The node's sidecars' bills for the interval that ends with the next
    /// `Tick`, and podtop's own cost over it.
    Sidecars { bills: Vec<(Arc<Attribution>, SidecarBill)>, podtop: PodtopCost },
}
