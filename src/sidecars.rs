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
    Close(Closed),
}

/// A connection's end at its close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub turns: Turns,
    /// Whether this end connected (else it accepted).
    pub connected: bool,
    /// This end's own address.
    pub local: SocketAddr,
}

/// Request/response turns at one end of a connection, for any TCP protocol,
/// as the kernel timed them: exchanges it asked (its last send before a
/// receive, to that receive) and replies it gave (its last receive before a
/// send, to that send). `asked_at_sum` and `heard_at_sum` add up the times
/// the exchanges were asked and the replies' requests were heard; they wrap,
/// and mean something only less the other end's sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Turns {
    pub exchanges: u64,
    pub exchange_ns: u64,
    pub asked_at_sum: u64,
    pub replies: u64,
    pub reply_ns: u64,
    pub heard_at_sum: u64,
}

/// How far, per turn, a reader may be timed before the send that woke it
/// returned (it preempted the sender on its CPU) and the turns still pair.
const PREEMPTED_SEND_NS: u64 = 20_000;

impl Turns {
    /// How long each end of one connection took to wake to the other's
    /// bytes, summed over its turns: the answering end to the requests, and
    /// the asking end to the replies; from the kernel's clock at both ends of
    /// a connection inside the node. None when the ends' turns do not pair
    /// one to one (a request pipelined behind another, a turn cut by the close).
    pub fn wakes(asker: &Turns, answerer: &Turns) -> Option<(u64, u64)> {
        let n = asker.exchanges;
        if n == 0 || answerer.replies != n {
            return None;
        }
        // Each request is heard after it was asked, and each reply reaches
        // the asker after it was sent: as signed sums, both are positive, but
        // for a reader that preempts the sender on its CPU (over loopback the
        // bytes are handed over inside the send) and is timed before the
        // send returns. A little below zero is that, and reads as no wait;
        // far below, the turns did not pair.
        let to_request = answerer.heard_at_sum.wrapping_sub(asker.asked_at_sum) as i64;
        let replied_at_sum = answerer.heard_at_sum.wrapping_add(answerer.reply_ns);
        let to_reply = asker.asked_at_sum.wrapping_add(asker.exchange_ns).wrapping_sub(replied_at_sum) as i64;
        let floor = -(PREEMPTED_SEND_NS.saturating_mul(n) as i64);
        (to_request >= floor && to_reply >= floor).then_some((to_request.max(0) as u64, to_reply.max(0) as u64))
    }
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
    /// What the time requests spend in the sidecar is estimated from, since
    /// the last bill: requests from the pod's other containers (outbound),
    /// and requests to them (inbound).
    outbound: Legs,
    inbound: Legs,
    /// Connections between the sidecar and another container of the pod,
    /// whose one end closed and the other not yet; by the connecting end's address.
    hops: HashMap<SocketAddr, HopEnd>,
    /// The sidecar cgroup's CPU usage (µs) at the last bill.
    cpu_usage_usec: Option<u64>,
}

/// One end of a connection between the sidecar and another container of its pod.
#[derive(Debug, Clone, Copy)]
struct HopEnd {
    turns: Turns,
    sidecars: bool,
    connected: bool,
    /// Bills drawn while it waited for its other end.
    waited: u8,
}

/// Connections between a sidecar and its siblings waiting for their other end's close, per pod.
const MAX_HOPS: usize = 4096;

/// Connections sampled per side and interval, at most.
const LATENCY_SAMPLES: usize = 65536;

/// One direction of relaying, over one interval: one sample per closed
/// connection (its mean, weighted by its turns).
#[derive(Debug, Default)]
struct Legs {
    /// The sidecar's replies on the connections it accepted: the requests it relayed, answered.
    answered: Vec<(u64, u64)>,
    /// Its exchanges on the connections it opened: the same requests, passed on and answered.
    asked: Vec<(u64, u64)>,
    /// How long it took to wake to the other container's bytes, on the connections between them.
    woke: Vec<(u64, u64)>,
    /// The last interval's wake-ups that had any: an interval whose hops
    /// did not close at both ends yet takes its wake-ups from there.
    woke_before: Vec<(u64, u64)>,
}

