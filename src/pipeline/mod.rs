//! The collection wing: decode -> enrich -> sink, for each record of the
//! ring buffer (what sockets carry: payloads.rs), the periodic records made
//! from counters aggregated in the kernel (counters.rs), and the loop that
//! drives both for every output (collect.rs).

use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::bounded::TableSize;
use crate::clock::Clock;
use crate::enrich::files::{FileKey, FilePaths};
use crate::enrich::filter::Filter;
use crate::enrich::names::ResolvedNames;
use crate::enrich::peers::{PeerTable, SocketView};
use crate::enrich::redact::redact_args;
use crate::enrich::{Attribution, Enricher};
use crate::events::{c_bytes, c_str_bytes, decode, split_args, CgroupCounters, CgroupEvent, ConnEvent, Event, ExecEvent, Kind, ProcessIdentity};
use crate::host::UsageMeter;
use crate::l7::exchanges::HttpTracker;
use crate::l7::http2::Http2Tracker;
use crate::l7::lookups::DnsTracker;
use crate::l7::tls;
use crate::records::deltas::Deltas;
use crate::records::{EventRecord, FileIoDelta, NetView, PodtopCost, SidecarsRecord, Sink, Stats, UdpDelta};
use crate::sidecars::{round_cores, Closed, Flow, SidecarFinder};

/// A TCP socket's two ends and namespace, from the kernel's byte arrays
/// (connect/accept/close records and payload records carry the same fields).
macro_rules! socket_view {
    ($e:expr) => {
        $crate::enrich::peers::SocketView {
            local: $crate::enrich::peers::Endpoint { addr: $crate::events::ip_of(&$e.saddr, $e.family), port: $e.sport },
            remote: $crate::enrich::peers::Endpoint { addr: $crate::events::ip_of(&$e.daddr, $e.family), port: $e.dport },
            netns: $e.sock_netns,
        }
    };
}

pub mod collect;
mod counters;
mod payloads;

use counters::{FileIoId, UdpId};
use payloads::MAX_TLS_HELLOS;

/// A socket's transport, as its records name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }

    /// Whether the socket names its other end: a TCP socket does; a UDP
    /// datagram that named none leaves port 0, and has no peer.
    fn names_remote(self, view: &SocketView) -> bool {
        self == Transport::Tcp || view.remote.port != 0
    }
}

/// Where a socket is, as a record says it (`Pipeline::locate`).
struct Place {
    net: NetView,
    /// The pod at the other end.
    peer: Option<Arc<Attribution>>,
    /// Whether a sidecar proxy in the owner's pod could see it.
    sidecar_visible: bool,
}

/// A socket's ends as records show them, with the name its pod looked up for the remote address.
fn net_view(proto: &'static str, view: &SocketView, names: &mut ResolvedNames) -> NetView {
    let remote = (view.remote.port != 0).then_some(view.remote.addr);
    NetView {
        proto,
        saddr: view.local.addr,
        sport: view.local.port,
        daddr: remote,
        dport: view.remote.port,
        dname: remote.and_then(|addr| names.name_of(view.netns, addr)),
    }
}

/// A connection record's flow, as the sidecar finder takes it; none for a listen.
fn flow_of(kind: Kind, e: &ConnEvent, view: &SocketView) -> Option<Flow> {
    match kind {
        Kind::Connect => Some(Flow::Connect),
        Kind::Accept => Some(Flow::Accept),
        Kind::Close => Some(Flow::Close(since_last_record(e, view))),
        Kind::Progress => Some(Flow::Progress(since_last_record(e, view))),
        _ => None,
    }
}

/// What a close or progress record adds to the connection's earlier ones.
fn since_last_record(e: &ConnEvent, view: &SocketView) -> Closed {
    Closed {
        tx_bytes: e.tail_tx_bytes,
        rx_bytes: e.tail_rx_bytes,
        turns: e.tail_turns,
        connected: e.connected(),
        local: SocketAddr::new(view.local.addr, view.local.port),
    }
}

