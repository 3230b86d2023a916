//! Which container of a pod is its sidecar proxy, and what it costs.
//!
//! A container is taken for the pod's sidecar by what it does, whatever it
//! is called: it relays. Outbound, it accepts connections from the pod's
//! other containers and opens connections out of the pod; inbound, it
//! accepts connections from outside the pod and opens connections to the
//! pod's other containers. Well-known proxy names only add a hint beside the
//! verdict. Once a pod has a sidecar, its bill is drawn every interval: the
//! sidecar container's CPU and memory from its cgroup, the resident size of
//! its processes, what the other containers sent and received through it,
//! and the connections that left the pod without passing it (bypass).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::enrich::Attribution;
use crate::host::{Cgroupfs, Host};

/// Names that proxies usually run under: a hint shown beside the verdict, never the verdict.
const PROXY_NAMES: [&str; 6] = ["istio-proxy", "linkerd-proxy", "cilium-envoy", "envoy", "haproxy", "nginx"];
/// Bypassing connections listed per pod and interval (all are counted).
const BYPASS_LISTED: usize = 8;
/// Pods followed at most: past it, the pods with no sidecar are forgotten first.
const MAX_PODS: usize = 4096;

/// A TCP connection record, as the finder needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Connect,
    Accept,
    /// With the bytes this end sent and received, and its request/response
    /// exchanges (a send, then the first receive after it) with their summed latency.
    Close { tx_bytes: u64, rx_bytes: u64, exchanges: u64, exchange_ns: u64 },
}

/// What one container did with connections, since podtop started.
#[derive(Debug, Default)]
struct ContainerFlows {
    owner: Option<Arc<Attribution>>,
    accepted_from_siblings: u64,
    connected_out: u64,
    accepted_from_outside: u64,
    connected_to_siblings: u64,
    /// A proxy's name in its container's name or its process's.
    hint: Option<&'static str>,
}

impl ContainerFlows {
    fn relays(&self) -> bool {
        (self.accepted_from_siblings > 0 && self.connected_out > 0)
            || (self.accepted_from_outside > 0 && self.connected_to_siblings > 0)
    }
}

#[derive(Debug, Default)]
struct PodFlows {
    containers: HashMap<String, ContainerFlows>,
    /// The relaying container's id, once one relays.
    sidecar: Option<String>,
    since_bill: Relayed,
    /// Exchange latencies since the last bill, one sample per closed
    /// connection (its mean, weighted by its exchanges): the other
    /// containers' with the sidecar, and the sidecar's own upstream.
    through_sidecar: Vec<(u64, u64)>,
    upstream: Vec<(u64, u64)>,
    /// The sidecar cgroup's CPU usage (µs) at the last bill.
    cpu_usage_usec: Option<u64>,
}

/// Connections sampled per side and interval, at most.
const LATENCY_SAMPLES: usize = 65536;

fn sample(samples: &mut Vec<(u64, u64)>, exchanges: u64, exchange_ns: u64) {
    if exchanges > 0 && samples.len() < LATENCY_SAMPLES {
        samples.push((exchange_ns / exchanges, exchanges));
    }
}

/// The `q` quantile of weighted samples, sorted by value.
fn quantile(samples: &[(u64, u64)], q: f64) -> Option<u64> {
    let total: u64 = samples.iter().map(|(_, w)| w).sum();
    let wanted = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    samples.iter().find(|(_, w)| {
        seen += w;
        seen >= wanted
    }).map(|(v, _)| *v)
}

/// Below this many exchanges in an interval, a 99th percentile is noise: none is given.
pub const P99_MIN_EXCHANGES: u64 = 100;

/// The time requests spend in a sidecar over one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddedLatency {
    pub p50_ns: u64,
    pub p99_ns: Option<u64>,
}

/// What went through a sidecar (or around it) during one interval.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Relayed {
    /// Connections from the pod's other containers to the sidecar, closed.
    pub connections: u64,
    /// Bytes the other containers sent and received through the sidecar.
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    /// Their request/response exchanges, which the added latency is estimated from.
    pub exchanges: u64,
    /// Connections from the pod's other containers straight out of the pod.
    pub bypass_connections: u64,
    /// Where the first of them went.
    pub bypass: Vec<SocketAddr>,
}