fn sample(samples: &mut Vec<(u64, u64)>, count: u64, total_ns: u64) {
    if count > 0 && samples.len() < LATENCY_SAMPLES {
        samples.push((total_ns / count, count));
    }
}

impl Legs {
    /// The `q` quantile of the time a request spends in the sidecar: what
    /// it took to reply, less what it waited upstream, plus its two
    /// wake-ups (to the request and to the response; only the one on the
    /// hop to its sibling is seen, the other is taken to be the same).
    /// Without the wake-ups, a blocking app's own wake-up to its response,
    /// which it pays with or without a proxy, would be billed to the proxy.
    fn added(&mut self, q: f64) -> Option<u64> {
        for samples in [&mut self.answered, &mut self.asked, &mut self.woke] {
            samples.sort_unstable();
        }
        let woke = if self.woke.is_empty() { &self.woke_before } else { &self.woke };
        // None seen yet (the first hops have not closed at both ends): none counted.
        let woke = quantile(woke, q).unwrap_or(0);
        Some(quantile(&self.answered, q)?.saturating_sub(quantile(&self.asked, q)?) + 2 * woke)
    }

    /// The interval is billed: its samples go, its wake-ups are kept if it had any.
    fn next_interval(&mut self) {
        self.answered.clear();
        self.asked.clear();
        if !self.woke.is_empty() {
            self.woke_before = std::mem::take(&mut self.woke);
        }
    }

