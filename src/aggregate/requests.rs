//! A pod's HTTP requests as the TUI shows them, from the `http` records: the
//! requests it served (or, where it served none, made) across its boundary
//! over the rate span, for the node view's columns; its endpoints since
//! start, for the drill-down; and the requests between its own containers,
//! which a proxy in it does not see. Latencies go into small histograms,
//! never a list of every request: a pod that serves ten thousand requests a
//! second costs the model no more than one that serves ten.

use std::collections::{HashMap, VecDeque};

use super::observation::Request;
use crate::l7::exchanges::Role;

/// Endpoints kept per pod; past that, the one with the fewest requests goes.
const MAX_ENDPOINTS: usize = 256;
/// Pairs of containers kept for the requests inside a pod.
const MAX_INSIDE_PAIRS: usize = 64;

/// Latencies to two significant digits (1.0 ms, 1.1 ms, ... 9.9 ms, 10 ms,
/// 11 ms, ...): at most 90 buckets a decade, quantiles within 10% of the
/// exact ones (exact where latencies have two digits), whatever the count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Latencies {
    /// (a bucket's lower bound in ns, latencies in it), by bound.
    buckets: Vec<(u64, u64)>,
}

impl Latencies {
    fn bucket(ns: u64) -> u64 {
        let (mut digits, mut scale) = (ns, 1);
        while digits >= 100 {
            digits /= 10;
            scale *= 10;
        }
        digits * scale
    }

    pub fn record(&mut self, ns: u64) {
        self.add(Self::bucket(ns), 1);
    }

    fn add(&mut self, bound: u64, n: u64) {
        match self.buckets.binary_search_by_key(&bound, |b| b.0) {
            Ok(i) => self.buckets[i].1 += n,
            Err(i) => self.buckets.insert(i, (bound, n)),
        }
    }

    fn merge(&mut self, other: &Latencies) {
        for &(bound, n) in &other.buckets {
            self.add(bound, n);
        }
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.1).sum()
    }

    /// The `q` quantile by nearest rank: the bucket of the ⌈q·n⌉-th
    /// fastest. With fewer than 100 latencies, the 99th is the slowest.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let wanted = (q * self.count() as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        self.buckets.iter().find(|b| {
            seen += b.1;
            seen >= wanted
        })
        .map(|b| b.0)
    }
}

/// Requests counted together: how many, how many failed, how long they took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub requests: u64,
    /// Failed: answered with a 5xx status, or a gRPC status other than OK.
    pub errors: u64,
    /// Of the answered ones (a request without a response has no latency).
    pub latencies: Latencies,
}

impl Tally {
    fn add(&mut self, r: &Request) {
        self.requests += 1;
        if r.failed {
            self.errors += 1;
        }
        if let Some(ns) = r.latency_ns {
            self.latencies.record(ns);
        }
    }

    fn merge(&mut self, other: &Tally) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.latencies.merge(&other.latencies);
    }

    /// The share of 5xx answers, in percent.
    pub fn error_percent(&self) -> Option<f64> {
        (self.requests > 0).then(|| 100.0 * self.errors as f64 / self.requests as f64)
    }

    pub fn p50(&self) -> Option<u64> {
        self.latencies.quantile(0.5)
    }

    pub fn p99(&self) -> Option<u64> {
        self.latencies.quantile(0.99)
    }
}

/// One endpoint of a pod: which end of it the pod was, method and path, and
/// whether the requests crossed the pod's boundary (a proxy in it sees them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub role: Role,
    pub method: String,
    pub path: String,
    pub sidecar_visible: bool,
}

/// What the node view's columns show of a pod's requests over the rate span.
#[derive(Debug, Clone, Copy)]
pub struct Figures<'a> {
    /// Server: the requests it served; client: those it made, where it served none.
    pub role: Role,
    pub per_second: f64,
    pub tally: &'a Tally,
}

/// Served (0) and made (1): the two ends of a request, as the figures pick them.
fn end(role: Role) -> usize {
    match role {
        Role::Server => 0,
        Role::Client => 1,
    }
}

#[derive(Debug, Clone, Default)]
pub struct Requests {
    /// This interval's requests across the boundary, served and made.
    window: [Tally; 2],
    /// The last intervals' tallies and lengths, newest last, covering the rate span.
    recent: VecDeque<([Tally; 2], f64)>,
    /// Their sum, as of the last interval's end, and its seconds.
    span: [Tally; 2],
    span_seconds: f64,
    /// Since start, by endpoint.
    endpoints: HashMap<Endpoint, Tally>,
    /// Requests between two of the pod's own containers (over loopback),
    /// counted once, at the serving end: by (server's container, client's).
    inside: HashMap<(Option<String>, Option<String>), u64>,
    /// Requests across the pod's boundary since start: what a proxy in it sees.
    pub across: u64,
}

