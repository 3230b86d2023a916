//! One record of every kind, as the pipeline makes them, for the sinks'
//! tests: the JSON writer against the schema, and the round trip through a
//! recording against the model built directly.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::{
    CountersRecord, DnsRecord, EventRecord, FileIoDelta, FileIoRecord, HttpRecord, NetView, PodtopCost, SidecarsRecord, Sink, Stats, UdpDelta, UdpRecord,
};
use crate::l7::exchanges::{Exchange, Role};
use crate::l7::grpc::GrpcCall;
use crate::l7::dns::{Answer, Message};
use crate::l7::http::{RequestHead, ResponseHead};
use crate::l7::lookups::Lookup;
use crate::l7::tls::ClientHello;
use crate::sidecars::{AddedLatency, Relayed, SidecarBill};
use crate::enrich::cgroup_path::{QosClass, Runtime};
use crate::enrich::{Attribution, Container, Pod};
use crate::events::{CgroupCounters, ConnEvent, Event, ExecEvent, ExitEvent, Kind, OpenEvent, ProcessIdentity};

/// The tests' clock: 2026-11-26T03:45:32Z, in nanoseconds since the epoch.
pub const T0: u64 = 1_795_664_732_000_000_000;

fn fill(dst: &mut [i8], src: &[u8]) -> u32 {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s as i8;
    }
    src.len().min(dst.len()) as u32
}

fn who(pid: u32, comm: &[u8]) -> ProcessIdentity {
    let mut who = ProcessIdentity { cgroup_id: 0, pid, tid: pid, ppid: 1, uid: 0, gid: 0, netns: 4026531840, mntns: 4026531841, ..Default::default() };
    fill(&mut who.comm, comm);
    who
}

/// An attribution as enrichment makes them, for tests: `attribution(id)`
/// is a cgroup alone (no path, container or pod), and each call adds what
/// the test needs.
pub fn attribution(cgroup_id: u64) -> AttributionBuilder {
    AttributionBuilder(Attribution { cgroup_id, cgroup_path: None, container: None, pod: None, rendered: Default::default() })
}

/// Builds a test's [`Attribution`]; see [`attribution`].
pub struct AttributionBuilder(Attribution);

impl AttributionBuilder {
    /// The cgroup's path below the cgroup2 root.
    pub fn path(mut self, path: &str) -> Self {
        self.0.cgroup_path = Some(path.into());
        self
    }

    /// A containerd container.
    pub fn container(mut self, id: &str, name: &str) -> Self {
        self.0.container = Some(Container { id: id.into(), runtime: Some(Runtime::Containerd), name: Some(name.into()) });
        self
    }

    /// A burstable pod of namespace shop.
    pub fn pod(mut self, uid: &str, name: &str) -> Self {
        self.0.pod = Some(Pod { name: Some(name.into()), namespace: Some("shop".into()), ..Self::bare_pod(uid) });
        self
    }

    /// A pod known by its uid alone (the cgroup path names no more).
    pub fn unnamed_pod(mut self, uid: &str) -> Self {
        self.0.pod = Some(Self::bare_pod(uid));
        self
    }

    fn bare_pod(uid: &str) -> Pod {
        Pod { uid: uid.into(), name: None, namespace: None, qos: QosClass::Burstable, cgroup_path: String::new() }
    }

    fn pod_mut(&mut self) -> &mut Pod {
        self.0.pod.as_mut().expect("a pod first: .pod() or .unnamed_pod()")
    }

    pub fn pod_name(mut self, name: &str) -> Self {
        self.pod_mut().name = Some(name.into());
        self
    }

    pub fn namespace(mut self, namespace: &str) -> Self {
        self.pod_mut().namespace = Some(namespace.into());
        self
    }

    pub fn qos(mut self, qos: QosClass) -> Self {
        self.pod_mut().qos = qos;
        self
    }

    /// The pod's own cgroup.
    pub fn pod_cgroup(mut self, path: &str) -> Self {
        self.pod_mut().cgroup_path = path.into();
        self
    }

