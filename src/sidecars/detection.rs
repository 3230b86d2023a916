//! Which container of a pod is its sidecar: the one that relays. Each TCP
//! connection record of a pod's container says what that container does
//! with connections; the first that both accepts and opens across the pod's
//! boundary (outbound: from its siblings, out of the pod; inbound: from
//! outside, to its siblings) is the pod's sidecar, and from then on every
//! close in the pod is billed to it, or counted as going around it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use super::latency::{Latency, Turns};
use crate::enrich::Attribution;
use crate::host::Cgroupfs;

/// Names that proxies usually run under: a hint shown beside the verdict, never the verdict.
const PROXY_NAMES: [&str; 6] = ["istio-proxy", "linkerd-proxy", "cilium-envoy", "envoy", "haproxy", "nginx"];
/// Bypassing connections listed per pod and interval (all are counted).
const BYPASS_LISTED: usize = 8;
/// Pods followed at most: past it, the pods with no sidecar are forgotten first.
const MAX_PODS: usize = 4096;

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

/// A TCP connection record, as the finder needs it.
#[derive(Debug, Clone, Copy)]
pub enum Flow {
    Connect,
    Accept,
    /// The connection's end closed: what it did since its last progress record.
    Close(Closed),
    /// Still open: what it did since its last progress record (or its start).
    Progress(Closed),
}

/// What one end of a connection did since its last record (progress or start), as of a close or a progress record.
#[derive(Debug, Clone, Copy)]
pub struct Closed {
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub turns: Turns,
    /// Whether this end connected (else it accepted).
    pub connected: bool,
    /// This end's own address.
    pub local: SocketAddr,
}

/// What one container did with connections, since podtop started.
#[derive(Debug, Default)]
pub(super) struct ContainerFlows {
    pub(super) owner: Option<Arc<Attribution>>,
    accepted_from_siblings: u64,
    connected_out: u64,
    accepted_from_outside: u64,
    connected_to_siblings: u64,
    /// A proxy's name in its container's name or its process's.
    pub(super) hint: Option<&'static str>,
}

impl ContainerFlows {
    fn relays(&self) -> bool {
        (self.accepted_from_siblings > 0 && self.connected_out > 0)
            || (self.accepted_from_outside > 0 && self.connected_to_siblings > 0)
    }
}

/// One pod's containers, its sidecar once found, and what its bill is drawn from.
#[derive(Debug, Default)]
pub(super) struct PodFlows {
    pub(super) containers: HashMap<String, ContainerFlows>,
    /// The relaying container's id, once one relays.
    pub(super) sidecar: Option<String>,
    pub(super) since_bill: Relayed,
    pub(super) latency: Latency,
    /// The sidecar cgroup's CPU usage (µs) at the last bill.
    pub(super) cpu_usage_usec: Option<u64>,
}

#[derive(Debug, Default)]
pub struct SidecarFinder {
    pub(super) pods: HashMap<String, PodFlows>,
    /// Where the sidecars' cgroup files are read.
    pub(super) cgroupfs: Option<Cgroupfs>,
}

fn hint_of(names: &[&str]) -> Option<&'static str> {
    PROXY_NAMES.iter().copied().find(|proxy| names.iter().any(|name| name.contains(proxy)))
}

/// A hint read back from a recording, as one of the names podtop knows.
pub fn known_hint(name: &str) -> Option<&'static str> {
    PROXY_NAMES.iter().copied().find(|proxy| *proxy == name)
}

impl SidecarFinder {
    pub fn new(cgroupfs: Option<Cgroupfs>) -> SidecarFinder {
        SidecarFinder { pods: HashMap::new(), cgroupfs }
    }

    /// Forgets a pod that is gone (its cgroup removed).
    pub fn forget_pod(&mut self, uid: &str) {
        self.pods.remove(uid);
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
        let (Flow::Close(closed) | Flow::Progress(closed)) = flow else { return };
        let ended = matches!(flow, Flow::Close(_));
        let turns = closed.turns;
        // A hop between the sidecar and a sibling is known by its connecting
        // end's address, as IPv4 where a dual-stack socket shows it mapped.
        let connector = if closed.connected { closed.local } else { remote };
        let connector = SocketAddr::new(connector.ip().to_canonical(), connector.port());
        if container.id == sidecar {
            flows.latency.sidecar_closed(turns, closed.connected, sibling.is_some(), leaves_pod, connector);
            return;
        }
        // Another container of a pod that has a sidecar: through it, or around it.
        if sibling.as_deref() == Some(sidecar.as_str()) {
            flows.since_bill.connections += u64::from(ended);
            flows.since_bill.tx_bytes += closed.tx_bytes;
            flows.since_bill.rx_bytes += closed.rx_bytes;
            flows.since_bill.exchanges += if closed.connected { turns.exchanges } else { turns.replies };
            flows.latency.sibling_closed(turns, closed.connected, connector);
        } else if leaves_pod && ended {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Host;
    use crate::sidecars::testing::{addr, asked, closed, member, turn, MS};
    use crate::sidecars::AddedLatency;

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
        assert_eq!(pod.latency.outbound.woke_before, vec![(MS / 5, 1)], "the mapped address paired with the plain one");
        assert!(pod.latency.hops.is_empty());
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
}