impl Requests {
    /// One request of the group. `across`: it crossed the group's boundary
    /// (what the columns count; every request does for the host and bare
    /// containers). `container`: the id of the container that made or served it.
    pub fn add(&mut self, r: &Request, across: bool, container: Option<&str>) {
        if across {
            self.window[end(r.role)].add(r);
            self.across += 1;
        } else if r.role == Role::Server {
            let client = r.peer.as_ref().and_then(|p| p.container.as_ref()).map(|c| c.id.clone());
            let mut pair = (container.map(str::to_string), client);
            if !self.inside.contains_key(&pair) && self.inside.len() >= MAX_INSIDE_PAIRS {
                pair = (None, None);
            }
            *self.inside.entry(pair).or_default() += 1;
        }
        let key = Endpoint { role: r.role, method: r.method.clone(), path: r.path.clone(), sidecar_visible: r.sidecar_visible };
        if !self.endpoints.contains_key(&key) && self.endpoints.len() >= MAX_ENDPOINTS {
            // The fewest requests go first; of those, the last in order, so that the choice is the same every run.
            let fewest = self.endpoints.iter().min_by(|a, b| a.1.requests.cmp(&b.1.requests).then(b.0.cmp(a.0))).map(|(k, _)| k.clone());
            if let Some(fewest) = fewest {
                self.endpoints.remove(&fewest);
            }
        }
        self.endpoints.entry(key).or_default().add(r);
    }

    /// The end of an interval of `seconds`: the figures cover the last
    /// intervals that make up `span` seconds, from the first with a request.
    pub fn close_window(&mut self, seconds: f64, span: f64) {
        let window = std::mem::take(&mut self.window);
        if self.recent.is_empty() && window.iter().all(|t| t.requests == 0) {
            return;
        }
        self.recent.push_back((window, seconds));
        self.span_seconds += seconds;
        while let Some((_, oldest_seconds)) = self.recent.front() {
            if self.span_seconds - oldest_seconds < span - 1e-9 {
                break;
            }
            self.span_seconds -= oldest_seconds;
            self.recent.pop_front();
        }
        // Histograms do not subtract: the span's sum is made again, from a few small tallies.
        self.span = Default::default();
        for (tallies, _) in &self.recent {
            for (sum, tally) in self.span.iter_mut().zip(tallies) {
                sum.merge(tally);
            }
        }
        if self.span.iter().all(|t| t.requests == 0) {
            // Quiet for a whole span: start over at the next request.
            self.recent.clear();
            self.span_seconds = 0.0;
        }
    }

