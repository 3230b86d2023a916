//! Live records into observations: the TUI's sink, where the pipeline's
//! records become observations, sent in batches to the UI thread so that
//! drawing never holds up the ring buffer.

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;

use super::observation::{ConnKind, Connection, ProcessEvent, KernelTotals, Lookup, Observation, ProcessRef, Request, Action};
use crate::enrich::Attribution;
use crate::l7::dns;
use crate::l7::grpc::GrpcCall;
use crate::events::{c_bytes, c_str_bytes, exit_status, Event, Kind, ProcessIdentity};
use crate::records::{CountersRecord, DnsRecord, EventRecord, FileIoRecord, HttpRecord, SidecarsRecord, Sink, Stats, UdpRecord};

pub struct ObservationSink {
    batch: Vec<Observation>,
    to_ui: SyncSender<Vec<Observation>>,
    /// Observations a UI that fell behind (a stalled terminal) had no room for.
    dropped: u64,
}

impl ObservationSink {
    /// A bounded channel: a UI that cannot draw never makes collection hold
    /// more than it holds; what does not fit is dropped and counted.
    pub fn new(to_ui: SyncSender<Vec<Observation>>) -> Self {
        ObservationSink { batch: Vec::new(), to_ui, dropped: 0 }
    }

    /// Sends `observations` ahead of the first record (what runs already).
    pub fn announcing(mut self, observations: Vec<Observation>) -> Self {
        self.batch = observations;
        self
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn process(who: &ProcessIdentity) -> ProcessRef {
    ProcessRef { pid: who.pid, ppid: who.ppid, comm: text(c_str_bytes(&who.comm)) }
}

impl ObservationSink {
    fn process_event(&mut self, unix_ns: u64, owner: &Arc<Attribution>, who: &ProcessIdentity, action: Action) {
        self.batch.push(Observation::Process(ProcessEvent { unix_ns, owner: owner.clone(), process: process(who), action }));
    }
}

impl Sink for ObservationSink {
    fn event(&mut self, r: &EventRecord) -> io::Result<()> {
        let action = match r.event {
            Event::Exec(e) => Action::Exec {
                filename: text(c_bytes(&e.filename, e.filename_len)),
                args: r.args.iter().map(|a| text(a)).collect(),
            },
            Event::Exit(e) => {
                let (code, signal, _) = exit_status(e.exit_code);
                Action::Exit { code, signal }
            }
            // Only the first open of each file arrives here: it names the file
            // for the counters upstream, and is not an event to list.
            Event::Open(_) => return Ok(()),
            Event::Connection(kind, e) => {
                let Some(net) = &r.net else { return Ok(()) };
                let kind = match kind {
                    Kind::Connect => ConnKind::Connect,
                    Kind::Accept => ConnKind::Accept,
                    Kind::Close => ConnKind::Close,
                    _ => return Ok(()),
                };
                Action::Connection(Connection {
                    kind,
                    local: SocketAddr::new(net.saddr, net.sport),
                    remote: SocketAddr::new(net.daddr.unwrap_or(net.saddr), net.dport),
                    tx_bytes: e.tx_bytes,
                    rx_bytes: e.rx_bytes,
                    cookie: e.cookie,
                    peer: r.peer.cloned(),
                    sidecar_visible: r.sidecar_visible,
                    dname: net.dname.clone(),
                })
            }
            Event::Cgroup(..) | Event::Payload(..) => return Ok(()),
        };
        self.process_event(r.unix_ns, r.owner, r.who, action);
        Ok(())
    }

    fn file_io(&mut self, r: &FileIoRecord) -> io::Result<()> {
        let action = Action::FileIo {
            path: r.path.map(text),
            read_bytes: r.delta.read_bytes,
            write_bytes: r.delta.write_bytes,
        };
        self.process_event(r.unix_ns, r.owner, r.who, action);
        Ok(())
    }

    fn udp(&mut self, r: &UdpRecord) -> io::Result<()> {
        let action = Action::Udp {
            local: SocketAddr::new(r.net.saddr, r.net.sport),
            remote: r.net.daddr.map(|a| SocketAddr::new(a, r.net.dport)),
            dname: r.net.dname.clone(),
            tx_bytes: r.delta.tx_bytes,
            rx_bytes: r.delta.rx_bytes,
            datagrams: r.delta.tx_datagrams + r.delta.rx_datagrams,
        };
        self.process_event(r.unix_ns, r.owner, r.who, action);
        Ok(())
    }

    fn counters(&mut self, r: &CountersRecord) -> io::Result<()> {
        self.batch.push(Observation::Counters { owner: r.owner.clone(), delta: r.delta });
        Ok(())
    }

    fn stats(&mut self, unix_ns: u64, stats: &Stats) -> io::Result<()> {
        let totals = KernelTotals {
            seen: stats.seen_total(),
            lost: stats.lost_total(),
            dropped: stats.file_io_dropped + stats.udp_dropped + stats.cgroup_dropped + self.dropped,
            bpf_run_time_ns: stats.bpf_run_time_ns,
        };
        self.batch.push(Observation::Tick { unix_ns, totals });
        Ok(())
    }

    fn http(&mut self, r: &HttpRecord) -> io::Result<()> {
        let x = r.exchange;
        let action = Action::Request(Request {
            role: x.role,
            method: x.request.method.to_string(),
            path: r.path.to_string(),
            status: x.response.as_ref().map(|s| s.status),
            failed: x.response.is_some_and(|s| s.status >= 500) || x.grpc.as_ref().is_some_and(GrpcCall::failed),
            latency_ns: x.latency_ns,
            local: SocketAddr::new(r.net.saddr, r.net.sport),
            remote: SocketAddr::new(r.net.daddr.unwrap_or(r.net.saddr), r.net.dport),
            peer: r.peer.cloned(),
            sidecar_visible: r.sidecar_visible,
            dname: r.net.dname.clone(),
        });
        self.process_event(r.unix_ns, r.owner, r.who, action);
        Ok(())
    }

    /// As the JSON record says it, so that a recording replays to the same screen.
    fn dns(&mut self, r: &DnsRecord) -> io::Result<()> {
        let l = r.lookup;
        let action = Action::Lookup(Lookup {
            role: l.role,
            qname: l.query.qname.to_ascii_lowercase(),
            qtype: dns::qtype_name(l.query.qtype),
            rcode: l.answer.as_ref().map(|a| dns::rcode_name(a.rcode)),
            answers: l.addresses().collect(),
            latency_ns: l.latency_ns,
            // A datagram that named no peer leaves port 0.
            remote: r.net.daddr.map(|a| SocketAddr::new(a, r.net.dport)).filter(|a| a.port() != 0),
        });
        self.process_event(r.unix_ns, r.owner, r.who, action);
        Ok(())
    }

    fn sidecars(&mut self, r: &SidecarsRecord) -> io::Result<()> {
        self.batch.push(Observation::Sidecars { bills: r.bills.to_vec(), podtop: r.podtop });
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        match self.to_ui.try_send(std::mem::take(&mut self.batch)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(batch)) => {
                self.dropped += batch.len() as u64;
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(io::Error::new(io::ErrorKind::BrokenPipe, "the UI has closed")),
        }
    }
}