impl Relayed {
    /// Adds another interval's counts; the bypass list is the latest non-empty one.
    pub fn add(&mut self, other: &Relayed) {
        self.connections += other.connections;
        self.tx_bytes += other.tx_bytes;
        self.rx_bytes += other.rx_bytes;
        self.exchanges += other.exchanges;
        self.bypass_connections += other.bypass_connections;
        if !other.bypass.is_empty() {
            self.bypass.clone_from(&other.bypass);
        }
    }
}

/// The node's sidecars together, over one interval: what the `sidecars`
/// record and the TUI's header show.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeBill {
    pub sidecars: usize,
    pub cpu_cores: f64,
    pub memory_bytes: u64,
    pub rss_bytes: u64,
    pub relayed_connections: u64,
    pub bypass_connections: u64,
}

impl NodeBill {
    pub fn of(bills: &[(Arc<Attribution>, SidecarBill)]) -> NodeBill {
        let sum = |f: fn(&SidecarBill) -> Option<u64>| bills.iter().filter_map(|(_, b)| f(b)).sum();
        NodeBill {
            sidecars: bills.len(),
            // A fold from +0.0 (an empty f64 sum is -0.0), rounded as each part is.
            cpu_cores: round_cores(bills.iter().filter_map(|(_, b)| b.cpu_cores).fold(0.0, |sum, c| sum + c)),
            memory_bytes: sum(|b| b.memory_bytes),
            rss_bytes: sum(|b| b.rss_bytes),
            relayed_connections: sum(|b| Some(b.relayed.connections)),
            bypass_connections: sum(|b| Some(b.relayed.bypass_connections)),
        }
    }
}

/// One sidecar's bill for one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct SidecarBill {
    pub hint: Option<&'static str>,
    /// CPU time over the interval, in cores (cgroup v2 `cpu.stat`).
    pub cpu_cores: Option<f64>,
    /// The cgroup's memory (`memory.current`, where the memory controller is on for it).
    pub memory_bytes: Option<u64>,
    /// The resident size of its processes.
    pub rss_bytes: Option<u64>,
    /// The latency of the other containers' exchanges through it, less
    /// that of its own exchanges upstream: p50 from p50, p99 from p99.
    pub added_latency: Option<AddedLatency>,
    pub relayed: Relayed,
}

impl SidecarBill {
    /// Each relayed byte crosses the TCP stack twice more than it would
    /// without the proxy: once more out of the app, once more into the proxy.
    pub fn extra_stack_bytes(&self) -> u64 {
        2 * (self.relayed.tx_bytes + self.relayed.rx_bytes)
    }
}

#[derive(Debug, Default)]
pub struct SidecarFinder {
    pods: HashMap<String, PodFlows>,
    /// Where the sidecars' cgroup files are read.
    cgroupfs: Option<Cgroupfs>,
}

fn hint_of(names: &[&str]) -> Option<&'static str> {
    PROXY_NAMES.iter().copied().find(|proxy| names.iter().any(|name| name.contains(proxy)))
}

/// A hint read back from a recording, as one of the names podtop knows.
pub fn known_hint(name: &str) -> Option<&'static str> {
    PROXY_NAMES.iter().copied().find(|proxy| *proxy == name)
}

/// Cores to a tenth of a millicore: finer is noise.
pub fn round_cores(cores: f64) -> f64 {
    (cores * 1e4).round() / 1e4
}

impl SidecarFinder {
    pub fn new(cgroupfs: Option<Cgroupfs>) -> SidecarFinder {
        SidecarFinder { pods: HashMap::new(), cgroupfs }
    }

