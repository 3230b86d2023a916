//! decode -> enrich -> sink, for each record of the ring buffer, and the
//! periodic records made from counters aggregated in the kernel.

use std::borrow::Cow;
use std::io;


use crate::bounded::TableSize;
use crate::records::deltas::Deltas;
use crate::clock::Clock;
use crate::enrich::peers::{Endpoint, PeerTable, SocketView};
use crate::enrich::files::{FileKey, FilePaths};
use crate::enrich::{Attribution, Enricher};
use crate::enrich::redact::redact_args;
use crate::events::{c_str_bytes, c_bytes, decode, ip_of, split_args, CgroupCounters, Event, FileIoKey, FileIoValue, Kind, PayloadEvent, PayloadProtocol, UdpKey, UdpValue};
use crate::enrich::names::ResolvedNames;
use crate::l7::exchanges::{Exchange, HttpTracker, Role};
use crate::l7::lookups::{DnsTracker, Lookup};
use crate::l7::{http, tls};
use crate::enrich::filter::Filter;
use crate::records::{
    CountersRecord, DnsRecord, EventRecord, FileIoDelta, FileIoRecord, HttpRecord, NetView, PodtopCost, SidecarsRecord, Sink, Stats, UdpDelta,
    UdpRecord,
};
use crate::host::UsageMeter;
use crate::sidecars::{round_cores, Closed, Flow, SidecarFinder, Turns};
use std::net::SocketAddr;
use std::time::Instant;