    /// The columns' figures: served where the pod served requests across
    /// its boundary over the span, else made; None where it did neither.
    pub fn figures(&self) -> Option<Figures<'_>> {
        let role = [Role::Server, Role::Client].into_iter().find(|r| self.span[end(*r)].requests > 0)?;
        let tally = &self.span[end(role)];
        Some(Figures { role, per_second: tally.requests as f64 / self.span_seconds.max(1e-9), tally })
    }

    /// Endpoints by requests since start, most first; of as many, those across the boundary first.
    pub fn top_endpoints(&self) -> Vec<(&Endpoint, &Tally)> {
        let mut endpoints: Vec<_> = self.endpoints.iter().collect();
        endpoints.sort_by(|a, b| {
            b.1.requests.cmp(&a.1.requests).then(b.0.sidecar_visible.cmp(&a.0.sidecar_visible)).then(a.0.cmp(b.0))
        });
        endpoints
    }

    /// Requests inside the pod since start: (those a container `relay` took
    /// part in, the others). A proxy's hops to and from its own app are its
    /// input, not something it misses.
    pub fn inside(&self, relay: Option<&str>) -> (u64, u64) {
        self.inside.iter().fold((0, 0), |(hops, others), ((server, client), n)| {
            let hop = relay.is_some_and(|relay| server.as_deref() == Some(relay) || client.as_deref() == Some(relay));
            if hop {
                (hops + n, others)
            } else {
                (hops, others + n)
            }
        })
    }

    /// Whether any request was seen at all.
    pub fn any(&self) -> bool {
        !self.endpoints.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_keep_two_significant_digits() {
        let mut l = Latencies::default();
        for ns in [2_500_000, 2_599_999, 123, 99, 1_000_000_000] {
            l.record(ns);
        }
        assert_eq!(l.buckets, vec![(99, 1), (120, 1), (2_500_000, 2), (1_000_000_000, 1)]);
        assert_eq!(l.count(), 5);
        assert_eq!(l.quantile(0.5), Some(2_500_000), "the third of five");
        assert_eq!(l.quantile(0.99), Some(1_000_000_000), "fewer than 100: the slowest");
        assert_eq!(Latencies::default().quantile(0.5), None);
    }

    fn request(role: Role, path: &str, status: Option<u16>, latency_ns: Option<u64>, sidecar_visible: bool) -> Request {
        Request {
            role,
            method: "GET".into(),
            path: path.into(),
            status,
            failed: status.is_some_and(|s| s >= 500),
            latency_ns,
            local: "10.0.0.1:8080".parse().unwrap(),
            remote: "10.0.0.2:50000".parse().unwrap(),
            peer: None,
            sidecar_visible,
            dname: None,
        }
    }

    #[test]
    fn errors_are_5xx_answers_of_all_requests() {
        let mut r = Requests::default();
        // 2 of 10 are 5xx; a 404 and a request that got no answer are not errors, but count.
        let statuses = [Some(200), Some(503), Some(500), Some(404), None, Some(200), Some(301), Some(200), Some(200), Some(200)];
        for status in statuses {
            r.add(&request(Role::Server, "/", status, status.map(|_| 1_000_000), true), true, Some("app"));
        }
        r.close_window(2.0, 10.0);
        let f = r.figures().unwrap();
        assert_eq!((f.role, f.per_second, f.tally.requests, f.tally.errors), (Role::Server, 5.0, 10, 2));
        assert_eq!(f.tally.error_percent(), Some(20.0));
        assert_eq!(f.tally.latencies.count(), 9, "the unanswered one has no latency");
    }

    #[test]
    fn served_requests_win_over_made_ones_and_hops_inside_count_apart() {
        let mut r = Requests::default();
        r.add(&request(Role::Client, "/up", Some(200), Some(5_000_000), true), true, Some("proxy"));
        r.close_window(1.0, 10.0);
        assert_eq!(r.figures().map(|f| f.role), Some(Role::Client), "made, where it served none");
        r.add(&request(Role::Server, "/in", Some(200), Some(1_000_000), true), true, Some("app"));
        r.close_window(1.0, 10.0);
        assert_eq!(r.figures().map(|f| (f.role, f.tally.requests)), Some((Role::Server, 1)));
        // Inside the pod: counted once, at the serving end, apart from the columns.
        r.add(&request(Role::Client, "/in", Some(200), None, false), false, Some("app"));
        r.add(&request(Role::Server, "/in", Some(200), None, false), false, Some("proxy"));
        r.add(&request(Role::Server, "/cache", Some(200), None, false), false, Some("app"));
        r.close_window(1.0, 10.0);
        assert_eq!(r.figures().map(|f| f.tally.requests), Some(1), "hops inside the pod are not the columns' requests");
        assert_eq!(r.inside(Some("proxy")), (1, 1));
        assert_eq!(r.inside(None), (0, 2));
        assert_eq!(r.across, 2);
    }

    #[test]
    fn endpoints_are_bounded_and_the_busiest_stay() {
        let mut r = Requests::default();
        for _ in 0..3 {
            r.add(&request(Role::Server, "/busy", Some(200), Some(1_000), true), true, None);
        }
        for i in 0..1000 {
            r.add(&request(Role::Server, &format!("/item/{i}"), Some(200), Some(1_000), true), true, None);
        }
        assert_eq!(r.endpoints.len(), MAX_ENDPOINTS);
        let top = r.top_endpoints();
        assert_eq!((top[0].0.path.as_str(), top[0].1.requests), ("/busy", 3));
        assert!(top.iter().any(|(e, _)| e.path == "/item/999"), "the newest has its place");
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut l = Latencies::default();
        // 100 latencies: 1 ms to 100 ms.
        for ms in 1..=100u64 {
            l.record(ms * 1_000_000);
        }
        assert_eq!(l.quantile(0.5), Some(50_000_000));
        assert_eq!(l.quantile(0.99), Some(99_000_000));
        assert_eq!(l.quantile(1.0), Some(100_000_000));
    }
}
