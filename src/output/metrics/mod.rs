//! `--metrics ADDR` and `podtop serve`: the pipeline's per-interval records as
//! Prometheus metrics, served at /metrics in the Prometheus text format.
//!
//! Per pod and container (labels node, namespace, pod, pod_uid, container,
//! container_id, runtime; empty where unknown): the kernel's per-cgroup
//! counters, the sidecar's bill where a pod has one, and podtop's own cost.
//! Label values are bounded: a cgroup that reported nothing for
//! `forget_after` leaves the output, and past `max_owners` cgroups new ones
//! are not exported and are counted instead.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Result;
use prometheus::core::{Collector, MetricVec, MetricVecBuilder};
use prometheus::{Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::enrich::printable::printable_owned;
use crate::enrich::Attribution;
use crate::events::CgroupCounters;
use crate::l7::exchanges::Role;
use crate::l7::grpc;
use crate::records::{CountersRecord, DnsRecord, EventRecord, FileIoRecord, HttpRecord, SidecarsRecord, Sink, Stats, UdpRecord};
use crate::shutdown::Shutdown;

mod server;
mod tls;

pub use server::Bounds;
use server::ServerCounters;
pub use tls::TlsFiles;

/// The labels that name a cgroup's owner.
const OWNER: [&str; 7] = ["node", "namespace", "pod", "pod_uid", "container", "container_id", "runtime"];

/// Removes one owner's series of one metric, each value its extra labels take.
type Remover = Box<dyn Fn(&[String])>;

fn remover<T: MetricVecBuilder + 'static>(metric: &MetricVec<T>, variants: &[&[&'static str]]) -> Remover {
    let (metric, variants): (MetricVec<T>, Vec<Vec<&'static str>>) = (metric.clone(), variants.iter().map(|v| v.to_vec()).collect());
    Box::new(move |owner: &[String]| {
        for extra in &variants {
            let labels: Vec<&str> = owner.iter().map(String::as_str).chain(extra.iter().copied()).collect();
            // A series never written has nothing to remove.
            let _ = metric.remove_label_values(&labels);
        }
    })
}

/// Registers a metric made from its name, help and label names.
fn register<M: Collector + Clone + 'static>(
    registry: &Registry,
    new: fn(Opts, &[&str]) -> prometheus::Result<M>,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<M> {
    let metric = new(Opts::new(name, help), labels)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

/// The `status_class` label: by the status's first digit, `none` without a response.
const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];

fn status_class(status: Option<u16>) -> &'static str {
    // Statuses are 100..=599 (the parser takes no other).
    status.map_or(STATUS_CLASSES[5], |s| STATUS_CLASSES[usize::from(s / 100).clamp(1, 5) - 1])
}

/// The `rcode` label: the common answers by name, `other` for the rest, `none` without an answer.
const RCODES: [&str; 6] = ["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "other", "none"];

fn rcode_label(rcode: Option<u8>) -> &'static str {
    match rcode {
        Some(0) => RCODES[0],
        Some(3) => RCODES[1],
        Some(2) => RCODES[2],
        Some(5) => RCODES[3],
        Some(_) => RCODES[4],
        None => RCODES[5],
    }
}

/// DNS answer times, in seconds: a node-local cache's tens of µs to an upstream's seconds.
const DNS_LATENCY_BUCKETS: [f64; 10] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0];

/// Request latency buckets, in seconds: a sidecar's added milliseconds to a slow backend's seconds.
const HTTP_LATENCY_BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The registry and every metric in it; shared by the sink and the server.
pub struct Metrics {
    registry: Registry,
    cgroup: CgroupMetrics,
    sidecar: SidecarMetrics,
    exchanges: ExchangeMetrics,
    own: OwnMetrics,
    /// The HTTP server's own counts, exported as each scrape asks.
    server: ServerCounters,
    /// The node's name for podtop's own series, once collection has started.
    node: OnceLock<String>,
    /// When the collection loop last ended an interval (its stats record):
    /// what /healthz answers from.
    heartbeat: Mutex<Instant>,
}