/// A TCP socket's two ends and namespace, from the kernel's byte arrays
/// (connect/accept/close records and payload records carry the same fields).
macro_rules! socket_view {
    ($e:expr) => {
        SocketView {
            local: Endpoint { addr: ip_of(&$e.saddr, $e.family), port: $e.sport },
            remote: Endpoint { addr: ip_of(&$e.daddr, $e.family), port: $e.dport },
            netns: $e.sock_netns,
        }
    };
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

/// A keep-alive connection's last exchange ends once nothing moved for this long after its response began.
const HTTP_QUIET_NS: u64 = 5_000_000_000;
/// A DNS query with no answer after this long is reported unanswered (glibc's resolver gives up at 5 s too).
const DNS_TIMEOUT_NS: u64 = 5_000_000_000;
/// TLS ClientHellos remembered until their connection closes, at most.
const MAX_TLS_HELLOS: usize = 16_384;

type FileIoId = (u64, u64, u32, u32);
type UdpId = (u64, [u8; 16], [u8; 16], u32, u16, u16, u16);

fn file_io_id(key: &FileIoKey) -> FileIoId {
    (key.cgroup_id, key.ino, key.dev, key.pid)
}

fn udp_id(key: &UdpKey) -> UdpId {
    (key.cgroup_id, key.saddr, key.daddr, key.pid, key.sport, key.dport, key.family)
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
    /// Query strings kept in paths (`--http-query`).
    http_query: bool,
    /// DNS queries paired with their answers, per end.
    dns: DnsTracker,
    /// The names pods looked up, by the addresses they got.
    names: ResolvedNames,
    /// The ClientHello each TLS connection began with, until its close.
    tls_hellos: lru::LruCache<u64, tls::ClientHello>,
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
            http_query: false,
            dns: DnsTracker::default(),
            names: ResolvedNames::default(),
            tls_hellos: crate::bounded::lru(MAX_TLS_HELLOS),
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
        let who = event.header().who;
        if let Event::Cgroup(kind, e) = event {
            if kind == Kind::CgroupMkdir {
                let path = String::from_utf8_lossy(c_bytes(&e.path, e.path_len)).into_owned();
                self.enricher.cgroup_created(e.id, path);
                // Names are read now, while the runtime's state is there: a
                // container that ends within a second is gone before its
                // first counters are read, and so is its state.
                let attribution = self.enricher.attribution(e.id);
                if self.filter.is_active() && self.filter.matches(&attribution) {
                    self.pending_filter_cgroups.push(e.id);
                }
            } else {
                self.enricher.cgroup_removed(e.id);
            }
            return Ok(());
        }
        if let Event::Payload(e, data) = event {
            return self.on_payload(e, data);
        }
        let owner = self.enricher.attribution(who.cgroup_id);
        self.enricher.netns.learn(who.netns, who.pid, who.cgroup_id);
        let mut net = None;
        let mut peer = None;
        let mut sidecar_visible = false;
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
                    self.write_exchanges(&done)?;
                    tls_hello = self.tls_hellos.pop(&e.cookie);
                }
                let view = socket_view!(e);
                match kind {
                    Kind::Connect => self.peers.connected(view, owner.clone()),
                    Kind::Accept => self.peers.accepted(view, owner.clone()),
                    _ => {}
                }
                peer = self.peers.peer_of(view, &mut self.enricher);
                sidecar_visible = self.sidecar_visible(&owner, &view);
                let flow = match kind {
                    Kind::Connect => Some(Flow::Connect),
                    Kind::Accept => Some(Flow::Accept),
                    Kind::Close => Some(Flow::Close(Closed {
                        tx_bytes: e.tx_bytes,
                        rx_bytes: e.rx_bytes,
                        turns: Turns {
                            exchanges: e.turns.exchanges,
                            exchange_ns: e.turns.exchange_ns,
                            asked_at_sum: e.turns.asked_at_sum,
                            replies: e.turns.replies,
                            reply_ns: e.turns.reply_ns,
                            heard_at_sum: e.turns.heard_at_sum,
                        },
                        connected: e.connected(),
                        local: SocketAddr::new(view.local.addr, view.local.port),
                    })),
                    _ => None,
                };
                if let Some(flow) = flow {
                    let remote = SocketAddr::new(view.remote.addr, view.remote.port);
                    let comm = String::from_utf8_lossy(c_str_bytes(&who.comm));
                    // Addressed out of the pod, taken by a proxy in it: the sidecar's input.
                    let via = if kind == Kind::Accept { None } else { self.peers.redirected_to(view) };
                    let (to, leaves_pod) = match &via {
                        Some(proxy) => (Some(proxy), false),
                        None => (peer.as_ref(), sidecar_visible),
                    };
                    self.sidecars.connection(flow, &owner, &comm, to, leaves_pod, remote);
                }
                if kind == Kind::Close {
                    self.peers.closed(view, e.connected(), Instant::now());
                }
                net = Some(net_view("tcp", &view, &mut self.names));
            }
            _ => {}
        }
        let (args, args_redacted) = match event {
            Event::Exec(e) => {
                let args: Vec<&[u8]> = split_args(c_bytes(&e.args, e.args_len)).collect();
                if self.redact {
                    redact_args(&args)
                } else {
                    (args.into_iter().map(Cow::Borrowed).collect(), false)
                }
            }
            _ => (Vec::new(), false),
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

    /// Whether a sidecar proxy in the owner's pod could see this connection:
    /// a pod's, and leaving its network namespace.
    fn sidecar_visible(&mut self, owner: &Attribution, view: &SocketView) -> bool {
        owner.pod.is_some() && view.netns != self.host_netns && !self.enricher.netns.is_local(view.netns, view.remote.addr)
    }

    /// A socket read or write's first bytes: a TLS ClientHello is kept for
    /// its connection's close; HTTP and DNS go to their trackers, whose
    /// finished exchanges and lookups become records.
    fn on_payload(&mut self, e: &PayloadEvent, data: &[u8]) -> io::Result<()> {
        // While the process is there: a short-lived client's pod is the other end's peer.
        self.enricher.netns.learn(e.hdr.who.netns, e.hdr.who.pid, e.hdr.who.cgroup_id);
        match u32::from(e.protocol) {
            PayloadProtocol::TLS | PayloadProtocol::TLS_HANDSHAKE => {
                let hello = if u32::from(e.protocol) == PayloadProtocol::TLS {
                    tls::parse_client_hello(data)
                } else {
                    tls::parse_client_hello_message(data)
                };
                if let Some(hello) = hello {
                    self.tls_hellos.put(e.cookie, hello);
                }
                Ok(())
            }
            PayloadProtocol::DNS => {
                let mut done = Vec::new();
                self.dns.datagram(e, data, &mut done);
                self.write_lookups(&done)
            }
            _ => {
                let mut done = Vec::new();
                self.http.payload(e, data, &mut done);
                self.write_exchanges(&done)
            }
        }
    }

    /// Finished DNS lookups, as records of the end that saw them; a client's
    /// answers name the addresses its pod connects to next.
    fn write_lookups(&mut self, done: &[Lookup]) -> io::Result<()> {
        for lookup in done {
            let first = &lookup.first;
            let who = first.hdr.who;
            if lookup.role == Role::Client {
                self.names.resolved(first.sock_netns, &lookup.query.qname, lookup.addresses());
            }
            let owner = self.enricher.attribution(who.cgroup_id);
            let (addr, port) = lookup.remote.unwrap_or((ip_of(&first.daddr, first.family), 0));
            let view = SocketView {
                local: Endpoint { addr: ip_of(&first.saddr, first.family), port: first.sport },
                remote: Endpoint { addr, port },
                netns: first.sock_netns,
            };
            let peer = if port == 0 { None } else { self.peers.peer_of(view, &mut self.enricher) };
            let record = DnsRecord {
                unix_ns: self.clock.unix_ns(first.hdr.boot_ns),
                who: &who,
                owner: &owner,
                // The lookup's own name is not looked up for its server's address.
                net: NetView { dname: None, ..net_view("udp", &view, &mut self.names) },
                peer: peer.as_ref(),
                sidecar_visible: port != 0 && self.sidecar_visible(&owner, &view),
                lookup,
            };
            self.sink.dns(&record)?;
        }
        Ok(())
    }

    /// Finished HTTP exchanges, as records of the end that saw them.
    fn write_exchanges(&mut self, done: &[Exchange]) -> io::Result<()> {
        for x in done {
            let first = &x.first;
            let who = first.hdr.who;
            let owner = self.enricher.attribution(who.cgroup_id);
            let view = socket_view!(first);
            let peer = self.peers.peer_of(view, &mut self.enricher);
            let sidecar_visible = self.sidecar_visible(&owner, &view);
            let path = if self.http_query { x.request.target.as_str() } else { http::without_query(&x.request.target) };
            let record = HttpRecord {
                unix_ns: self.clock.unix_ns(first.hdr.boot_ns),
                who: &who,
                owner: &owner,
                net: net_view("tcp", &view, &mut self.names),
                cookie: first.cookie,
                peer: peer.as_ref(),
                sidecar_visible,
                exchange: x,
                path,
            };
            self.sink.http(&record)?;
        }
        Ok(())
    }

    /// Keep-alive connections quiet since their last response began: that exchange is done.
    fn end_quiet_exchanges(&mut self, now_boot_ns: u64) -> io::Result<()> {
        let mut done = Vec::new();
        self.http.quiet(now_boot_ns, HTTP_QUIET_NS, &mut done);
        self.write_exchanges(&done)?;
        let mut unanswered = Vec::new();
        self.dns.expired(now_boot_ns, DNS_TIMEOUT_NS, &mut unanswered);
        self.write_lookups(&unanswered)
    }

    /// Writes what changed in the kernel's per-file counters since the last
    /// call; returns the entries that stayed idle for a whole interval, which
    /// the caller removes from the kernel's map (then `forget_file_io`).
    pub fn file_io(&mut self, entries: &[(FileIoKey, FileIoValue)]) -> io::Result<Vec<FileIoKey>> {
        let now = self.clock.now_unix_ns();
        let mut idle = Vec::new();
        self.file_paths.new_read();
        for (key, value) in entries {
            let total = FileIoDelta {
                read_bytes: value.read_bytes,
                write_bytes: value.write_bytes,
                reads: value.reads,
                writes: value.writes,
            };
            let Some(delta) = self.file_io_deltas.observe(file_io_id(key), total) else {
                idle.push(*key);
                continue;
            };
            let owner = self.enricher.attribution(key.cgroup_id);
            // Named as the process's own mount namespace opened it, never as another's.
            let path = self.file_paths.path_of(FileKey { mntns: value.who.mntns, dev: key.dev, ino: key.ino }, key.pid);
            let record = FileIoRecord {
                unix_ns: now,
                who: &value.who,
                owner: &owner,
                dev: key.dev,
                ino: key.ino,
                path: path.as_deref(),
                delta,
            };
            self.sink.file_io(&record)?;
        }
        self.file_io_deltas.finish_read();
        Ok(idle)
    }

    /// The kernel's entry is gone: a new one with the same key counts from zero.
    pub fn forget_file_io(&mut self, key: &FileIoKey) {
        self.file_io_deltas.forget(&file_io_id(key));
    }

    /// As `file_io`, for the kernel's per-socket UDP counters.
    pub fn udp(&mut self, entries: &[(UdpKey, UdpValue)]) -> io::Result<Vec<UdpKey>> {
        let now = self.clock.now_unix_ns();
        let mut idle = Vec::new();
        for (key, value) in entries {
            let total = UdpDelta {
                tx_bytes: value.tx_bytes,
                rx_bytes: value.rx_bytes,
                tx_datagrams: value.tx_datagrams,
                rx_datagrams: value.rx_datagrams,
            };
            let Some(delta) = self.udp_deltas.observe(udp_id(key), total) else {
                idle.push(*key);
                continue;
            };
            // An unconnected socket's remote port is 0: net_view leaves its daddr out.
            let view = SocketView {
                local: Endpoint { addr: ip_of(&key.saddr, key.family), port: key.sport },
                remote: Endpoint { addr: ip_of(&key.daddr, key.family), port: key.dport },
                netns: value.who.netns,
            };
            let net = net_view("udp", &view, &mut self.names);
            let owner = self.enricher.attribution(key.cgroup_id);
            let peer = if key.dport == 0 { None } else { self.peers.peer_of(view, &mut self.enricher) };
            let record = UdpRecord { unix_ns: now, who: &value.who, owner: &owner, net, peer: peer.as_ref(), delta };
            self.sink.udp(&record)?;
        }
        self.udp_deltas.finish_read();
        Ok(idle)
    }

    pub fn forget_udp(&mut self, key: &UdpKey) {
        self.udp_deltas.forget(&udp_id(key));
    }

    /// Writes each cgroup's activity during the last interval; returns the
    /// cgroups that were idle, for the caller to remove from the kernel's map.
    pub fn cgroup_counters(&mut self, entries: &[(u64, CgroupCounters)]) -> io::Result<Vec<u64>> {
        let now = self.clock.now_unix_ns();
        let mut idle = Vec::new();
        for (cgroup_id, totals) in entries {
            let Some(delta) = self.cgroup_deltas.observe(*cgroup_id, *totals) else {
                idle.push(*cgroup_id);
                continue;
            };
            let owner = self.enricher.attribution(*cgroup_id);
            self.sink.counters(&CountersRecord { unix_ns: now, owner: &owner, delta })?;
        }
        self.cgroup_deltas.finish_read();
        Ok(idle)
    }

    pub fn forget_cgroup_counters(&mut self, cgroup_id: u64) {
        self.cgroup_deltas.forget(&cgroup_id);
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
        sizes.push(self.dns.size());
        sizes.push(TableSize::of("tls_hellos", &self.tls_hellos));
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
