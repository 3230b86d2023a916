//! Recordings back into observations: what `podtop replay FILE` shows, the
//! TUI from a recording (`--json` or `--record`), without root or BPF, at the
//! recorded pace or faster.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use lru::LruCache;

use super::feed::{self, Feed};
use super::observation::{Action, ConnKind, Connection, KernelTotals, Lookup, Observation, ProcessEvent, ProcessRef, Request};
use crate::enrich::cgroup_path::{QosClass, Runtime};
use crate::enrich::{Attribution, Container, Pod, ATTRIBUTION_CAPACITY};
use crate::events::CgroupCounters;
use crate::l7::exchanges::Role;
use crate::output::schema::{self, Record};
use crate::records::run::{RunInfo, Source};
use crate::records::PodtopCost;
use crate::sidecars::{known_hint, AddedLatency, Relayed, SidecarBill};

/// Batches waiting for the UI at most: a recording is read only as fast as the UI takes it.
const BATCHES: usize = 64;

/// Turns recorded records back into observations; owners are shared by cgroup id.
///
/// A recording can name any number of cgroups (a node with churning jobs, or
/// a file made up to exhaust the reader): the owners kept are bounded as the
/// live enricher bounds its attributions, the least recently seen going
/// first. A forgotten owner seen again is read again from its record, which
/// carries it whole, so nothing shown changes; what the bound costs is counted.
pub struct RecordingReader {
    owners: LruCache<u64, Arc<Attribution>>,
    /// Owners forgotten to stay within the bound.
    owners_forgotten: u64,
    /// `sidecar` records read since the last `sidecars` record, which closes the interval's set.
    sidecar_bills: Vec<(Arc<Attribution>, SidecarBill)>,
    /// `sidecar` records past the bound before their `sidecars` record, left out.
    sidecar_bills_dropped: u64,
}

/// Sidecars in one interval, at most: one per cgroup the live view keeps.
const MAX_SIDECAR_BILLS: usize = ATTRIBUTION_CAPACITY;

impl Default for RecordingReader {
    fn default() -> Self {
        RecordingReader {
            owners: crate::bounded::lru(ATTRIBUTION_CAPACITY),
            owners_forgotten: 0,
            sidecar_bills: Vec::new(),
            sidecar_bills_dropped: 0,
        }
    }
}

fn container_of(c: &schema::Container) -> Container {
    Container { id: c.id.clone(), runtime: c.runtime.as_deref().and_then(Runtime::from_name), name: c.name.clone() }
}

fn pod_of(p: &schema::Pod) -> Pod {
    Pod {
        uid: p.uid.clone(),
        name: p.name.clone(),
        namespace: p.namespace.clone(),
        qos: QosClass::from_name(&p.qos).unwrap_or(QosClass::BestEffort),
        cgroup_path: String::new(),
    }
}

fn socket(addr: Option<&str>, port: u16) -> Option<SocketAddr> {
    Some(SocketAddr::new(addr?.parse::<IpAddr>().ok()?, port))
}

fn time_of(header: &schema::Header) -> u64 {
    jiff::Timestamp::from_str(&header.time).ok().and_then(|t| u64::try_from(t.as_nanosecond()).ok()).unwrap_or(0)
}

/// A socket's local and remote ends (the remote one is none for an unconnected UDP socket).
fn ends(ends: &schema::Endpoints) -> (Option<SocketAddr>, Option<SocketAddr>) {
    (socket(Some(&ends.saddr), ends.sport), socket(ends.daddr.as_deref(), ends.dport))
}

/// The name the pod looked up for the remote address, where the record carries one.
fn dname(ends: &schema::Endpoints) -> Option<Arc<str>> {
    ends.dname.as_deref().map(Arc::from)
}

fn role(name: &str) -> Option<Role> {
    match name {
        "server" => Some(Role::Server),
        "client" => Some(Role::Client),
        _ => None,
    }
}