    pub fn build(self) -> Arc<Attribution> {
        Arc::new(self.0)
    }
}

/// The records' pod: container api of pod shop/backend-0, cgroup 77.
pub fn backend_pod() -> AttributionBuilder {
    attribution(77)
        .path("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b_3c4d.slice/cri-containerd-ab.scope")
        .container(&"ab".repeat(32), "api")
        .pod("1a2b-3c4d", "backend-0")
}

pub fn pod_owner() -> Arc<Attribution> {
    backend_pod().build()
}

pub fn host_owner() -> Arc<Attribution> {
    attribution(1).path("/").build()
}

fn event<'a>(event: Event<'a>, who: &'a ProcessIdentity, owner: &'a Arc<Attribution>, unix_ns: u64) -> EventRecord<'a> {
    EventRecord { event, unix_ns, who, owner, net: None, peer: None, sidecar_visible: false, args: Vec::new(), args_redacted: false, tls: None }
}

/// Feeds `sink` one record of every kind the pipeline writes, in the order
/// a run would, ending with a `stats` record; odd bytes included.
pub fn feed_every_kind(sink: &mut impl Sink) {
    let pod = pod_owner();
    let host = host_owner();
    let api = who(4242, b"python3");
    let shell = who(99, b"sh\xff");

    let mut exec = ExecEvent::default();
    exec.hdr.kind = Kind::Exec as u32;
    exec.filename_len = fill(&mut exec.filename, b"/usr/bin/python3");
    let args: Vec<Cow<[u8]>> = vec![Cow::Borrowed(&b"python3"[..]), Cow::Borrowed(b"--token=***"), Cow::Borrowed(b"caf\xe9")];
    let mut r = event(Event::Exec(&exec), &api, &pod, T0);
    r.args = args;
    r.args_redacted = true;
    sink.event(&r).unwrap();
    // A program run from a memfd, its name not UTF-8.
    let mut fileless = ExecEvent::default();
    fileless.hdr.kind = Kind::Exec as u32;
    fileless.filename_len = fill(&mut fileless.filename, b"/proc/self/fd/3");
    fileless.fileless = 1;
    fileless.dname_len = fill(&mut fileless.dname, b"memfd:pay\xffload");
    sink.event(&event(Event::Exec(&fileless), &shell, &pod, T0)).unwrap();

    let mut open = OpenEvent::default();
    open.hdr.kind = Kind::Open as u32;
    open.path_len = fill(&mut open.path, b"/etc/services");
    open.ret = 3;
    open.ino = 1234;
    open.dev = 8 << 20 | 1;
    sink.event(&event(Event::Open(&open), &api, &pod, T0 + 1_000)).unwrap();
    let mut failed = OpenEvent::default();
    failed.hdr.kind = Kind::Open as u32;
    failed.path_len = fill(&mut failed.path, b"/missing\xfe");
    failed.ret = -2;
    sink.event(&event(Event::Open(&failed), &shell, &host, T0 + 2_000)).unwrap();

    let peer = host_owner();
    let mut conn = ConnEvent { family: 2, role: 1, tx_bytes: 1000, rx_bytes: 2048, cookie: 9, ..Default::default() };
    for (kind, at) in [(Kind::Connect, 3_000), (Kind::Close, 4_000)] {
        conn.hdr.kind = kind as u32;
        let mut r = event(Event::Connection(kind, &conn), &api, &pod, T0 + at);
        r.net = Some(NetView {
            proto: "tcp",
            saddr: IpAddr::V4(Ipv4Addr::new(10, 244, 1, 2)),
            sport: 40000,
            daddr: Some(IpAddr::V4(Ipv4Addr::new(10, 244, 2, 3))),
            dport: 9000,
            dname: Some("api.shop.test".into()),
        });
        r.peer = Some(&peer);
        r.sidecar_visible = true;
        let hello = ClientHello { sni: Some("shop.example.test".into()), version: "1.3" };
        if kind == Kind::Close {
            r.tls = Some(&hello);
        }
        sink.event(&r).unwrap();
    }

    let exchange = Exchange {
        first: Default::default(),
        role: Role::Client,
        request: RequestHead { method: "GET", target: "/api/items?token=x".into(), version: Some("1.1"), target_truncated: false },
        response: Some(ResponseHead { version: "1.1", status: 200 }),
        request_bytes: 80,
        response_bytes: 1234,
        latency_ns: Some(2_500_000),
        authority: None,
        grpc: None,
        reset: None,
        heads_lost: false,
    };
    let net = NetView {
        proto: "tcp",
        saddr: IpAddr::V4(Ipv4Addr::new(10, 244, 1, 2)),
        sport: 40000,
        daddr: Some(IpAddr::V4(Ipv4Addr::new(10, 244, 2, 3))),
        dport: 9000,
        dname: None,
    };
    let http = HttpRecord {
        unix_ns: T0 + 3_500,
        who: &api,
        owner: &pod,
        net,
        cookie: 9,
        peer: Some(&peer),
        sidecar_visible: true,
        exchange: &exchange,
        path: "/api/items",
    };
    sink.http(&http).unwrap();
    let unanswered = Exchange { response: None, latency_ns: None, response_bytes: 0, ..exchange.clone() };
    sink.http(&HttpRecord { exchange: &unanswered, peer: None, ..http }).unwrap();
    let query = Message { id: 0x4d2, is_response: false, rcode: 0, qname: "api.shop.test".into(), qtype: 1, answers: vec![] };
    let answer = Message {
        is_response: true,
        answers: vec![Answer::Cname("web.shop.test".into()), Answer::Address(IpAddr::V4(Ipv4Addr::new(10, 244, 2, 3)))],
        ..query.clone()
    };
    let lookup = Lookup {
        first: Default::default(),
        remote: Some((IpAddr::V4(Ipv4Addr::new(10, 96, 0, 10)), 53)),
        role: Role::Client,
        query,
        answer: Some(answer),
        query_bytes: 31,
        answer_bytes: 76,
        latency_ns: Some(180_000),
    };
    let dns = DnsRecord {
        unix_ns: T0 + 2_500,
        who: &api,
        owner: &pod,
        net: NetView {
            proto: "udp",
            saddr: IpAddr::V4(Ipv4Addr::new(10, 244, 1, 2)),
            sport: 41000,
            daddr: Some(IpAddr::V4(Ipv4Addr::new(10, 96, 0, 10))),
            dport: 53,
            dname: None,
        },
        peer: None,
        sidecar_visible: true,
        lookup: &lookup,
    };
    sink.dns(&dns).unwrap();
    let unanswered = Lookup { answer: None, latency_ns: None, answer_bytes: 0, ..lookup.clone() };
    sink.dns(&DnsRecord { lookup: &unanswered, ..dns }).unwrap();
    conn.hdr.kind = Kind::Accept as u32;
    let mut r = event(Event::Connection(Kind::Accept, &conn), &api, &pod, T0 + 4_500);
    r.net = Some(NetView { proto: "tcp", saddr: IpAddr::V6(Ipv6Addr::LOCALHOST), sport: 8080, daddr: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)), dport: 50000, dname: None });
    sink.event(&r).unwrap();

    let mut exit = ExitEvent::default();
    exit.hdr.kind = Kind::Exit as u32;
    exit.exit_code = 3 << 8;
    exit.duration_ns = 5_000;
    sink.event(&event(Event::Exit(&exit), &shell, &host, T0 + 5_000)).unwrap();

    sink.file_io(&FileIoRecord {
        unix_ns: T0 + 6_000,
        who: &api,
        owner: &pod,
        dev: 8 << 20 | 1,
        ino: 1234,
        path: Some(b"/etc/services"),
        delta: FileIoDelta { read_bytes: 12345, write_bytes: 0, reads: 3, writes: 0 },
    })
    .unwrap();
    sink.file_io(&FileIoRecord {
        unix_ns: T0 + 6_000,
        who: &shell,
        owner: &host,
        dev: 8 << 20 | 1,
        ino: 99,
        path: None,
        delta: FileIoDelta { read_bytes: 0, write_bytes: 10, reads: 0, writes: 1 },
    })
    .unwrap();
    sink.udp(&UdpRecord {
        unix_ns: T0 + 6_000,
        who: &api,
        owner: &pod,
        net: NetView { proto: "udp", saddr: IpAddr::V4(Ipv4Addr::new(10, 244, 1, 2)), sport: 5353, daddr: None, dport: 0, dname: None },
        peer: None,
        delta: UdpDelta { tx_bytes: 300, rx_bytes: 0, tx_datagrams: 3, rx_datagrams: 0 },
    })
    .unwrap();
    let delta = CgroupCounters { execs: 1, opens: 2, open_errors: 1, tcp_connects: 1, tcp_tx_bytes: 1000, tcp_rx_bytes: 2048, ..Default::default() };
    sink.counters(&CountersRecord { unix_ns: T0 + 1_000_000_000, owner: &pod, delta }).unwrap();
    let bill = SidecarBill {
        hint: Some("envoy"),
        cpu_cores: Some(0.0125),
        memory_bytes: Some(25 << 20),
        rss_bytes: Some(20 << 20),
        added_latency: Some(AddedLatency { p50_ns: 310_000, p99_ns: Some(1_200_000) }),
        relayed: Relayed {
            connections: 4,
            tx_bytes: 104,
            rx_bytes: 4076,
            exchanges: 4,
            bypass_connections: 1,
            bypass: vec!["10.244.2.3:9000".parse().unwrap()],
        },
    };
    let podtop = PodtopCost { cpu_cores: Some(0.002), bpf_cores: None, rss_bytes: Some(40 << 20) };
    sink.sidecars(&SidecarsRecord { unix_ns: T0 + 1_000_000_000, bills: &[(pod.clone(), bill)], podtop }).unwrap();
    let stats = Stats {
        per_kind: Kind::ALL.iter().map(|k| (*k, 3, 0)).collect(),
        file_io_dropped: 0,
        udp_dropped: 1,
        cgroup_dropped: 0,
        decode_errors: 0,
        bpf_run_time_ns: None,
        bpf_run_count: None,
        tables: vec![
            crate::bounded::TableSize { name: "peer_connections", entries: 2, capacity: 65536, evicted: 0 },
            crate::bounded::TableSize { name: "file_names", entries: 65536, capacity: 65536, evicted: 1200 },
        ],
    };
    sink.stats(T0 + 1_000_000_000, &stats).unwrap();
    sink.flush().unwrap();
}