    fn requests(&self) -> u64 {
        self.answered.iter().map(|(_, n)| n).sum()
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

/// Both directions' estimates, weighted by the requests behind each.
fn added_both_ways(outbound: &mut Legs, inbound: &mut Legs, q: f64) -> Option<u64> {
    let parts: Vec<(u64, u64)> =
        [outbound, inbound].into_iter().filter_map(|legs| Some((legs.added(q)?, legs.requests()))).collect();
    let requests: u64 = parts.iter().map(|(_, n)| n).sum();
    (requests > 0).then(|| (parts.iter().map(|(ns, n)| *ns as u128 * *n as u128).sum::<u128>() / requests as u128) as u64)
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
    /// The requests they made through it (inbound: answered through it).
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
    /// The time requests spend in it (`Legs::added`): p50 from p50s, p99 from p99s.
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

/// Bills a hop's end waits for its other end before it is forgotten (the
/// other end closed unseen, or long after).
const HOP_WAIT_BILLS: u8 = 2;

impl PodFlows {
    /// One end of a hop between the sidecar and a sibling closed: with the
    /// other end's, it tells how long the sidecar took to wake to the sibling.
    fn hop_closed(&mut self, connector: SocketAddr, end: HopEnd) {
        let other = match self.hops.remove(&connector) {
            Some(other) if other.sidecars != end.sidecars => other,
            _ => {
                if self.hops.len() >= MAX_HOPS {
                    return; // more hops closing at once than are followed: this one's wake-ups go unseen
                }
                self.hops.insert(connector, end);
                return;
            }
        };
        let (sidecar, sibling) = if end.sidecars { (end, other) } else { (other, end) };
        // The connecting end asks: outbound the sibling, inbound the sidecar.
        if sibling.connected {
            if let Some((to_request, _)) = Turns::wakes(&sibling.turns, &sidecar.turns) {
                sample(&mut self.outbound.woke, sibling.turns.exchanges, to_request);
            }
        } else if let Some((_, to_reply)) = Turns::wakes(&sidecar.turns, &sibling.turns) {
            sample(&mut self.inbound.woke, sidecar.turns.exchanges, to_reply);
        }
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
        let Flow::Close(closed) = flow else { return };
        let turns = closed.turns;
        // A hop between the sidecar and a sibling is known by its connecting
        // end's address, as IPv4 where a dual-stack socket shows it mapped.
        let connector = if closed.connected { closed.local } else { remote };
        let connector = SocketAddr::new(connector.ip().to_canonical(), connector.port());
        if container.id == sidecar {
            // Outbound it answers its siblings and asks out of the pod; inbound, the reverse.
            match (closed.connected, sibling.is_some()) {
                (false, true) => {
                    sample(&mut flows.outbound.answered, turns.replies, turns.reply_ns);
                    flows.hop_closed(connector, HopEnd { turns, sidecars: true, connected: closed.connected, waited: 0 });
                }
                (true, false) if leaves_pod => sample(&mut flows.outbound.asked, turns.exchanges, turns.exchange_ns),
                (false, false) if leaves_pod => sample(&mut flows.inbound.answered, turns.replies, turns.reply_ns),
                (true, true) => {
                    sample(&mut flows.inbound.asked, turns.exchanges, turns.exchange_ns);
                    flows.hop_closed(connector, HopEnd { turns, sidecars: true, connected: closed.connected, waited: 0 });
                }
                _ => {}
            }
            return;
        }
        // Another container of a pod that has a sidecar: through it, or around it.
        if sibling.as_deref() == Some(sidecar.as_str()) {
            flows.since_bill.connections += 1;
            flows.since_bill.tx_bytes += closed.tx_bytes;
            flows.since_bill.rx_bytes += closed.rx_bytes;
            flows.since_bill.exchanges += if closed.connected { turns.exchanges } else { turns.replies };
            flows.hop_closed(connector, HopEnd { turns, sidecars: false, connected: closed.connected, waited: 0 });
        } else if leaves_pod {
            // At close, when it is known that no proxy took it (a redirect
            // shows at the proxy's accept, after the app's connect).
            flows.since_bill.bypass_connections += 1;
            if flows.since_bill.bypass.len() < BYPASS_LISTED {
                flows.since_bill.bypass.push(remote);
            }
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
            let mut added = |q: f64| added_both_ways(&mut flows.outbound, &mut flows.inbound, q);
            let enough = flows.since_bill.exchanges >= P99_MIN_EXCHANGES;
            let added_latency =
                added(0.5).map(|p50_ns| AddedLatency { p50_ns, p99_ns: if enough { added(0.99) } else { None } });
            flows.outbound.next_interval();
            flows.inbound.next_interval();
            flows.hops.retain(|_, end| {
                end.waited += 1;
                end.waited <= HOP_WAIT_BILLS
            });
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

    const MS: u64 = 1_000_000;

    /// One request and its reply on a connection, as both ends' kernel
    /// clocks saw it: asked, heard, answered, and the answer received.
    fn turn(asked: u64, heard: u64, answered: u64, received: u64) -> (Turns, Turns) {
        let asker = Turns { exchanges: 1, exchange_ns: received - asked, asked_at_sum: asked, ..Turns::default() };
        let answerer = Turns { replies: 1, reply_ns: answered - heard, heard_at_sum: heard, ..Turns::default() };
        (asker, answerer)
    }

    fn asked(exchange_ns: u64) -> Turns {
        Turns { exchanges: 1, exchange_ns, ..Turns::default() }
    }

    fn closed(turns: Turns, connected: bool, local: SocketAddr) -> Flow {
        Flow::Close(Closed { tx_bytes: 1, rx_bytes: 1, turns, connected, local })
    }

    #[test]
    fn both_ends_of_a_connection_tell_how_long_each_took_to_wake() {
        // Times past half the clock's range: sums of two wrap, their differences do not.
        let t0 = u64::MAX / 2 + MS;
        let (app, proxy) = turn(t0, t0 + MS / 10, t0 + 24 * MS, t0 + 27 * MS);
        assert_eq!(Turns::wakes(&app, &proxy), Some((MS / 10, 3 * MS)));
        let (app2, proxy2) = turn(t0 + 30 * MS, t0 + 31 * MS, t0 + 32 * MS, t0 + 34 * MS);
        let sum = |a: Turns, b: Turns| Turns {
            exchanges: a.exchanges + b.exchanges,
            exchange_ns: a.exchange_ns + b.exchange_ns,
            asked_at_sum: a.asked_at_sum.wrapping_add(b.asked_at_sum),
            replies: a.replies + b.replies,
            reply_ns: a.reply_ns + b.reply_ns,
            heard_at_sum: a.heard_at_sum.wrapping_add(b.heard_at_sum),
        };
        assert_eq!(Turns::wakes(&sum(app, app2), &sum(proxy, proxy2)), Some((MS / 10 + MS, 3 * MS + 2 * MS)));
        assert_eq!(Turns::wakes(&sum(app, app2), &proxy), None, "two exchanges, one reply: no pairs");
        // Pairs that do not match (a pipelined request): a negative wake, refused.
        let (_, early) = turn(0, t0 - MS, t0 - MS / 2, 0);
        assert_eq!(Turns::wakes(&app, &early), None);
        // A reader that preempted the sender on its CPU, timed 2 µs before the send returned: no wait.
        let (app, proxy) = turn(t0, t0 - 2_000, t0 + MS, t0 + MS + 3_000);
        assert_eq!(Turns::wakes(&app, &proxy), Some((0, 3_000)));
    }

    #[test]
    fn the_relaying_container_is_the_sidecar_whatever_its_name() {
        let (app, relay, backend) = (member("web", "app"), member("web", "mesh"), member("api", "api"));
        let mut finder = SidecarFinder::new(None);
        let (local, app_addr) = (addr("127.0.0.1:15001"), addr("127.0.0.1:40000"));
        let out = addr("10.244.0.20:8080");
        finder.connection(Flow::Connect, &app, "python3", Some(&relay), false, local);
        finder.connection(Flow::Accept, &relay, "relay", Some(&app), false, app_addr);
        assert!(finder.sidecar_of("web").is_none(), "accepting from a sibling alone is no relay");
        finder.connection(Flow::Connect, &relay, "relay", Some(&backend), true, out);
        assert_eq!(finder.sidecar_of("web").and_then(|a| a.container.as_ref()).map(|c| c.id.as_str()), Some("mesh"));
        // One request: the proxy wakes to it in 0.1 ms, takes 24.8 ms to
        // answer, 20 of them upstream; the app wakes to the answer in 3 ms,
        // which it would without the proxy too: 5 ms are the proxy's.
        let (app_turns, relay_turns) = turn(1000, 1000 + MS / 10, 1000 + 249 * MS / 10, 1000 + 279 * MS / 10);
        let app_closed = Flow::Close(Closed { tx_bytes: 26, rx_bytes: 1019, turns: app_turns, connected: true, local: app_addr });
        finder.connection(app_closed, &app, "python3", Some(&relay), false, local);
        finder.connection(closed(asked(20 * MS), true, addr("10.244.0.10:41000")), &relay, "relay", Some(&backend), true, out);
        finder.connection(closed(relay_turns, false, local), &relay, "relay", Some(&app), false, app_addr);
        // A second app container that goes straight out: bypass.
        let other = member("web", "batch");
        finder.connection(Flow::Connect, &other, "curl", Some(&backend), true, out);
        finder.connection(closed(asked(1), true, addr("10.244.0.10:42000")), &other, "curl", Some(&backend), true, out);
        let bills = finder.bills(&Host::at("/nonexistent"), 1.0);
        assert_eq!(bills.len(), 1);
        let (owner, bill) = &bills[0];
        assert_eq!(owner.container.as_ref().unwrap().id, "mesh");
        assert_eq!(bill.hint, None, "neither its name nor its process names a known proxy");
        assert_eq!(
            bill.relayed,
            Relayed { connections: 1, tx_bytes: 26, rx_bytes: 1019, exchanges: 1, bypass_connections: 1, bypass: vec![out] }
        );
        assert_eq!(bill.added_latency, Some(AddedLatency { p50_ns: 5 * MS, p99_ns: None }), "one exchange: no p99");
        assert_eq!(bill.extra_stack_bytes(), 2 * 1045);
        let again = finder.bills(&Host::at("/nonexistent"), 1.0);
        assert_eq!(again[0].1.relayed, Relayed::default(), "counts are per interval");
        assert_eq!(again[0].1.added_latency, None, "no exchange, no estimate");
        // The next request's hop has closed at the proxy's end, which shows
        // the app's address as a dual-stack socket maps it, and not yet at
        // the app's: the wake-up is the last one seen...
        let (app_turns, relay_turns) = turn(MS, MS + MS / 5, MS + 25 * MS, MS + 26 * MS);
        finder.connection(closed(relay_turns, false, local), &relay, "relay", Some(&app), false, addr("[::ffff:127.0.0.1]:40001"));
        finder.connection(closed(asked(20 * MS), true, addr("10.244.0.10:41001")), &relay, "relay", Some(&backend), true, out);
        let bill = finder.bills(&Host::at("/nonexistent"), 1.0).remove(0).1;
        assert_eq!(bill.added_latency.map(|l| l.p50_ns), Some(25 * MS - MS / 5 - 20 * MS + 2 * (MS / 10)));
        // ...and the ends pair once the app's closes, in the next interval.
        finder.connection(closed(app_turns, true, addr("127.0.0.1:40001")), &app, "python3", Some(&relay), false, local);
        let bill = finder.bills(&Host::at("/nonexistent"), 1.0).remove(0).1;
        assert_eq!(bill.added_latency, None, "no reply of the proxy's closed in this interval");
        let pod = finder.pods.get("web").unwrap();
        assert_eq!(pod.outbound.woke_before, vec![(MS / 5, 1)], "the mapped address paired with the plain one");
        assert!(pod.hops.is_empty());
    }

    #[test]
    fn an_inbound_sidecars_time_is_its_reply_less_the_apps() {
        let (app, proxy, client) = (member("db", "postgres"), member("db", "mesh"), member("api", "api"));
        let mut finder = SidecarFinder::new(None);
        let (outside, hop) = (addr("10.244.0.10:5000"), addr("127.0.0.1:43000"));
        finder.connection(Flow::Accept, &proxy, "relay", Some(&client), true, outside);
        finder.connection(Flow::Connect, &proxy, "relay", Some(&app), false, addr("127.0.0.1:5432"));
        // The proxy answers outside in 12 ms, of which it waits 10.1 on the
        // app; it takes 0.1 ms to wake to the app's answer.
        finder.connection(closed(Turns { replies: 1, reply_ns: 12 * MS, ..Turns::default() }, false, addr("10.244.0.11:5432")), &proxy, "relay", Some(&client), true, outside);
        let (proxy_turns, app_turns) = turn(0, MS / 20, 10 * MS, 10 * MS + MS / 10);
        finder.connection(closed(app_turns, false, addr("127.0.0.1:5432")), &app, "postgres", Some(&proxy), false, hop);
        finder.connection(closed(proxy_turns, true, hop), &proxy, "relay", Some(&app), false, addr("127.0.0.1:5432"));
        let bill = finder.bills(&Host::at("/nonexistent"), 1.0).remove(0).1;
        assert_eq!(bill.relayed.exchanges, 1, "the app's reply");
        assert_eq!(bill.added_latency, Some(AddedLatency { p50_ns: 12 * MS - (10 * MS + MS / 10) + 2 * (MS / 10), p99_ns: None }));
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
            let through = if i < 2 { 40 * MS } else { 11 * MS };
            let app_addr = addr(&format!("127.0.0.1:{}", 40000 + i));
            let (app_turns, relay_turns) = turn(i * 100 * MS, i * 100 * MS, i * 100 * MS + through, i * 100 * MS + through);
            finder.connection(closed(app_turns, true, app_addr), &app, "app", Some(&relay), false, local);
            finder.connection(closed(relay_turns, false, local), &relay, "relay", Some(&app), false, app_addr);
            finder.connection(closed(asked(10 * MS), true, addr("10.244.0.10:41000")), &relay, "relay", Some(&backend), true, out);
        }
        let bill = finder.bills(&Host::at("/nonexistent"), 1.0).remove(0).1;
        assert_eq!(bill.added_latency, Some(AddedLatency { p50_ns: MS, p99_ns: Some(30 * MS) }));
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