/// A connect, accept or close record's connection; None where it names no remote end.
fn connection(kind: ConnKind, e: &schema::Event<schema::ConnectionBody>) -> Option<Action> {
    let net = &e.body.net;
    let (local, remote) = ends(&net.ends);
    Some(Action::Connection(Connection {
        kind,
        local: local?,
        remote: remote?,
        tx_bytes: net.tx_bytes,
        rx_bytes: net.rx_bytes,
        cookie: net.cookie,
        peer: e.body.peer.as_ref().and_then(peer),
        sidecar_visible: e.sidecar_visible,
        dname: dname(&net.ends),
    }))
}

fn udp(net: &schema::Udp) -> Option<Action> {
    let (local, remote) = ends(&net.ends);
    Some(Action::Udp {
        local: local?,
        remote,
        dname: dname(&net.ends),
        tx_bytes: net.tx_bytes,
        rx_bytes: net.rx_bytes,
        datagrams: net.tx_datagrams + net.rx_datagrams,
    })
}

fn request(e: &schema::Event<schema::HttpBody>) -> Option<Action> {
    let http = &e.body.http;
    let (local, remote) = ends(&e.body.net.ends);
    let role = role(&http.role)?;
    Some(Action::Request(Request {
        role,
        method: http.method.clone(),
        path: http.path.clone(),
        status: http.status,
        failed: http.status.is_some_and(|s| s >= 500) || http.grpc.as_ref().is_some_and(|g| g.status.as_deref() != Some("OK")),
        latency_ns: http.latency_ns,
        local: local?,
        remote: remote?,
        peer: e.body.peer.as_ref().and_then(peer),
        sidecar_visible: e.sidecar_visible,
        dname: dname(&e.body.net.ends),
    }))
}

fn lookup(e: &schema::Event<schema::DnsBody>) -> Option<Action> {
    let dns = &e.body.dns;
    Some(Action::Lookup(Lookup {
        role: role(&dns.role)?,
        qname: dns.qname.clone(),
        qtype: dns.qtype.clone(),
        rcode: dns.rcode.clone(),
        answers: dns.answers.iter().filter_map(|a| a.parse().ok()).collect(),
        latency_ns: dns.latency_ns,
        remote: ends(&e.body.net).1.filter(|a| a.port() != 0),
    }))
}

/// The pod at a connection's other end, where the record names one.
fn peer(p: &schema::Peer) -> Option<Arc<Attribution>> {
    Some(Arc::new(Attribution {
        cgroup_id: 0,
        cgroup_path: None,
        container: p.container.as_ref().map(container_of),
        pod: Some(pod_of(p.pod.as_ref()?)),
        rendered: Default::default(),
    }))
}

fn sidecar_bill(b: &schema::SidecarBody) -> SidecarBill {
    SidecarBill {
        hint: b.hint.as_deref().and_then(known_hint),
        cpu_cores: b.cpu_cores,
        memory_bytes: b.memory_bytes,
        rss_bytes: b.rss_bytes,
        added_latency: b.added_latency_p50_ns.map(|p50_ns| AddedLatency { p50_ns, p99_ns: b.added_latency_p99_ns }),
        relayed: Relayed {
            connections: b.relayed_connections,
            tx_bytes: b.relayed_tx_bytes,
            rx_bytes: b.relayed_rx_bytes,
            exchanges: b.exchanges,
            bypass_connections: b.bypass_connections,
            bypass: b.bypass.iter().filter_map(|a| a.parse().ok()).collect(),
        },
    }
}

fn tick(s: &schema::Stats) -> Observation {
    Observation::Tick {
        unix_ns: time_of(&s.header),
        totals: KernelTotals {
            seen: s.seen_total,
            lost: s.lost_total,
            dropped: s.counters_dropped.file_io + s.counters_dropped.udp + s.counters_dropped.cgroup,
            bpf_run_time_ns: s.bpf_run_time_ns,
        },
    }
}