/// One HTTP request as a test script says it: who saw it, which end they
/// were, what was asked and answered.
pub struct Request<'a> {
    pub owner: &'a Arc<Attribution>,
    pub pid: u32,
    pub comm: &'a [u8],
    pub role: Role,
    pub method: &'static str,
    pub path: &'a str,
    pub status: Option<u16>,
    pub latency_ns: Option<u64>,
    pub local: std::net::SocketAddr,
    pub remote: std::net::SocketAddr,
    pub peer: Option<&'a Arc<Attribution>>,
    pub sidecar_visible: bool,
}

/// Feeds `sink` the records of two HTTP/2 streams: a gRPC call answered
/// NOT_FOUND, and a stream reset before its answer whose heads were lost.
pub fn feed_http2(sink: &mut impl Sink) {
    let (pod, api) = (pod_owner(), who(4242, b"python3"));
    let call = Exchange {
        first: Default::default(),
        role: Role::Client,
        request: RequestHead { method: "POST", target: "/shop.v1.Cart/Add".into(), version: Some("2"), target_truncated: false },
        response: Some(ResponseHead { version: "2", status: 200 }),
        request_bytes: 60,
        response_bytes: 41,
        latency_ns: Some(900_000),
        authority: Some("cart:50051".into()),
        grpc: Some(GrpcCall { service: "shop.v1.Cart".into(), method: "Add".into(), status: Some(5) }),
        reset: None,
        heads_lost: false,
    };
    let net = || NetView {
        proto: "tcp",
        saddr: IpAddr::V4(Ipv4Addr::new(10, 244, 1, 2)),
        sport: 40002,
        daddr: Some(IpAddr::V4(Ipv4Addr::new(10, 244, 2, 4))),
        dport: 50051,
        dname: None,
    };
    let record = |exchange, path| HttpRecord {
        unix_ns: T0 + 3_600,
        who: &api,
        owner: &pod,
        net: net(),
        cookie: 11,
        peer: None,
        sidecar_visible: true,
        exchange,
        path,
    };
    sink.http(&record(&call, "/shop.v1.Cart/Add")).unwrap();
    let reset = Exchange { response: None, latency_ns: None, grpc: None, reset: Some("CANCEL"), heads_lost: true, ..call.clone() };
    sink.http(&record(&reset, "*")).unwrap();
}