pub struct Pipeline<S: Sink> {
    enricher: Enricher,
    peers: PeerTable,
    sink: S,
    clock: Clock,
    host_netns: u32,
    filter: Filter,
    /// Cgroups created while running that the filter selects, for the kernel's set.
    pending_filter_cgroups: Vec<u64>,
    file_paths: FilePaths,
    file_io_deltas: Deltas<FileIoId, FileIoDelta>,
    cgroup_deltas: Deltas<u64, CgroupCounters>,
    udp_deltas: Deltas<UdpId, UdpDelta>,
    decode_errors: u64,
    /// Mask secrets in exec arguments (`--no-redact` turns it off).
    redact: bool,
    /// Which container of each pod relays its traffic, and what that costs.
    sidecars: SidecarFinder,
    /// When the last bill was drawn (or the pipeline made), with the BPF
    /// programs' run time then; podtop's own CPU and memory, measured over the same intervals.
    last_bill: (Instant, Option<u64>),
    own_usage: UsageMeter,
    /// HTTP requests paired with their responses, per connection end.
    http: HttpTracker,
    /// HTTP/2 streams, per connection end.
    http2: Http2Tracker,
    /// Query strings kept in paths (`--http-query`).
    http_query: bool,
    /// DNS queries paired with their answers, per end.
    dns: DnsTracker,
    /// The names pods looked up, by the addresses they got.
    names: ResolvedNames,
    /// The ClientHello each TLS connection began with, until its close.
    tls_hellos: crate::bounded::Table<u64, tls::ClientHello>,
    /// Set when a write failed; the reader stops consuming.
    pub output_error: Option<io::Error>,
}

impl<S: Sink> Pipeline<S> {
    pub fn new(enricher: Enricher, sink: S, filter: Filter, redact: bool) -> Self {
        let host_netns = enricher.netns.host_netns();
        let file_paths = FilePaths::new(enricher.host().clone());
        let enricher_cgroupfs = enricher.cgroupfs().cloned();
        let mut own_usage = UsageMeter::new(enricher.host().clone());
        own_usage.sample(); // the first interval's start
        Pipeline {
            enricher,
            peers: PeerTable::default(),
            sink,
            clock: Clock::new(),
            host_netns,
            filter,
            pending_filter_cgroups: Vec::new(),
            file_paths,
            file_io_deltas: Deltas::default(),
            cgroup_deltas: Deltas::default(),
            udp_deltas: Deltas::default(),
            decode_errors: 0,
            redact,
            sidecars: SidecarFinder::new(enricher_cgroupfs),
            last_bill: (Instant::now(), None),
            own_usage,
            http: HttpTracker::default(),
            http2: Http2Tracker::default(),
            http_query: false,
            dns: DnsTracker::default(),
            names: ResolvedNames::default(),
            tls_hellos: crate::bounded::Table::new("tls_hellos", MAX_TLS_HELLOS),
            output_error: None,
        }
    }

    /// `--http-query`: paths keep their query strings.
    pub fn keeping_http_queries(mut self, keep: bool) -> Self {
        self.http_query = keep;
        self
    }

    pub fn sink(&mut self) -> &mut S {
        &mut self.sink
    }