/// What the kernel counts per cgroup, on its owner's labels.
struct CgroupMetrics {
    execs: IntCounterVec,
    exits: IntCounterVec,
    opens: IntCounterVec,
    open_errors: IntCounterVec,
    file_read_bytes: IntCounterVec,
    file_write_bytes: IntCounterVec,
    tcp_connections: IntCounterVec,
    tcp_bytes: IntCounterVec,
    udp_datagrams: IntCounterVec,
    udp_bytes: IntCounterVec,
}

/// A sidecar's bill, on its own container's labels.
struct SidecarMetrics {
    cpu_cores: GaugeVec,
    memory_bytes: IntGaugeVec,
    rss_bytes: IntGaugeVec,
    relayed_connections: IntCounterVec,
    relayed_bytes: IntCounterVec,
    bypass_connections: IntCounterVec,
    added_latency: GaugeVec,
}

/// HTTP requests and DNS lookups, at each end, on its owner's labels.
struct ExchangeMetrics {
    http_requests: IntCounterVec,
    http_latency: HistogramVec,
    dns_queries: IntCounterVec,
    dns_latency: HistogramVec,
}

/// podtop's own: what it saw and lost, its cost, its tables and its server.
struct OwnMetrics {
    events_seen: IntCounterVec,
    events_lost: IntCounterVec,
    counters_dropped: IntCounterVec,
    own_cpu_cores: GaugeVec,
    own_rss_bytes: IntGaugeVec,
    owners_exported: IntGaugeVec,
    owners_dropped: IntCounterVec,
    table_entries: IntGaugeVec,
    table_capacity: IntGaugeVec,
    table_evicted: IntCounterVec,
    server_connections: IntGaugeVec,
    server_dropped: IntCounterVec,
}

