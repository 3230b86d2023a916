//! The records of the pipeline, what every sink takes: one event from the
//! kernel with its attribution, the per-interval deltas of the kernel's
//! counters, and the kernel's own statistics. Below the sinks (JSON, the
//! TUI's model), above the kernel, the decoder and enrichment.

pub mod deltas;
pub mod run;

#[cfg(test)]
pub mod fixtures;

use std::borrow::Cow;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use crate::enrich::Attribution;
use crate::events::{CgroupCounters, Event, Kind, ProcessIdentity};
use crate::l7::exchanges::Exchange;
use crate::l7::lookups::Lookup;
use crate::l7::tls::ClientHello;
use crate::sidecars::SidecarBill;
use deltas::Counters;

/// Where the pipeline's records go. Every method sees one record, borrowed.
pub trait Sink {
    fn event(&mut self, r: &EventRecord) -> io::Result<()>;
    fn file_io(&mut self, r: &FileIoRecord) -> io::Result<()>;
    fn udp(&mut self, r: &UdpRecord) -> io::Result<()>;
    fn counters(&mut self, r: &CountersRecord) -> io::Result<()>;
    fn stats(&mut self, unix_ns: u64, stats: &Stats) -> io::Result<()>;
    fn sidecars(&mut self, r: &SidecarsRecord) -> io::Result<()>;
    fn http(&mut self, r: &HttpRecord) -> io::Result<()>;
    fn dns(&mut self, r: &DnsRecord) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
}

/// An optional sink (`--record` without a file): records go nowhere.
impl<S: Sink> Sink for Option<S> {
    fn event(&mut self, r: &EventRecord) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.event(r))
    }
    fn file_io(&mut self, r: &FileIoRecord) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.file_io(r))
    }
    fn udp(&mut self, r: &UdpRecord) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.udp(r))
    }
    fn counters(&mut self, r: &CountersRecord) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.counters(r))
    }
    fn stats(&mut self, unix_ns: u64, stats: &Stats) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.stats(unix_ns, stats))
    }
    fn sidecars(&mut self, r: &SidecarsRecord) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.sidecars(r))
    }
    fn http(&mut self, r: &HttpRecord) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.http(r))
    }
    fn dns(&mut self, r: &DnsRecord) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.dns(r))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.flush())
    }
}

/// The node's sidecars during one interval, each with its bill, beside what
/// podtop itself cost over the same interval, measured the same way.
pub struct SidecarsRecord<'a> {
    pub unix_ns: u64,
    pub bills: &'a [(Arc<Attribution>, SidecarBill)],
    pub podtop: PodtopCost,
}

/// podtop's own cost over one interval.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct PodtopCost {
    /// User space (all its threads), in cores.
    pub cpu_cores: Option<f64>,
    /// Its BPF programs' run time, in cores, where the kernel accounts it.
    pub bpf_cores: Option<f64>,
    pub rss_bytes: Option<u64>,
}

/// What one cgroup did during one interval, counted in the kernel.
pub struct CountersRecord<'a> {
    pub unix_ns: u64,
    pub owner: &'a Arc<Attribution>,
    pub delta: CgroupCounters,
}

/// Addresses of a socket, decoded from the kernel's byte arrays.
#[derive(Debug, Clone)]
pub struct NetView {
    pub proto: &'static str,
    pub saddr: IpAddr,
    pub sport: u16,
    /// None for an unconnected UDP socket.
    pub daddr: Option<IpAddr>,
    pub dport: u16,
    /// The name a process of the same pod looked up and got `daddr` for (`--events dns`).
    pub dname: Option<Arc<str>>,
}

/// Records borrow the pipeline's shared attributions: a sink that keeps one
/// (the TUI's model) clones the `Arc`, not the attribution.
pub struct EventRecord<'a> {
    pub event: Event<'a>,
    pub unix_ns: u64,
    pub who: &'a ProcessIdentity,
    pub owner: &'a Arc<Attribution>,
    pub net: Option<NetView>,
    pub peer: Option<&'a Arc<Attribution>>,
    pub sidecar_visible: bool,
    /// An exec's arguments as the sinks show them: secrets masked unless --no-redact.
    pub args: Vec<Cow<'a, [u8]>>,
    /// Whether any argument was masked.
    pub args_redacted: bool,
    /// A close: the TLS ClientHello the connection began with, if it did.
    pub tls: Option<&'a ClientHello>,
}

/// One DNS query and its answer, as one end saw them.
pub struct DnsRecord<'a> {
    /// When the query moved.
    pub unix_ns: u64,
    pub who: &'a ProcessIdentity,
    pub owner: &'a Arc<Attribution>,
    pub net: NetView,
    pub peer: Option<&'a Arc<Attribution>>,
    pub sidecar_visible: bool,
    pub lookup: &'a Lookup,
}