    pub fn take_pending_filter_cgroups(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.pending_filter_cgroups)
    }

    fn record_result(&mut self, result: io::Result<()>) -> i32 {
        match result {
            Ok(()) => 0,
            Err(e) => {
                self.output_error = Some(e);
                -1 // stops the ring buffer's consume loop
            }
        }
    }

    /// The ring buffer callback: 0 to go on, negative to stop consuming.
    pub fn handle(&mut self, bytes: &[u8]) -> i32 {
        if self.output_error.is_some() {
            return -1;
        }
        match decode(bytes) {
            Ok(event) => {
                let result = self.on_event(event);
                self.record_result(result)
            }
            Err(_) => {
                self.decode_errors += 1;
                0
            }
        }
    }

    fn on_event(&mut self, event: Event) -> io::Result<()> {
        match event {
            Event::Cgroup(kind, e) => {
                self.on_cgroup(kind, e);
                Ok(())
            }
            Event::Payload(e, data) => self.on_payload(e, data),
            _ => self.on_process_event(event),
        }
    }

    /// A cgroup made or removed: the enricher names it at once.
    fn on_cgroup(&mut self, kind: Kind, e: &CgroupEvent) {
        if kind != Kind::CgroupMkdir {
            for pod in self.enricher.cgroup_removed(e.id) {
                self.sidecars.forget_pod(&pod);
            }
            return;
        }
        let path = String::from_utf8_lossy(c_bytes(&e.path, e.path_len)).into_owned();
        self.enricher.cgroup_created(e.id, path);
        // Names are read now, while the runtime's state is there: a
        // container that ends within a second is gone before its
        // first counters are read, and so is its state.
        let attribution = self.enricher.attribution(e.id);
        if self.filter.is_active() && self.filter.matches(&attribution) {
            self.pending_filter_cgroups.push(e.id);
        }
    }

    /// What a process did (exec, exit, open, a TCP connection's connect,
    /// accept or close), as one record of it; a listen only teaches the peers.
    fn on_process_event(&mut self, event: Event) -> io::Result<()> {
        let who = event.header().who;
        let owner = self.enricher.attribution(who.cgroup_id);
        self.enricher.netns.learn(who.netns, who.pid, who.cgroup_id);
        let mut place = None;
        let mut tls_hello = None;
        match event {
            Event::Open(e) if e.ret >= 0 => {
                self.file_paths.opened(FileKey { mntns: who.mntns, dev: e.dev, ino: e.ino }, c_bytes(&e.path, e.path_len));
            }
            Event::Connection(Kind::Listen, e) => {
                self.peers.listening(e.sock_netns, e.sport, owner);
                return Ok(());
            }
            Event::Connection(kind, e) => {
                if kind == Kind::Close {
                    // Its last request ends with it, before the close record.
                    let mut done = Vec::new();
                    self.http.closed(e.cookie, &mut done);
                    self.http2.closed(e.cookie, &mut done);
                    self.write_exchanges(&done)?;
                    tls_hello = self.tls_hellos.pop(&e.cookie);
                }
                place = Some(self.on_connection(kind, e, &who, &owner));
            }
            _ => {}
        }
        let (args, args_redacted) = match event {
            Event::Exec(e) => self.args_of(e),
            _ => (Vec::new(), false),
        };
        let (net, peer, sidecar_visible) = match place {
            Some(Place { net, peer, sidecar_visible }) => (Some(net), peer, sidecar_visible),
            None => (None, None, false),
        };
        let record = EventRecord {
            event,
            unix_ns: self.clock.unix_ns(event.header().boot_ns),
            who: &who,
            owner: &owner,
            net,
            peer: peer.as_ref(),
            sidecar_visible,
            args,
            args_redacted,
            tls: tls_hello.as_ref(),
        };
        self.sink.event(&record)
    }

    /// An exec's arguments, secrets masked unless `--no-redact`; and whether any was.
    fn args_of<'e>(&self, e: &'e ExecEvent) -> (Vec<Cow<'e, [u8]>>, bool) {
        let args: Vec<&[u8]> = split_args(c_bytes(&e.args, e.args_len)).collect();
        if self.redact {
            redact_args(&args)
        } else {
            (args.into_iter().map(Cow::Borrowed).collect(), false)
        }
    }

    /// A TCP connect, accept or close: the peers learn its ends, the sidecar
    /// finder its flow; returns where the socket is.
    fn on_connection(&mut self, kind: Kind, e: &ConnEvent, who: &ProcessIdentity, owner: &Arc<Attribution>) -> Place {
        let view = socket_view!(e);
        match kind {
            Kind::Connect => self.peers.connected(view, owner.clone()),
            Kind::Accept => self.peers.accepted(view, owner.clone()),
            _ => {}
        }
        let place = self.locate(owner, view, Transport::Tcp);
        if let Some(flow) = flow_of(kind, e, &view) {
            let remote = SocketAddr::new(view.remote.addr, view.remote.port);
            let comm = String::from_utf8_lossy(c_str_bytes(&who.comm));
            // Addressed out of the pod, taken by a proxy in it: the sidecar's input.
            let via = if kind == Kind::Accept { None } else { self.peers.redirected_to(view) };
            let (to, leaves_pod) = match &via {
                Some(proxy) => (Some(proxy), false),
                None => (place.peer.as_ref(), place.sidecar_visible),
            };
            self.sidecars.connection(flow, owner, &comm, to, leaves_pod, remote);
        }
        if kind == Kind::Close {
            self.peers.closed(view, e.connected(), Instant::now());
        }
        place
    }

    /// Where a socket is, as its records say it: its ends (the remote
    /// address with the name its pod looked it up by), the pod at the other
    /// end, and whether a sidecar proxy in its owner's pod could see it: one
    /// of the owner's pod, and leaving its network namespace.
    fn locate(&mut self, owner: &Attribution, view: SocketView, transport: Transport) -> Place {
        let (net, peer) = self.ends_and_peer(view, transport);
        let sidecar_visible = transport.names_remote(&view)
            && owner.pod.is_some()
            && view.netns != self.host_netns
            && !self.enricher.netns.is_local(view.netns, view.remote.addr);
        Place { net, peer, sidecar_visible }
    }

    /// `locate` without the sidecar's sight, for the UDP counters, whose records do not carry it.
    fn ends_and_peer(&mut self, view: SocketView, transport: Transport) -> (NetView, Option<Arc<Attribution>>) {
        let peer = if transport.names_remote(&view) { self.peers.peer_of(view, &mut self.enricher) } else { None };
        (net_view(transport.name(), &view, &mut self.names), peer)
    }

    /// Forgets the listeners that closed: `open` is every (netns, port)
    /// listening now, as the kernel side knows them.
    pub fn keep_listeners(&mut self, open: &std::collections::HashSet<(u32, u16)>) {
        self.peers.keep_listeners(open);
    }

    pub fn stats(&mut self, mut stats: Stats) -> io::Result<()> {
        self.clock.refresh();
        self.end_quiet_exchanges(self.clock.now_boot_ns())?;
        stats.decode_errors = self.decode_errors;
        self.peers.forget_closed(Instant::now());
        stats.tables = self.table_sizes();
        let now = self.clock.now_unix_ns();
        self.sidecar_bills(now, &stats)?;
        self.sink.stats(now, &stats)
    }

    /// How full each of the tables that user space keeps is.
    fn table_sizes(&self) -> Vec<TableSize> {
        let mut sizes = Vec::with_capacity(16);
        sizes.extend(self.enricher.sizes());
        sizes.extend(self.peers.sizes());
        sizes.push(self.file_paths.size());
        sizes.push(self.names.size());
        sizes.push(self.http.size());
        sizes.push(self.http2.size());
        sizes.push(self.dns.size());
        sizes.push(self.tls_hellos.size());
        sizes
    }

    /// Every sidecar's bill since the last interval, beside podtop's own cost
    /// over the same time.
    fn sidecar_bills(&mut self, now: u64, stats: &Stats) -> io::Result<()> {
        let at = Instant::now();
        let bpf_ns = stats.bpf_run_time_ns;
        let (then, bpf_before) = std::mem::replace(&mut self.last_bill, (at, bpf_ns));
        let seconds = at.duration_since(then).as_secs_f64();
        let bills = self.sidecars.bills(self.enricher.host(), seconds);
        let own = self.own_usage.sample();
        let podtop = PodtopCost {
            cpu_cores: own.cpu_cores.map(round_cores),
            bpf_cores: bpf_ns.zip(bpf_before).map(|(now, before)| round_cores(now.saturating_sub(before) as f64 / 1e9 / seconds)),
            rss_bytes: own.rss_bytes,
        };
        self.sink.sidecars(&SidecarsRecord { unix_ns: now, bills: &bills, podtop })
    }
}