impl RecordingReader {
    fn owner(&mut self, o: &schema::Owner) -> Arc<Attribution> {
        let fresh = Attribution {
            cgroup_id: o.cgroup.id,
            cgroup_path: o.cgroup.path.clone(),
            container: o.container.as_ref().map(container_of),
            pod: o.pod.as_ref().map(pod_of),
            rendered: Default::default(),
        };
        let known = self.owners.get(&o.cgroup.id).filter(|a| a.container == fresh.container && a.pod == fresh.pod);
        match known {
            Some(a) => a.clone(),
            None => {
                let a = Arc::new(fresh);
                if let Some((evicted, _)) = self.owners.push(o.cgroup.id, a.clone()) {
                    if evicted != o.cgroup.id {
                        self.owners_forgotten += 1;
                    }
                }
                a
            }
        }
    }

    /// Owners forgotten for the bound, since the recording's start.
    pub fn owners_forgotten(&self) -> u64 {
        self.owners_forgotten
    }

    /// `sidecar` records left out for the bound on one interval's sidecars.
    pub fn sidecar_bills_dropped(&self) -> u64 {
        self.sidecar_bills_dropped
    }

    /// The observation a record stands for; None for records the model does not use.
    pub fn observation(&mut self, record: &Record) -> Option<Observation> {
        match record {
            Record::Sidecar(r) => {
                self.add_sidecar_bill(r);
                None
            }
            Record::Sidecars(r) => Some(Observation::Sidecars {
                bills: std::mem::take(&mut self.sidecar_bills),
                podtop: PodtopCost { cpu_cores: r.podtop.cpu_cores, bpf_cores: r.podtop.bpf_cores, rss_bytes: r.podtop.rss_bytes },
            }),
            Record::Stats(s) => Some(tick(s)),
            Record::Counters(c) => {
                let mut delta = CgroupCounters::default();
                for (name, value) in &c.counters {
                    delta.set(name, *value);
                }
                Some(Observation::Counters { owner: self.owner(&c.owner), delta })
            }
            // The TUI counts opens in the kernel; it does not list them.
            Record::Open(_) | Record::Start(_) | Record::Unknown => None,
            _ => self.process_event(record),
        }
    }

    /// One interval's sidecar bill, kept for the `sidecars` record that closes the interval.
    fn add_sidecar_bill(&mut self, r: &schema::Sidecar) {
        let bill = sidecar_bill(&r.sidecar);
        if self.sidecar_bills.len() >= MAX_SIDECAR_BILLS {
            self.sidecar_bills_dropped += 1;
            return;
        }
        let owner = self.owner(&r.owner);
        self.sidecar_bills.push((owner, bill));
    }

    /// What a process did, from a record of it; None where the record names
    /// no address the TUI can show, or a role it does not know.
    fn process_event(&mut self, record: &Record) -> Option<Observation> {
        Some(match record {
            Record::Exec(e) => {
                let action = Action::Exec { filename: e.body.exec.filename.clone(), args: e.body.exec.args.clone() };
                self.observed(e, action)
            }
            Record::Exit(e) => self.observed(e, Action::Exit { code: e.body.exit.code, signal: e.body.exit.signal }),
            Record::Connect(e) => self.observed(e, connection(ConnKind::Connect, e)?),
            Record::Accept(e) => self.observed(e, connection(ConnKind::Accept, e)?),
            Record::Close(e) => self.observed(e, connection(ConnKind::Close, e)?),
            Record::FileIo(e) => {
                let file = &e.body.file;
                self.observed(e, Action::FileIo { path: file.path.clone(), read_bytes: file.read_bytes, write_bytes: file.write_bytes })
            }
            Record::Udp(e) => self.observed(e, udp(&e.body.net)?),
            Record::Http(e) => self.observed(e, request(e)?),
            Record::Dns(e) => self.observed(e, lookup(e)?),
            _ => return None,
        })
    }