fn labels_with(extra: &[&'static str]) -> Vec<&'static str> {
    OWNER.iter().copied().chain(extra.iter().copied()).collect()
}

/// A cgroup owner's metrics: its labels, and the metric's own after them.
fn owner_counter(registry: &Registry, name: &str, help: &str, extra: &[&'static str]) -> Result<IntCounterVec> {
    register(registry, IntCounterVec::new, name, help, &labels_with(extra))
}

fn owner_gauge(registry: &Registry, name: &str, help: &str, extra: &[&'static str]) -> Result<IntGaugeVec> {
    register(registry, IntGaugeVec::new, name, help, &labels_with(extra))
}

fn owner_float(registry: &Registry, name: &str, help: &str, extra: &[&'static str]) -> Result<GaugeVec> {
    register(registry, GaugeVec::new, name, help, &labels_with(extra))
}

/// A latency histogram of a cgroup owner's, by role, in seconds.
fn owner_histogram(registry: &Registry, name: &str, help: &str, buckets: &[f64]) -> Result<HistogramVec> {
    let metric = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.to_vec()), &labels_with(&["role"]))?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

impl CgroupMetrics {
    fn register(registry: &Registry) -> Result<CgroupMetrics> {
        let counter = |name: &str, help: &str, extra: &[&'static str]| owner_counter(registry, name, help, extra);
        Ok(CgroupMetrics {
            execs: counter("podtop_execs_total", "Programs executed (execve), counted in the kernel", &[])?,
            exits: counter("podtop_exits_total", "Processes that ended", &[])?,
            opens: counter("podtop_opens_total", "open, openat and openat2 calls, failed ones too", &[])?,
            open_errors: counter("podtop_open_errors_total", "Opens that failed", &[])?,
            file_read_bytes: counter("podtop_file_read_bytes_total", "Bytes read from regular files", &[])?,
            file_write_bytes: counter("podtop_file_write_bytes_total", "Bytes written to regular files", &[])?,
            tcp_connections: counter(
                "podtop_tcp_connections_total",
                "TCP connections opened (connect or accept): scope boundary crosses the pod's network namespace, loopback stays inside it",
                &["scope"],
            )?,
            tcp_bytes: counter("podtop_tcp_bytes_total", "TCP application bytes sent (tx) and received (rx), by scope", &["scope", "direction"])?,
            udp_datagrams: counter("podtop_udp_datagrams_total", "UDP datagrams sent (tx) and received (rx)", &["direction"])?,
            udp_bytes: counter("podtop_udp_bytes_total", "UDP bytes sent (tx) and received (rx)", &["direction"])?,
        })
    }
}

impl SidecarMetrics {
    fn register(registry: &Registry) -> Result<SidecarMetrics> {
        let counter = |name: &str, help: &str, extra: &[&'static str]| owner_counter(registry, name, help, extra);
        let gauge = |name: &str, help: &str, extra: &[&'static str]| owner_gauge(registry, name, help, extra);
        let float = |name: &str, help: &str, extra: &[&'static str]| owner_float(registry, name, help, extra);
        Ok(SidecarMetrics {
            cpu_cores: float("podtop_sidecar_cpu_cores", "A sidecar proxy container's CPU over the last interval, in cores", &[])?,
            memory_bytes: gauge("podtop_sidecar_memory_bytes", "A sidecar proxy's cgroup memory (memory.current or v1 usage)", &[])?,
            rss_bytes: gauge("podtop_sidecar_rss_bytes", "The resident size of a sidecar proxy's processes", &[])?,
            relayed_connections: counter(
                "podtop_sidecar_relayed_connections_total",
                "Connections of the pod's other containers through its sidecar",
                &[],
            )?,
            relayed_bytes: counter(
                "podtop_sidecar_relayed_bytes_total",
                "Bytes the pod's other containers sent (tx) and received (rx) through its sidecar",
                &["direction"],
            )?,
            bypass_connections: counter(
                "podtop_sidecar_bypass_connections_total",
                "Connections of the pod's other containers that left the pod without its sidecar",
                &[],
            )?,
            added_latency: float(
                "podtop_sidecar_added_latency_seconds",
                "The latency a sidecar adds to its pod's request/response exchanges over the last interval",
                &["quantile"],
            )?,
        })
    }
}

impl ExchangeMetrics {
    fn register(registry: &Registry) -> Result<ExchangeMetrics> {
        let counter = |name: &str, help: &str, extra: &[&'static str]| owner_counter(registry, name, help, extra);
        Ok(ExchangeMetrics {
            http_requests: counter(
                "podtop_http_requests_total",
                "HTTP/1 requests and HTTP/2 streams seen at this end (role client or server), by status class (2xx..5xx, none: no response) and, for gRPC calls, grpc-status by name (none: no status came; empty: not gRPC)",
                &["role", "status_class", "grpc_status"],
            )?,
            http_latency: owner_histogram(
                registry,
                "podtop_http_request_duration_seconds",
                "HTTP requests: from the request's last bytes to the response's first, as this end (role) saw them",
                &HTTP_LATENCY_BUCKETS,
            )?,
            dns_queries: counter(
                "podtop_dns_queries_total",
                "DNS queries seen at this end (role client or server), by answer (rcode; none: no answer within 5 s)",
                &["role", "rcode"],
            )?,
            dns_latency: owner_histogram(
                registry,
                "podtop_dns_request_duration_seconds",
                "DNS queries: from the query to its answer, as this end (role) saw them",
                &DNS_LATENCY_BUCKETS,
            )?,
        })
    }
}

impl OwnMetrics {
    /// The node and the metric's own labels.
    fn register(registry: &Registry) -> Result<OwnMetrics> {
        let own_counter = |name: &str, help: &str, labels: &[&str]| register(registry, IntCounterVec::new, name, help, labels);
        Ok(OwnMetrics {
            events_seen: own_counter("podtop_events_seen_total", "Events seen in the kernel, by kind", &["node", "kind"])?,
            events_lost: own_counter("podtop_events_lost_total", "Events lost in the kernel (ring buffer full), by kind", &["node", "kind"])?,
            counters_dropped: own_counter(
                "podtop_counters_dropped_total",
                "Counter updates that found a kernel map full, by map",
                &["node", "map"],
            )?,
            own_cpu_cores: register(
                registry,
                GaugeVec::new,
                "podtop_cpu_cores",
                "podtop's own CPU: user space (what=user) and BPF programs (what=bpf), in cores",
                &["node", "what"],
            )?,
            own_rss_bytes: register(registry, IntGaugeVec::new, "podtop_rss_bytes", "podtop's own resident memory", &["node"])?,
            owners_exported: register(registry, IntGaugeVec::new, "podtop_metrics_cgroups", "Cgroups whose series are exported", &["node"])?,
            owners_dropped: own_counter(
                "podtop_metrics_cgroups_dropped_total",
                "Cgroups not exported because the series cap was reached",
                &["node"],
            )?,
            table_entries: register(
                registry,
                IntGaugeVec::new,
                "podtop_table_entries",
                "Entries in each of podtop's bounded tables (attributions, peer_connections, file_names, http_connections...)",
                &["node", "table"],
            )?,
            table_capacity: register(
                registry,
                IntGaugeVec::new,
                "podtop_table_capacity",
                "The bound of each of podtop's tables: past it the least recently used entry goes",
                &["node", "table"],
            )?,
            table_evicted: register(
                registry,
                IntCounterVec::new,
                "podtop_table_evicted_total",
                "Entries each of podtop's tables pushed out for its bound (names and owners then found again, or lost)",
                &["node", "table"],
            )?,
            server_connections: register(
                registry,
                IntGaugeVec::new,
                "podtop_metrics_connections",
                "Connections open to this metrics server",
                &["node"],
            )?,
            server_dropped: own_counter(
                "podtop_metrics_connections_dropped_total",
                "Connections the metrics server closed or refused, by reason: evicted (the quietest, for a new one at the cap or at the file limit), \
                 timeout (a head not sent in time, a response not read), bad_request (a head too large, a body, a method), tls (a failed handshake), unauthenticated (a scrape without the client certificate asked for), accept_error",
                &["node", "reason"],
            )?,
        })
    }
}

impl Metrics {
    pub fn new() -> Result<Metrics> {
        let registry = Registry::new();
        Ok(Metrics {
            cgroup: CgroupMetrics::register(&registry)?,
            sidecar: SidecarMetrics::register(&registry)?,
            exchanges: ExchangeMetrics::register(&registry)?,
            own: OwnMetrics::register(&registry)?,
            server: ServerCounters::default(),
            node: OnceLock::new(),
            registry,
            heartbeat: Mutex::new(Instant::now()),
        })
    }

    /// An interval ended: collection is alive.
    fn beat(&self) {
        *self.heartbeat.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// How long since an interval last ended (or since the start).
    fn since_beat(&self) -> Duration {
        self.heartbeat.lock().unwrap_or_else(|e| e.into_inner()).elapsed()
    }

    /// Removers of every series of one owner, to forget them together.
    fn owner_removers(&self) -> Vec<Remover> {
        let (plain, directions): (&[&[&str]], &[&[&str]]) = (&[&[]], &[&["tx"], &["rx"]]);
        let roles = [Role::Client, Role::Server].map(Role::name);
        let by_role = |values: &[&'static str]| -> Vec<[&'static str; 2]> {
            roles.iter().flat_map(|role| values.iter().map(move |value| [*role, *value])).collect()
        };
        let dns_query_variants = by_role(&RCODES);
        let grpc_statuses: Vec<&'static str> = ["", "none"].into_iter().chain((0..=16).map(grpc::status_name)).collect();
        let http_request_variants: Vec<[&'static str; 3]> = by_role(&STATUS_CLASSES)
            .into_iter()
            .flat_map(|[role, class]| grpc_statuses.iter().map(move |grpc| [role, class, *grpc]))
            .collect();
        let one_role: Vec<[&str; 1]> = roles.map(|role| [role]).to_vec();
        vec![
            remover(&self.cgroup.execs, plain),
            remover(&self.cgroup.exits, plain),
            remover(&self.cgroup.opens, plain),
            remover(&self.cgroup.open_errors, plain),
            remover(&self.cgroup.file_read_bytes, plain),
            remover(&self.cgroup.file_write_bytes, plain),
            remover(&self.cgroup.tcp_connections, &[&["boundary"], &["loopback"]]),
            remover(&self.cgroup.tcp_bytes, &[&["boundary", "tx"], &["boundary", "rx"], &["loopback", "tx"], &["loopback", "rx"]]),
            remover(&self.cgroup.udp_datagrams, directions),
            remover(&self.cgroup.udp_bytes, directions),
            remover(&self.sidecar.relayed_connections, plain),
            remover(&self.sidecar.relayed_bytes, directions),
            remover(&self.sidecar.bypass_connections, plain),
            remover(&self.sidecar.memory_bytes, plain),
            remover(&self.sidecar.rss_bytes, plain),
            remover(&self.sidecar.cpu_cores, plain),
            remover(&self.sidecar.added_latency, &[&["0.5"], &["0.99"]]),
            remover(&self.exchanges.http_requests, &http_request_variants.iter().map(|v| &v[..]).collect::<Vec<_>>()),
            remover(&self.exchanges.http_latency, &one_role.iter().map(|v| &v[..]).collect::<Vec<_>>()),
            remover(&self.exchanges.dns_queries, &dns_query_variants.iter().map(|v| &v[..]).collect::<Vec<_>>()),
            remover(&self.exchanges.dns_latency, &one_role.iter().map(|v| &v[..]).collect::<Vec<_>>()),
        ]
    }

    /// The metrics server's own counts, as they stand now.
    fn export_server_counts(&self) {
        let Some(node) = self.node.get() else { return };
        self.own.server_connections.with_label_values(&[node]).set(self.server.open.load(Ordering::Relaxed) as i64);
        for (reason, total) in self.server.dropped() {
            let counter = self.own.server_dropped.with_label_values(&[node, reason]);
            counter.inc_by(total.saturating_sub(counter.get()));
        }
    }

    /// The text format Prometheus scrapes.
    pub fn encode(&self) -> Vec<u8> {
        self.export_server_counts();
        let mut text = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut text).expect("encoding into memory never fails");
        text
    }
}

/// The owner's label values, in `OWNER`'s order. Names come from runtimes'
/// state, which a pod's creator writes: no value carries a character that
/// steers a terminal or the direction of text (a dashboard's or a shell's).
fn owner_labels(node: &str, a: &Attribution) -> [String; 7] {
    let pod = a.pod.as_ref();
    let container = a.container.as_ref();
    [
        node.to_string(),
        pod.and_then(|p| p.namespace.clone()).unwrap_or_default(),
        pod.and_then(|p| p.name.clone()).unwrap_or_default(),
        pod.map(|p| p.uid.clone()).unwrap_or_default(),
        container.and_then(|c| c.name.clone()).unwrap_or_default(),
        container.map(|c| c.id.clone()).unwrap_or_default(),
        container.and_then(|c| c.runtime).map(|r| r.name().to_string()).unwrap_or_default(),
    ]
    .map(printable_owned)
}

struct Exported {
    labels: [String; 7],
    last_update: Instant,
}

/// Updates the metrics from the pipeline's records.
pub struct MetricsSink {
    metrics: Arc<Metrics>,
    node: String,
    exported: HashMap<u64, Exported>,
    max_cgroups: usize,
    forget_after: Duration,
    /// The kernel's running totals at the last stats record, to count on from.
    last_stats: Option<Stats>,
    /// Cgroups refused for the cap, so that each is counted once.
    dropped: HashSet<u64>,
}

/// Refused cgroups remembered at most (each counted once up to this many).
const MAX_DROPPED_REMEMBERED: usize = 65536;

impl MetricsSink {
    pub fn new(metrics: Arc<Metrics>, node: String, max_cgroups: usize, forget_after: Duration) -> MetricsSink {
        MetricsSink { metrics, node, exported: HashMap::new(), max_cgroups, forget_after, last_stats: None, dropped: HashSet::new() }
    }

    /// The owner's label values, if it is (or may now be) exported.
    fn labels_of(&mut self, owner: &Attribution) -> Option<Vec<String>> {
        let now = Instant::now();
        if let Some(e) = self.exported.get_mut(&owner.cgroup_id) {
            e.last_update = now;
            return Some(e.labels.to_vec());
        }
        if self.exported.len() >= self.max_cgroups {
            // Each cgroup counted once (up to a bound on what is remembered of them).
            if self.dropped.len() < MAX_DROPPED_REMEMBERED && self.dropped.insert(owner.cgroup_id) {
                self.metrics.own.owners_dropped.with_label_values(&[self.node.as_str()]).inc();
            }
            return None;
        }
        self.dropped.remove(&owner.cgroup_id);
        let labels = owner_labels(&self.node, owner);
        self.exported.insert(owner.cgroup_id, Exported { labels: labels.clone(), last_update: now });
        self.metrics.own.owners_exported.with_label_values(&[self.node.as_str()]).set(self.exported.len() as i64);
        Some(labels.to_vec())
    }

    /// Cgroups quiet for `forget_after` leave the output (a pod that ended).
    fn forget_quiet(&mut self) {
        let quiet: Vec<u64> =
            self.exported.iter().filter(|(_, e)| e.last_update.elapsed() >= self.forget_after).map(|(id, _)| *id).collect();
        if quiet.is_empty() {
            return;
        }
        let removers = self.metrics.owner_removers();
        for id in quiet {
            let Some(e) = self.exported.remove(&id) else { continue };
            for remove in &removers {
                remove(&e.labels);
            }
        }
        self.metrics.own.owners_exported.with_label_values(&[self.node.as_str()]).set(self.exported.len() as i64);
    }
}

fn add(metric: &IntCounterVec, labels: &[String], extra: &[&str], value: u64) {
    if value > 0 {
        let all: Vec<&str> = labels.iter().map(String::as_str).chain(extra.iter().copied()).collect();
        metric.with_label_values(&all).inc_by(value);
    }
}

/// One latency, in seconds, into an owner's histogram of `role` (a request or lookup without an answer has none).
fn observe_seconds(histogram: &HistogramVec, labels: &[String], role: &str, ns: Option<u64>) {
    if let Some(ns) = ns {
        let all: Vec<&str> = labels.iter().map(String::as_str).chain([role]).collect();
        histogram.with_label_values(&all).observe(ns as f64 / 1e9);
    }
}

impl Sink for MetricsSink {
    fn event(&mut self, _: &EventRecord) -> io::Result<()> {
        Ok(())
    }
    fn file_io(&mut self, _: &FileIoRecord) -> io::Result<()> {
        Ok(())
    }
    fn udp(&mut self, _: &UdpRecord) -> io::Result<()> {
        Ok(())
    }

    fn counters(&mut self, r: &CountersRecord) -> io::Result<()> {
        let Some(l) = self.labels_of(r.owner) else { return Ok(()) };
        let m = self.metrics.clone();
        let d: &CgroupCounters = &r.delta;
        add(&m.cgroup.execs, &l, &[], d.execs);
        add(&m.cgroup.exits, &l, &[], d.exits);
        add(&m.cgroup.opens, &l, &[], d.opens);
        add(&m.cgroup.open_errors, &l, &[], d.open_errors);
        add(&m.cgroup.file_read_bytes, &l, &[], d.file_read_bytes);
        add(&m.cgroup.file_write_bytes, &l, &[], d.file_write_bytes);
        add(&m.cgroup.tcp_connections, &l, &["boundary"], d.tcp_connects + d.tcp_accepts);
        add(&m.cgroup.tcp_connections, &l, &["loopback"], d.tcp_local_connections);
        add(&m.cgroup.tcp_bytes, &l, &["boundary", "tx"], d.tcp_tx_bytes);
        add(&m.cgroup.tcp_bytes, &l, &["boundary", "rx"], d.tcp_rx_bytes);
        add(&m.cgroup.tcp_bytes, &l, &["loopback", "tx"], d.tcp_local_tx_bytes);
        add(&m.cgroup.tcp_bytes, &l, &["loopback", "rx"], d.tcp_local_rx_bytes);
        add(&m.cgroup.udp_datagrams, &l, &["tx"], d.udp_tx_datagrams);
        add(&m.cgroup.udp_datagrams, &l, &["rx"], d.udp_rx_datagrams);
        add(&m.cgroup.udp_bytes, &l, &["tx"], d.udp_tx_bytes);
        add(&m.cgroup.udp_bytes, &l, &["rx"], d.udp_rx_bytes);
        Ok(())
    }

    fn http(&mut self, r: &HttpRecord) -> io::Result<()> {
        let Some(l) = self.labels_of(r.owner) else { return Ok(()) };
        let x = r.exchange;
        let class = status_class(x.response.map(|s| s.status));
        let role = x.role.name();
        let grpc_status = x.grpc.as_ref().map_or("", |call| call.status.map_or("none", grpc::status_name));
        add(&self.metrics.exchanges.http_requests, &l, &[role, class, grpc_status], 1);
        observe_seconds(&self.metrics.exchanges.http_latency, &l, role, x.latency_ns);
        Ok(())
    }

    fn dns(&mut self, r: &DnsRecord) -> io::Result<()> {
        let Some(l) = self.labels_of(r.owner) else { return Ok(()) };
        let x = r.lookup;
        let role = x.role.name();
        add(&self.metrics.exchanges.dns_queries, &l, &[role, rcode_label(x.answer.as_ref().map(|a| a.rcode))], 1);
        observe_seconds(&self.metrics.exchanges.dns_latency, &l, role, x.latency_ns);
        Ok(())
    }

    fn sidecars(&mut self, r: &SidecarsRecord) -> io::Result<()> {
        let m = self.metrics.clone();
        for (owner, bill) in r.bills {
            let Some(l) = self.labels_of(owner) else { continue };
            let refs: Vec<&str> = l.iter().map(String::as_str).collect();
            if let Some(cores) = bill.cpu_cores {
                m.sidecar.cpu_cores.with_label_values(&refs).set(cores);
            }
            if let Some(bytes) = bill.memory_bytes {
                m.sidecar.memory_bytes.with_label_values(&refs).set(bytes as i64);
            }
            if let Some(bytes) = bill.rss_bytes {
                m.sidecar.rss_bytes.with_label_values(&refs).set(bytes as i64);
            }
            // Created at 0 even when idle: a sidecar that relays nothing is worth a series.
            m.sidecar.relayed_connections.with_label_values(&refs).inc_by(bill.relayed.connections);
            add(&m.sidecar.relayed_bytes, &l, &["tx"], bill.relayed.tx_bytes);
            add(&m.sidecar.relayed_bytes, &l, &["rx"], bill.relayed.rx_bytes);
            m.sidecar.bypass_connections.with_label_values(&refs).inc_by(bill.relayed.bypass_connections);
            if let Some(added) = bill.added_latency {
                let with = |q: &'static str| -> Vec<&str> { refs.iter().copied().chain([q]).collect() };
                m.sidecar.added_latency.with_label_values(&with("0.5")).set(added.p50_ns as f64 / 1e9);
                if let Some(p99) = added.p99_ns {
                    m.sidecar.added_latency.with_label_values(&with("0.99")).set(p99 as f64 / 1e9);
                }
            }
        }
        let node = [self.node.as_str()];
        if let Some(cores) = r.podtop.cpu_cores {
            m.own.own_cpu_cores.with_label_values(&[self.node.as_str(), "user"]).set(cores);
        }
        if let Some(cores) = r.podtop.bpf_cores {
            m.own.own_cpu_cores.with_label_values(&[self.node.as_str(), "bpf"]).set(cores);
        }
        if let Some(bytes) = r.podtop.rss_bytes {
            m.own.own_rss_bytes.with_label_values(&node).set(bytes as i64);
        }
        Ok(())
    }

    fn stats(&mut self, _unix_ns: u64, stats: &Stats) -> io::Result<()> {
        let m = self.metrics.clone();
        m.beat();
        let before = self.last_stats.take().unwrap_or_default();
        let before_of = |kind| before.per_kind.iter().find(|(k, _, _)| *k == kind).map_or((0, 0), |(_, s, l)| (*s, *l));
        for (kind, seen, lost) in &stats.per_kind {
            let (seen_before, lost_before) = before_of(*kind);
            let labels = [self.node.as_str(), kind.name()];
            m.own.events_seen.with_label_values(&labels).inc_by(seen.saturating_sub(seen_before));
            m.own.events_lost.with_label_values(&labels).inc_by(lost.saturating_sub(lost_before));
        }
        for (map, now, then) in [
            ("file_io", stats.file_io_dropped, before.file_io_dropped),
            ("udp", stats.udp_dropped, before.udp_dropped),
            ("cgroup", stats.cgroup_dropped, before.cgroup_dropped),
        ] {
            m.own.counters_dropped.with_label_values(&[self.node.as_str(), map]).inc_by(now.saturating_sub(then));
        }
        for table in &stats.tables {
            let labels = [self.node.as_str(), table.name];
            m.own.table_entries.with_label_values(&labels).set(table.entries as i64);
            m.own.table_capacity.with_label_values(&labels).set(table.capacity as i64);
            let evicted = m.own.table_evicted.with_label_values(&labels);
            evicted.inc_by(table.evicted.saturating_sub(evicted.get()));
        }
        self.last_stats = Some(stats.clone());
        self.forget_quiet();
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `--metrics`: the served metrics, and how bounded their labels are.
#[derive(Clone)]
pub struct MetricsOutput {
    metrics: Arc<Metrics>,
    forget_after: Duration,
    max_cgroups: usize,
}

/// What `--metrics` needs besides its address.
pub struct MetricsOptions {
    pub forget_after: Duration,
    pub max_cgroups: usize,
    /// /healthz fails when no interval has ended for this long.
    pub stale_after: Duration,
    /// Served over TLS where set.
    pub tls: Option<TlsFiles>,
    pub bounds: Bounds,
}

impl MetricsOutput {
    /// Binds `addr` and serves from there on (see `serve`).
    pub fn start(addr: SocketAddr, options: &MetricsOptions, shutdown: Shutdown) -> Result<MetricsOutput> {
        let metrics = Arc::new(Metrics::new()?);
        server::serve(addr, options.tls.clone(), metrics.clone(), options.stale_after, options.bounds, shutdown)?;
        Ok(MetricsOutput { metrics, forget_after: options.forget_after, max_cgroups: options.max_cgroups })
    }

    /// The sink that updates them, for the node `node`.
    pub fn sink(&self, node: String) -> MetricsSink {
        // One node a run: the first name stays.
        let _ = self.metrics.node.set(node.clone());
        MetricsSink::new(self.metrics.clone(), node, self.max_cgroups, self.forget_after)
    }
}

#[cfg(test)]
mod tests;