/// Feeds `sink` the http record the pipeline writes for `r`.
pub fn feed_request(sink: &mut impl Sink, unix_ns: u64, r: &Request) {
    let who = who(r.pid, r.comm);
    let exchange = Exchange {
        first: Default::default(),
        role: r.role,
        request: RequestHead { method: r.method, target: r.path.into(), version: Some("1.1"), target_truncated: false },
        response: r.status.map(|status| ResponseHead { version: "1.1", status }),
        request_bytes: 80,
        response_bytes: if r.status.is_some() { 1000 } else { 0 },
        latency_ns: r.latency_ns,
        authority: None,
        grpc: None,
        reset: None,
        heads_lost: false,
    };
    let net = NetView { proto: "tcp", saddr: r.local.ip(), sport: r.local.port(), daddr: Some(r.remote.ip()), dport: r.remote.port(), dname: None };
    let record = HttpRecord {
        unix_ns,
        who: &who,
        owner: r.owner,
        net,
        cookie: 1,
        peer: r.peer,
        sidecar_visible: r.sidecar_visible,
        exchange: &exchange,
        path: r.path,
    };
    sink.http(&record).unwrap();
}

/// One DNS lookup as a test script says it: who saw it, which end they
/// were, what was asked and answered.
pub struct LookupScript<'a> {
    pub owner: &'a Arc<Attribution>,
    pub pid: u32,
    pub comm: &'a [u8],
    pub role: Role,
    pub qname: &'a str,
    pub qtype: u16,
    /// None: no answer came.
    pub rcode: Option<u8>,
    pub answers: &'a [IpAddr],
    pub latency_ns: Option<u64>,
    pub local: std::net::SocketAddr,
    pub remote: std::net::SocketAddr,
}

/// Feeds `sink` the dns record the pipeline writes for `l`.
pub fn feed_lookup(sink: &mut impl Sink, unix_ns: u64, l: &LookupScript) {
    let who = who(l.pid, l.comm);
    let query = Message { id: 7, is_response: false, rcode: 0, qname: l.qname.into(), qtype: l.qtype, answers: vec![] };
    let answer = l.rcode.map(|rcode| Message { is_response: true, rcode, answers: l.answers.iter().map(|a| Answer::Address(*a)).collect(), ..query.clone() });
    let lookup = Lookup {
        first: Default::default(),
        remote: Some((l.remote.ip(), l.remote.port())),
        role: l.role,
        query,
        answer_bytes: if answer.is_some() { 80 } else { 0 },
        answer,
        query_bytes: 40,
        latency_ns: l.latency_ns,
    };
    let net = NetView { proto: "udp", saddr: l.local.ip(), sport: l.local.port(), daddr: Some(l.remote.ip()), dport: l.remote.port(), dname: None };
    let record = DnsRecord { unix_ns, who: &who, owner: l.owner, net, peer: None, sidecar_visible: true, lookup: &lookup };
    sink.dns(&record).unwrap();
}