    fn observed<B>(&mut self, e: &schema::Event<B>, action: Action) -> Observation {
        let process = ProcessRef { pid: e.process.pid, ppid: e.process.ppid, comm: e.process.comm.clone() };
        Observation::Process(ProcessEvent { unix_ns: time_of(&e.header), owner: self.owner(&e.owner), process, action })
    }
}

/// What the header says, from the recording's start record.
pub fn run_info(start: &schema::Start, path: &Path) -> RunInfo {
    let with_status = |statuses: &[&str]| start.probes.values().filter(|p| statuses.contains(&p.status.as_str())).count();
    RunInfo {
        node: start.header.node.clone(),
        kernel: start.kernel.clone(),
        probes_attached: with_status(&["attached"]),
        probes_skipped: with_status(&["skipped", "failed"]),
        source: Source::Replay { path: path.to_path_buf() },
        classes: None,
    }
}

/// The longest line a recording may have: podtop writes none longer than
/// about 40 KiB (an exec with its whole command line, escaped).
pub const MAX_LINE: usize = 1024 * 1024;
/// Observations handed to the UI at once, at most, even between two ticks:
/// where each observation brings an owner of its own (a recording that names
/// a new cgroup on every line), the batches in the channel hold little
/// beside the model, which is bounded.
const MAX_BATCH: usize = 256;

/// Reads one line of at most `max` bytes into `line` (without its newline);
/// Ok(false) at the end of the input. A longer line is an error, whatever
/// its length: nothing is read into memory past `max`.
pub fn read_line_bounded(reader: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> std::io::Result<bool> {
    line.clear();
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(!line.is_empty());
        }
        let (chunk, found) = match available.iter().position(|b| *b == b'\n') {
            Some(end) => (&available[..end], true),
            None => (available, false),
        };
        if line.len() + chunk.len() > max {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("a line longer than {} KiB", max / 1024)));
        }
        line.extend_from_slice(chunk);
        let used = chunk.len() + usize::from(found);
        reader.consume(used);
        if found {
            return Ok(true);
        }
    }
}