    /// A TCP connection record of `owner`'s process `comm`; `leaves_pod`
    /// when its other end is outside the pod's network namespace.
    pub fn connection(&mut self, flow: Flow, owner: &Arc<Attribution>, comm: &str, peer: Option<&Arc<Attribution>>, leaves_pod: bool, remote: SocketAddr) {
        let (Some(pod), Some(container)) = (&owner.pod, &owner.container) else { return };
        if !self.pods.contains_key(&pod.uid) && self.pods.len() >= MAX_PODS {
            let plain = self.pods.iter().find(|(_, p)| p.sidecar.is_none()).map(|(uid, _)| uid.clone());
            match plain {
                Some(uid) => self.pods.remove(&uid),
                None => return,
            };
        }
        let cgroupfs = &self.cgroupfs;
        let flows = self.pods.entry(pod.uid.clone()).or_default();
        let sibling = peer
            .filter(|p| p.pod.as_ref().is_some_and(|pp| pp.uid == pod.uid))
            .and_then(|p| p.container.as_ref())
            .filter(|c| c.id != container.id)
            .map(|c| c.id.clone());
        let mine = flows.containers.entry(container.id.clone()).or_default();
        if mine.owner.is_none() {
            mine.owner = Some(owner.clone());
        }
        if mine.hint.is_none() {
            mine.hint = hint_of(&[container.name.as_deref().unwrap_or(""), comm]);
        }
        match flow {
            Flow::Connect if leaves_pod => mine.connected_out += 1,
            Flow::Connect if sibling.is_some() => mine.connected_to_siblings += 1,
            Flow::Accept if leaves_pod => mine.accepted_from_outside += 1,
            Flow::Accept if sibling.is_some() => mine.accepted_from_siblings += 1,
            _ => {}
        }
        if flows.sidecar.is_none() && mine.relays() {
            flows.sidecar = Some(container.id.clone());
            // The CPU it spends from now on is its bill's: the baseline is taken at once.
            flows.cpu_usage_usec = cgroupfs.as_ref().and_then(|fs| fs.cpu_usage_usec(owner.cgroup_path.as_deref()?));
        }
        let Some(sidecar) = flows.sidecar.clone() else { return };
        if container.id == sidecar {
            // Its own exchanges upstream: what the requests it relays would take without it.
            if let Flow::Close { exchanges, exchange_ns, .. } = flow {
                if leaves_pod {
                    sample(&mut flows.upstream, exchanges, exchange_ns);
                }
            }
            return;
        }
        // Another container of a pod that has a sidecar: through it, or around it.
        match flow {
            Flow::Close { tx_bytes, rx_bytes, exchanges, exchange_ns } if sibling.as_deref() == Some(sidecar.as_str()) => {
                flows.since_bill.connections += 1;
                flows.since_bill.tx_bytes += tx_bytes;
                flows.since_bill.rx_bytes += rx_bytes;
                flows.since_bill.exchanges += exchanges;
                sample(&mut flows.through_sidecar, exchanges, exchange_ns);
            }
            // At close, when it is known that no proxy took it (a redirect
            // shows at the proxy's accept, after the app's connect).
            Flow::Close { .. } if leaves_pod => {
                flows.since_bill.bypass_connections += 1;
                if flows.since_bill.bypass.len() < BYPASS_LISTED {
                    flows.since_bill.bypass.push(remote);
                }
            }
            _ => {}
        }
    }

    /// The sidecar container of a pod, once one relays.
    pub fn sidecar_of(&self, pod_uid: &str) -> Option<&Arc<Attribution>> {
        let flows = self.pods.get(pod_uid)?;
        flows.containers.get(flows.sidecar.as_ref()?)?.owner.as_ref()
    }