/// One HTTP/1 request and its response, as one end of a connection saw them.
pub struct HttpRecord<'a> {
    /// When the request's first bytes moved.
    pub unix_ns: u64,
    pub who: &'a ProcessIdentity,
    pub owner: &'a Arc<Attribution>,
    pub net: NetView,
    pub cookie: u64,
    pub peer: Option<&'a Arc<Attribution>>,
    pub sidecar_visible: bool,
    pub exchange: &'a Exchange,
    /// The request's path as shown: its query string dropped unless --http-query.
    pub path: &'a str,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FileIoDelta {
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub reads: u64,
    pub writes: u64,
}

impl Counters for FileIoDelta {
    fn since(self, e: Self) -> Self {
        FileIoDelta {
            read_bytes: self.read_bytes.saturating_sub(e.read_bytes),
            write_bytes: self.write_bytes.saturating_sub(e.write_bytes),
            reads: self.reads.saturating_sub(e.reads),
            writes: self.writes.saturating_sub(e.writes),
        }
    }
}

pub struct FileIoRecord<'a> {
    pub unix_ns: u64,
    pub who: &'a ProcessIdentity,
    pub owner: &'a Arc<Attribution>,
    pub dev: u32,
    pub ino: u64,
    pub path: Option<&'a [u8]>,
    pub delta: FileIoDelta,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UdpDelta {
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub tx_datagrams: u64,
    pub rx_datagrams: u64,
}

impl Counters for UdpDelta {
    fn since(self, e: Self) -> Self {
        UdpDelta {
            tx_bytes: self.tx_bytes.saturating_sub(e.tx_bytes),
            rx_bytes: self.rx_bytes.saturating_sub(e.rx_bytes),
            tx_datagrams: self.tx_datagrams.saturating_sub(e.tx_datagrams),
            rx_datagrams: self.rx_datagrams.saturating_sub(e.rx_datagrams),
        }
    }
}

pub struct UdpRecord<'a> {
    pub unix_ns: u64,
    pub who: &'a ProcessIdentity,
    pub owner: &'a Arc<Attribution>,
    pub net: NetView,
    pub peer: Option<&'a Arc<Attribution>>,
    pub delta: UdpDelta,
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// (kind, seen, lost) as counted in the kernel since start.
    pub per_kind: Vec<(Kind, u64, u64)>,
    /// Counter updates that found the kernel's file_io / udp maps full.
    pub file_io_dropped: u64,
    pub udp_dropped: u64,
    pub cgroup_dropped: u64,
    pub decode_errors: u64,
    /// Time spent in podtop's BPF programs since start, where the kernel reports it.
    pub bpf_run_time_ns: Option<u64>,
    pub bpf_run_count: Option<u64>,
    /// How full each of user space's bounded tables is, at the interval's end.
    pub tables: Vec<crate::bounded::TableSize>,
}

impl Stats {
    pub fn lost_total(&self) -> u64 {
        self.per_kind.iter().map(|(_, _, lost)| lost).sum()
    }
    pub fn seen_total(&self) -> u64 {
        self.per_kind.iter().map(|(_, seen, _)| seen).sum()
    }
}

/// Both sinks at once: the TUI and a recording (`--record FILE`).
pub struct Tee<A, B>(pub A, pub B);

impl<A: Sink, B: Sink> Sink for Tee<A, B> {
    fn event(&mut self, r: &EventRecord) -> io::Result<()> {
        self.0.event(r)?;
        self.1.event(r)
    }
    fn file_io(&mut self, r: &FileIoRecord) -> io::Result<()> {
        self.0.file_io(r)?;
        self.1.file_io(r)
    }
    fn udp(&mut self, r: &UdpRecord) -> io::Result<()> {
        self.0.udp(r)?;
        self.1.udp(r)
    }
    fn counters(&mut self, r: &CountersRecord) -> io::Result<()> {
        self.0.counters(r)?;
        self.1.counters(r)
    }
    fn stats(&mut self, unix_ns: u64, stats: &Stats) -> io::Result<()> {
        self.0.stats(unix_ns, stats)?;
        self.1.stats(unix_ns, stats)
    }
    fn sidecars(&mut self, r: &SidecarsRecord) -> io::Result<()> {
        self.0.sidecars(r)?;
        self.1.sidecars(r)
    }
    fn http(&mut self, r: &HttpRecord) -> io::Result<()> {
        self.0.http(r)?;
        self.1.http(r)
    }
    fn dns(&mut self, r: &DnsRecord) -> io::Result<()> {
        self.0.dns(r)?;
        self.1.dns(r)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()?;
        self.1.flush()
    }
}