/// Opens a recording and reads its start record.
pub fn open(path: &Path) -> Result<(RunInfo, BufReader<File>)> {
    let file = File::open(path).with_context(|| format!("opening the recording {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut first = Vec::new();
    let not_a_recording = || format!("{} is not a podtop recording (its first line is not a start record)", path.display());
    match read_line_bounded(&mut reader, &mut first, MAX_LINE) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => bail!("{}", not_a_recording()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let start = match serde_json::from_slice::<Record>(&first) {
        Ok(Record::Start(start)) => start,
        // A start record podtop cannot read says why: a field it needs, in one line.
        Err(e) if first.starts_with(br#"{"type":"start""#) => bail!("{}: {e}", not_a_recording()),
        _ => bail!("{}", not_a_recording()),
    };
    Ok((run_info(&start, path), reader))
}

/// A recording played back on a thread of its own.
pub fn feed(path: PathBuf, speed: f64, stop: Arc<AtomicBool>) -> Result<Feed> {
    let (run, reader) = open(&path)?;
    let (to_ui, observations) = feed::channel(BATCHES);
    let worker = std::thread::Builder::new()
        .name("podtop-replay".into())
        .spawn(move || play(reader, speed, to_ui, &stop))
        .context("starting the replay thread")?;
    Ok(Feed::new(run, observations, worker))
}

/// Sends the recording's observations, one batch per interval, paced by the
/// recorded times divided by `speed` (0: as fast as possible).
pub fn play(mut reader: BufReader<File>, speed: f64, to_ui: SyncSender<Vec<Observation>>, stop: &AtomicBool) -> Result<()> {
    let mut recording = RecordingReader::default();
    let mut batch = Vec::new();
    let mut last_tick: Option<u64> = None;
    let mut line = Vec::new();
    let mut number = 1; // the start record was line 1
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        number += 1;
        match read_line_bounded(&mut reader, &mut line, MAX_LINE) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => bail!("line {number} of the recording is {e}: not a podtop recording"),
            Err(e) => return Err(e).context("reading the recording"),
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record = match serde_json::from_slice::<Record>(&line) {
            Ok(record) => record,
            Err(e) if e.is_syntax() || e.is_eof() => bail!("line {number} of the recording is not JSON"),
            Err(e) => bail!("line {number} of the recording is not a podtop record: {e}"),
        };
        let Some(observation) = recording.observation(&record) else { continue };
        let tick = match &observation {
            Observation::Tick { unix_ns, .. } => Some(*unix_ns),
            _ => None,
        };
        batch.push(observation);
        if tick.is_none() && batch.len() >= MAX_BATCH {
            if to_ui.send(std::mem::take(&mut batch)).is_err() {
                return Ok(());
            }
            continue;
        }
        if let Some(now) = tick {
            if let (Some(before), true) = (last_tick, speed > 0.0) {
                let wait = Duration::from_nanos(now.saturating_sub(before)).div_f64(speed).min(Duration::from_secs(10));
                // In short steps: a quit during a long wait is not held up.
                let until = std::time::Instant::now() + wait;
                while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep((until - std::time::Instant::now()).min(Duration::from_millis(50)));
                }
            }
            last_tick = Some(now);
            if to_ui.send(std::mem::take(&mut batch)).is_err() {
                return Ok(()); // the UI closed
            }
        }
    }
    if !batch.is_empty() {
        let _ = to_ui.send(batch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn record() -> impl Strategy<Value = Value> {
        let kind = prop_oneof![
            Just("exec"), Just("exit"), Just("open"), Just("connect"), Just("accept"), Just("close"),
            Just("udp"), Just("file_io"), Just("counters"), Just("stats"), Just("start"), Just("http"), Just("dns"), Just("other"),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC{0,16}".prop_map(Value::from),
            Just(Value::from("10.0.0.1")),
            Just(Value::from("2026-11-29T00:00:00.000000000Z")),
        ];
        let field = prop_oneof![
            Just("process"), Just("pid"), Just("cgroup"), Just("id"), Just("container"), Just("pod"), Just("uid"),
            Just("net"), Just("saddr"), Just("sport"), Just("daddr"), Just("dport"), Just("exec"), Just("args"),
            Just("counters"), Just("execs"), Just("file"), Just("path"), Just("time"), Just("peer"), Just("exit"), Just("code"),
            Just("dname"), Just("dns"), Just("role"), Just("qname"), Just("qtype"), Just("rcode"), Just("answers"),
        ];
        let value = leaf.prop_recursive(3, 40, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(field.clone().prop_map(str::to_string), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        (kind, value).prop_map(|(kind, mut value)| {
            if let Value::Object(map) = &mut value {
                map.insert("type".into(), Value::from(kind));
            }
            value
        })
    }

    /// A counters record of cgroup 0 in a pod, to copy with other ids.
    fn counters_of_a_pod() -> Record {
        serde_json::from_value(serde_json::json!({
            "type": "counters", "time": "2026-11-29T00:00:00.000000000Z", "node": "n",
            "cgroup": {"id": 0, "path": "/kubepods.slice/pod/cri-containerd-ab.scope"},
            "container": {"id": "ab", "runtime": "containerd", "name": "api"},
            "pod": {"uid": "u-1", "name": "web-0", "namespace": "shop", "qos": "burstable"},
            "counters": {"execs": 1}
        }))
        .unwrap()
    }

    /// A recording that names 400,000 cgroups leaves the reader with as
    /// many owners as the live view keeps, no more, and each one forgotten
    /// is counted.
    #[test]
    fn owners_of_a_recording_stay_within_the_live_bound() {
        const CGROUPS: u64 = 400_000;
        let mut reader = RecordingReader::default();
        let mut record = counters_of_a_pod();
        for id in 0..CGROUPS {
            let Record::Counters(c) = &mut record else { unreachable!() };
            c.owner.cgroup.id = id;
            let Some(Observation::Counters { owner, .. }) = reader.observation(&record) else { panic!("a counters observation") };
            assert_eq!(owner.cgroup_id, id);
            assert!(reader.owners.len() <= ATTRIBUTION_CAPACITY);
        }
        assert_eq!(reader.owners.len(), ATTRIBUTION_CAPACITY);
        assert_eq!(reader.owners_forgotten(), CGROUPS - ATTRIBUTION_CAPACITY as u64);
        // The last ones are still shared, not made again.
        let Record::Counters(c) = &mut record else { unreachable!() };
        c.owner.cgroup.id = CGROUPS - 1;
        let Some(Observation::Counters { owner: again, .. }) = reader.observation(&record) else { panic!() };
        assert!(Arc::ptr_eq(&again, reader.owners.peek(&(CGROUPS - 1)).unwrap()));
        assert_eq!(reader.owners_forgotten(), CGROUPS - ATTRIBUTION_CAPACITY as u64);
    }

    /// `sidecar` records with no `sidecars` record to close their interval
    /// are bounded too.
    #[test]
    fn one_intervals_sidecars_stay_within_the_bound() {
        let mut reader = RecordingReader::default();
        let Record::Counters(c) = counters_of_a_pod() else { unreachable!() };
        let mut sidecar: Record = serde_json::from_value(serde_json::json!({
            "type": "sidecar", "time": "2026-11-29T00:00:00.000000000Z", "node": "n",
            "cgroup": {"id": 0, "path": null}, "container": c.owner.container, "pod": c.owner.pod,
            "sidecar": {"hint": "envoy", "cpu_cores": null, "memory_bytes": null, "rss_bytes": null,
                "relayed_connections": 1, "relayed_tx_bytes": 1, "relayed_rx_bytes": 1, "extra_stack_bytes": 0,
                "added_latency_p50_ns": null, "added_latency_p99_ns": null, "exchanges": 0,
                "bypass_connections": 0, "bypass": []}
        }))
        .unwrap();
        let extra = 100;
        for id in 0..(MAX_SIDECAR_BILLS + extra) as u64 {
            let Record::Sidecar(s) = &mut sidecar else { unreachable!() };
            s.owner.cgroup.id = id;
            assert!(reader.observation(&sidecar).is_none());
        }
        assert_eq!(reader.sidecar_bills.len(), MAX_SIDECAR_BILLS);
        assert_eq!(reader.sidecar_bills_dropped(), extra as u64);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn any_record_is_read_without_panicking(r in record()) {
            if let Ok(record) = serde_json::from_value::<Record>(r) {
                let _ = RecordingReader::default().observation(&record);
            }
        }

        /// Lines come back whole and in order, none longer than the bound;
        /// past it, an error, with no more than the bound read into memory.
        #[test]
        fn lines_are_bounded(input in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..300), max in 1usize..40) {
            let mut reader = std::io::BufReader::with_capacity(7, input.as_slice());
            let mut line = Vec::new();
            let mut lines = Vec::new();
            loop {
                match read_line_bounded(&mut reader, &mut line, max) {
                    Ok(true) => {
                        prop_assert!(line.len() <= max);
                        lines.push(line.clone());
                    }
                    Ok(false) => {
                        let expected: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
                        let got: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
                        prop_assert_eq!(&got[..], &expected[..got.len()]);
                        break;
                    }
                    Err(_) => {
                        prop_assert!(input.split(|b| *b == b'\n').any(|l| l.len() > max));
                        prop_assert!(line.len() <= max);
                        break;
                    }
                }
            }
        }
    }
}