    /// Every sidecar's bill since the last call, `seconds` ago.
    pub fn bills(&mut self, host: &Host, seconds: f64) -> Vec<(Arc<Attribution>, SidecarBill)> {
        let page_size = procfs::page_size().max(1);
        let cgroupfs = self.cgroupfs.as_ref();
        let mut bills = Vec::new();
        for flows in self.pods.values_mut() {
            let Some(sidecar) = flows.sidecar.as_ref().and_then(|id| flows.containers.get(id)) else { continue };
            let Some(owner) = sidecar.owner.clone() else { continue };
            let cgroup = owner.cgroup_path.as_deref().zip(cgroupfs);
            let usage = cgroup.and_then(|(path, fs)| fs.cpu_usage_usec(path));
            let cpu_cores = match (usage, flows.cpu_usage_usec) {
                (Some(now), Some(before)) if seconds > 0.0 => Some(round_cores(now.saturating_sub(before) as f64 / 1e6 / seconds)),
                _ => None,
            };
            flows.cpu_usage_usec = usage.or(flows.cpu_usage_usec);
            let pids = cgroup.map(|(path, fs)| fs.pids(path)).unwrap_or_default();
            let memory_bytes = cgroup
                .and_then(|(path, fs)| fs.read(path, "memory.current"))
                .or_else(|| {
                    // The v1/v2 hybrid: the memory controller is v1's. Its processes'
                    // v1 cgroup counts only when it is the container's own (the
                    // same path in both hierarchies, as runtimes make them), not a
                    // parent that holds much else.
                    let v1_path = host.process(*pids.first()?).cgroup_v1_path("memory")?;
                    let own = owner.cgroup_path.as_deref() == Some(v1_path.as_str());
                    own.then(|| host.cgroup_v1("memory")?.read(&v1_path, "memory.usage_in_bytes")).flatten()
                })
                .and_then(|t| t.trim().parse().ok());
            let rss_bytes = (!pids.is_empty())
                .then(|| pids.iter().filter_map(|pid| host.process(*pid).resident_pages()).sum::<u64>() * page_size);
            let (mut through, mut upstream) = (std::mem::take(&mut flows.through_sidecar), std::mem::take(&mut flows.upstream));
            through.sort_unstable();
            upstream.sort_unstable();
            let added = |q: f64| Some(quantile(&through, q)?.saturating_sub(quantile(&upstream, q)?));
            let enough = flows.since_bill.exchanges >= P99_MIN_EXCHANGES;
            let added_latency =
                added(0.5).map(|p50_ns| AddedLatency { p50_ns, p99_ns: if enough { added(0.99) } else { None } });
            bills.push((
                owner,
                SidecarBill {
                    hint: sidecar.hint,
                    cpu_cores,
                    memory_bytes,
                    rss_bytes,
                    added_latency,
                    relayed: std::mem::take(&mut flows.since_bill),
                },
            ));
        }
        bills
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_quantiles() {
        let samples = [(10, 8), (20, 1), (30, 1)];
        assert_eq!(quantile(&samples, 0.5), Some(10));
        assert_eq!(quantile(&samples, 0.85), Some(20));
        assert_eq!(quantile(&samples, 0.99), Some(30));
        assert_eq!(quantile(&[], 0.5), None);
    }
    use crate::enrich::cgroup_path::{QosClass, Runtime};
    use crate::enrich::{Container, Pod};

    fn member(pod: &str, container: &str) -> Arc<Attribution> {
        Arc::new(Attribution {
            cgroup_id: container.len() as u64,
            cgroup_path: Some(format!("/kubepods.slice/{pod}/{container}")),
            container: Some(Container { id: container.into(), runtime: Some(Runtime::Containerd), name: Some(container.into()) }),
            pod: Some(Pod {
                uid: pod.into(),
                name: Some(pod.into()),
                namespace: Some("shop".into()),
                qos: QosClass::Burstable,
                cgroup_path: String::new(),
            }),
            rendered: Default::default(),
        })
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_relaying_container_is_the_sidecar_whatever_its_name() {
        let (app, relay, backend) = (member("web", "app"), member("web", "mesh"), member("api", "api"));
        let mut finder = SidecarFinder::new(None);
        let local = addr("127.0.0.1:15001");
        let out = addr("10.244.0.20:8080");
        finder.connection(Flow::Connect, &app, "python3", Some(&relay), false, local);
        finder.connection(Flow::Accept, &relay, "relay", Some(&app), false, addr("127.0.0.1:40000"));
        assert!(finder.sidecar_of("web").is_none(), "accepting from a sibling alone is no relay");
        finder.connection(Flow::Connect, &relay, "relay", Some(&backend), true, out);
        assert_eq!(finder.sidecar_of("web").and_then(|a| a.container.as_ref()).map(|c| c.id.as_str()), Some("mesh"));
        // One exchange each: 25 ms as the app sees it, 20 ms upstream: 5 ms in the proxy.
        finder.connection(Flow::Close { tx_bytes: 26, rx_bytes: 1019, exchanges: 1, exchange_ns: 25_000_000 }, &app, "python3", Some(&relay), false, local);
        finder.connection(Flow::Close { tx_bytes: 26, rx_bytes: 1019, exchanges: 1, exchange_ns: 20_000_000 }, &relay, "relay", Some(&backend), true, out);
        // A second app container that goes straight out: bypass.
        let other = member("web", "batch");
        finder.connection(Flow::Connect, &other, "curl", Some(&backend), true, out);
        finder.connection(Flow::Close { tx_bytes: 1, rx_bytes: 1, exchanges: 1, exchange_ns: 1 }, &other, "curl", Some(&backend), true, out);
        let bills = finder.bills(&Host::at("/nonexistent"), 1.0);
        assert_eq!(bills.len(), 1);
        let (owner, bill) = &bills[0];
        assert_eq!(owner.container.as_ref().unwrap().id, "mesh");
        assert_eq!(bill.hint, None, "neither its name nor its process names a known proxy");
        assert_eq!(
            bill.relayed,
            Relayed { connections: 1, tx_bytes: 26, rx_bytes: 1019, exchanges: 1, bypass_connections: 1, bypass: vec![out] }
        );
        assert_eq!(bill.added_latency, Some(AddedLatency { p50_ns: 5_000_000, p99_ns: None }), "one exchange: no p99");
        assert_eq!(bill.extra_stack_bytes(), 2 * 1045);
        let again = finder.bills(&Host::at("/nonexistent"), 1.0);
        assert_eq!(again[0].1.relayed, Relayed::default(), "counts are per interval");
        assert_eq!(again[0].1.added_latency, None, "no exchange, no estimate");
    }

    #[test]
    fn p99_comes_from_a_hundred_exchanges() {
        let (app, relay, backend) = (member("web", "app"), member("web", "mesh"), member("api", "api"));
        let mut finder = SidecarFinder::new(None);
        let (local, out) = (addr("127.0.0.1:15001"), addr("10.244.0.20:8080"));
        finder.connection(Flow::Accept, &relay, "relay", Some(&app), false, addr("127.0.0.1:40000"));
        finder.connection(Flow::Connect, &relay, "relay", Some(&backend), true, out);
        // 100 requests: the proxy adds 1 ms to 98 of them and 30 ms to two; upstream takes 10 ms.
        for i in 0..100u64 {
            let through = if i < 2 { 40_000_000 } else { 11_000_000 };
            let close = |exchange_ns| Flow::Close { tx_bytes: 1, rx_bytes: 1, exchanges: 1, exchange_ns };
            finder.connection(close(through), &app, "app", Some(&relay), false, local);
            finder.connection(close(10_000_000), &relay, "relay", Some(&backend), true, out);
        }
        let bill = finder.bills(&Host::at("/nonexistent"), 1.0).remove(0).1;
        assert_eq!(bill.added_latency, Some(AddedLatency { p50_ns: 1_000_000, p99_ns: Some(30_000_000) }));
        assert_eq!(bill.relayed.exchanges, 100);
    }

    #[test]
    fn an_inbound_proxy_is_found_and_named_by_its_process() {
        let (app, proxy) = (member("db", "postgres"), member("db", "sidecar"));
        let client = member("api", "api");
        let mut finder = SidecarFinder::new(None);
        finder.connection(Flow::Accept, &proxy, "envoy", Some(&client), true, addr("10.244.0.10:5000"));
        finder.connection(Flow::Connect, &proxy, "envoy", Some(&app), false, addr("127.0.0.1:5432"));
        let bills = finder.bills(&Host::at("/nonexistent"), 1.0);
        assert_eq!(bills[0].1.hint, Some("envoy"));
    }

    #[test]
    fn containers_that_talk_but_do_not_relay_are_no_sidecar() {
        // An app and a cache in one pod: the app calls the cache and goes out; the cache never does.
        let (app, cache, api) = (member("web", "app"), member("web", "redis"), member("api", "api"));
        let mut finder = SidecarFinder::new(None);
        finder.connection(Flow::Connect, &app, "app", Some(&cache), false, addr("127.0.0.1:6379"));
        finder.connection(Flow::Accept, &cache, "redis-server", Some(&app), false, addr("127.0.0.1:40000"));
        finder.connection(Flow::Connect, &app, "app", Some(&api), true, addr("10.244.0.20:8080"));
        assert!(finder.sidecar_of("web").is_none());
        assert!(finder.bills(&Host::at("/nonexistent"), 1.0).is_empty());
    }

    #[test]
    fn cpu_and_memory_come_from_the_sidecars_cgroup() {
        let fixture = crate::host::fixture::Fixture::new();
        let cgroupfs = Cgroupfs::at(fixture.root().join("sys/fs/cgroup"));
        let (app, relay, backend) = (member("web", "app"), member("web", "mesh"), member("api", "api"));
        fixture.write("sys/fs/cgroup/kubepods.slice/web/mesh/cpu.stat", "usage_usec 1000000\nuser_usec 600000\n");
        fixture.write("sys/fs/cgroup/kubepods.slice/web/mesh/memory.current", "25165824\n");
        fixture.write("sys/fs/cgroup/kubepods.slice/web/mesh/cgroup.procs", "4242\n");
        fixture.process(4242).statm(3000);
        let mut finder = SidecarFinder::new(Some(cgroupfs));
        finder.connection(Flow::Accept, &relay, "haproxy", Some(&app), false, addr("127.0.0.1:40000"));
        // Found here: its CPU counts from now.
        finder.connection(Flow::Connect, &relay, "haproxy", Some(&backend), true, addr("10.244.0.20:8080"));
        fixture.write("sys/fs/cgroup/kubepods.slice/web/mesh/cpu.stat", "usage_usec 1500000\nuser_usec 800000\n");
        let bill = finder.bills(&fixture.host(), 2.0).remove(0).1;
        assert_eq!(bill.cpu_cores, Some(0.25));
        assert_eq!(bill.memory_bytes, Some(25165824));
        assert_eq!(bill.rss_bytes, Some(3000 * procfs::page_size()));
        assert_eq!(bill.hint, Some("haproxy"));
        // On the v1/v2 hybrid, memory is the v1 memory controller's, found through its process.
        fixture.write("sys/fs/cgroup/kubepods.slice/web/mesh/memory.current", "");
        std::fs::remove_file(fixture.root().join("sys/fs/cgroup/kubepods.slice/web/mesh/memory.current")).unwrap();
        fixture.write(
            "proc/self/mountinfo",
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n31 23 0:27 / /sys/fs/memory rw - cgroup cgroup rw,memory\n",
        );
        fixture.write("proc/4242/cgroup", "5:memory:/kubepods.slice/web/mesh\n0::/kubepods.slice/web/mesh\n");
        fixture.write("sys/fs/memory/kubepods.slice/web/mesh/memory.usage_in_bytes", "13631488\n");
        let bill = finder.bills(&fixture.host(), 2.0).remove(0).1;
        assert_eq!(bill.memory_bytes, Some(13631488));
        // A process whose v1 memory cgroup is some parent's: no figure rather than the parent's.
        fixture.write("proc/4242/cgroup", "5:memory:/user.slice\n0::/kubepods.slice/web/mesh\n");
        fixture.write("sys/fs/memory/user.slice/memory.usage_in_bytes", "999999999\n");
        assert_eq!(finder.bills(&fixture.host(), 2.0).remove(0).1.memory_bytes, None);
    }
}
