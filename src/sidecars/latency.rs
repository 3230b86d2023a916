//! The time requests spend in a sidecar, from the request/response turns the
//! kernel timed at each end of its connections: what the sidecar took to
//! answer a request, less what it waited on the request's next hop, plus
//! its wake-ups to the bytes of the pod's other containers.

use std::collections::HashMap;
use std::net::SocketAddr;

/// Request/response turns at one end of a connection, for any TCP protocol,
/// as the kernel timed them (`struct turns` of `src/bpf/events.h`, the very
/// type the close event carries): exchanges it asked (its last send before a
/// receive, to that receive) and replies it gave (its last receive before a
/// send, to that send). `asked_at_sum` and `heard_at_sum` add up the times
/// the exchanges were asked and the replies' requests were heard; they wrap,
/// and mean something only less the other end's sums.
pub type Turns = crate::skeleton::types::turns;

/// How far, per turn, a reader may be timed before the send that woke it
/// returned (it preempted the sender on its CPU) and the turns still pair.
const PREEMPTED_SEND_NS: u64 = 20_000;

/// How long each end of one connection took to wake to the other's bytes,
/// summed over its turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wakes {
    /// The answering end, to the requests.
    pub to_request_ns: u64,
    /// The asking end, to the replies.
    pub to_reply_ns: u64,
}

impl Turns {
    /// How long each end of one connection took to wake to the other's
    /// bytes, from the kernel's clock at both ends of a connection inside
    /// the node. None when the ends' turns do not pair one to one (a request
    /// pipelined behind another, a turn cut by the close).
    pub fn wakes(asker: &Turns, answerer: &Turns) -> Option<Wakes> {
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
        (to_request >= floor && to_reply >= floor).then_some(Wakes { to_request_ns: to_request.max(0) as u64, to_reply_ns: to_reply.max(0) as u64 })
    }
}

/// Below this many exchanges in an interval, a 99th percentile is noise: none is given.
pub const P99_MIN_EXCHANGES: u64 = 100;

/// The time requests spend in a sidecar over one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddedLatency {
    pub p50_ns: u64,
    pub p99_ns: Option<u64>,
}

/// The time requests spend in one pod's sidecar, gathered between two bills.
#[derive(Debug, Default)]
pub(super) struct Latency {
    /// What the estimate is drawn from, since the last bill: requests from
    /// the pod's other containers (outbound), and requests to them (inbound).
    pub(super) outbound: RelaySamples,
    pub(super) inbound: RelaySamples,
    /// Connections between the sidecar and another container of the pod,
    /// whose one end closed and the other not yet; by the connecting end's address.
    pub(super) hops: HashMap<SocketAddr, HopEnd>,
}

/// One end of a connection between the sidecar and another container of its pod.
#[derive(Debug, Clone, Copy)]
pub(super) struct HopEnd {
    turns: Turns,
    /// Whose end it is.
    side: HopSide,
    connected: bool,
    /// Bills drawn while it waited for its other end.
    waited: u8,
}

/// The two ends of a hop: the sidecar's, and its sibling container's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HopSide {
    Sidecar,
    Sibling,
}

/// Connections between a sidecar and its siblings waiting for their other end's close, per pod.
const MAX_HOPS: usize = 4096;

/// Bills a hop's end waits for its other end before it is forgotten (the
/// other end closed unseen, or long after).
const HOP_WAIT_BILLS: u8 = 2;

/// Connections sampled per side and interval, at most.
const LATENCY_SAMPLES: usize = 65536;

/// One direction of relaying, over one interval: one sample per closed
/// connection (its mean, weighted by its turns).
#[derive(Debug, Default)]
pub(super) struct RelaySamples {
    /// The sidecar's replies on the connections it accepted: the requests it relayed, answered.
    answered: Vec<(u64, u64)>,
    /// Its exchanges on the connections it opened: the same requests, passed on and answered.
    asked: Vec<(u64, u64)>,
    /// How long it took to wake to the other container's bytes, on the connections between them.
    woke: Vec<(u64, u64)>,
    /// The last interval's wake-ups that had any: an interval whose hops
    /// did not close at both ends yet takes its wake-ups from there.
    pub(super) woke_before: Vec<(u64, u64)>,
    /// The last interval's exchanges upstream that had any. A proxy that
    /// pools its upstream connections (haproxy's `http-reuse always`, Envoy)
    /// keeps them open, and an open connection reports its turns at its first
    /// send or receive after an interval: the interval whose requests they
    /// carried is billed before they are reported, and the last interval
    /// before a pause never hears them. Such an interval takes the last ones
    /// reported.
    asked_before: Vec<(u64, u64)>,
}

fn sample(samples: &mut Vec<(u64, u64)>, count: u64, total_ns: u64) {
    if count > 0 && samples.len() < LATENCY_SAMPLES {
        samples.push((total_ns / count, count));
    }
}

impl RelaySamples {
    /// The `q` quantile of the time a request spends in the sidecar: what
    /// it took to reply, less what it waited upstream, plus its two
    /// wake-ups (to the request and to the response; only the one on the
    /// hop to its sibling is seen, the other is taken to be the same).
    /// Without the wake-ups, a blocking app's own wake-up to its response,
    /// which it pays with or without a proxy, would be billed to the proxy.
    ///
    /// A quantile less a quantile is right only where both sides' samples
    /// are single turns. A connection that stays open (a pooled upstream, a
    /// keep-alive app) reports the sum of its turns per interval, so that
    /// side's samples are means: a median of means is near the mean, and an
    /// app's median less an upstream's mean is off by how skewed the
    /// upstream is (the median of an upstream that answers 90 requests in
    /// 1 ms and 10 in 50 ms is 1 ms, its mean 5.9 ms). Both sides are then
    /// read as means: the same requests' time replied less their time
    /// upstream is their mean time in the sidecar.
    fn added(&mut self, q: f64) -> Option<u64> {
        for samples in [&mut self.answered, &mut self.asked, &mut self.woke] {
            samples.sort_unstable();
        }
        let woke = latest(&self.woke, &self.woke_before);
        // None seen yet (the first hops have not closed at both ends): none counted.
        let woke = quantile(woke, q).unwrap_or(0);
        let asked = self.asked_or_before();
        let held = if self.turn_by_turn() {
            quantile(&self.answered, q)?.saturating_sub(quantile(asked, q)?)
        } else {
            mean(&self.answered)?.saturating_sub(mean(asked)?)
        };
        Some(held + 2 * woke)
    }

    fn asked_or_before(&self) -> &[(u64, u64)] {
        latest(&self.asked, &self.asked_before)
    }

    /// Whether every sample on both sides is one turn, so that quantiles
    /// are requests' own; else only means are known, and no 99th percentile.
    fn turn_by_turn(&self) -> bool {
        [&self.answered[..], self.asked_or_before()].iter().all(|samples| samples.iter().all(|(_, n)| *n == 1))
    }

    /// The interval is billed: its samples go, its wake-ups and exchanges
    /// upstream are kept if it had any.
    fn next_interval(&mut self) {
        self.answered.clear();
        keep_if_any(&mut self.asked, &mut self.asked_before);
        keep_if_any(&mut self.woke, &mut self.woke_before);
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

/// This interval's samples, or the last interval's that had any.
fn latest<'a>(now: &'a [(u64, u64)], before: &'a [(u64, u64)]) -> &'a [(u64, u64)] {
    if now.is_empty() { before } else { now }
}

/// At an interval's end: its samples, if it had any, become the ones kept.
fn keep_if_any(now: &mut Vec<(u64, u64)>, before: &mut Vec<(u64, u64)>) {
    if !now.is_empty() {
        *before = std::mem::take(now);
    }
}

/// The mean of weighted samples.
fn mean(samples: &[(u64, u64)]) -> Option<u64> {
    let total: u64 = samples.iter().map(|(_, w)| w).sum();
    (total > 0).then(|| (samples.iter().map(|(v, w)| *v as u128 * *w as u128).sum::<u128>() / total as u128) as u64)
}

/// Both directions' estimates, weighted by the requests behind each.
fn added_both_ways(outbound: &mut RelaySamples, inbound: &mut RelaySamples, q: f64) -> Option<u64> {
    let parts: Vec<(u64, u64)> =
        [outbound, inbound].into_iter().filter_map(|samples| Some((samples.added(q)?, samples.requests()))).collect();
    let requests: u64 = parts.iter().map(|(_, n)| n).sum();
    (requests > 0).then(|| (parts.iter().map(|(ns, n)| *ns as u128 * *n as u128).sum::<u128>() / requests as u128) as u64)
}

impl Latency {
    /// A connection of the sidecar's closed with these `turns`: one it
    /// `connected` (else accepted), whose other end is a `sibling` container
    /// of the pod or, where it `leaves_pod`, outside it; a hop is known by
    /// its `connector`'s address.
    pub(super) fn sidecar_closed(&mut self, turns: Turns, connected: bool, sibling: bool, leaves_pod: bool, connector: SocketAddr) {
        // Outbound it answers its siblings and asks out of the pod; inbound, the reverse.
        match (connected, sibling) {
            (false, true) => {
                sample(&mut self.outbound.answered, turns.replies, turns.reply_ns);
                self.hop_closed(connector, HopEnd { turns, side: HopSide::Sidecar, connected, waited: 0 });
            }
            (true, false) if leaves_pod => sample(&mut self.outbound.asked, turns.exchanges, turns.exchange_ns),
            (false, false) if leaves_pod => sample(&mut self.inbound.answered, turns.replies, turns.reply_ns),
            (true, true) => {
                sample(&mut self.inbound.asked, turns.exchanges, turns.exchange_ns);
                self.hop_closed(connector, HopEnd { turns, side: HopSide::Sidecar, connected, waited: 0 });
            }
            _ => {}
        }
    }

    /// Another container's connection to or from the sidecar closed.
    pub(super) fn sibling_closed(&mut self, turns: Turns, connected: bool, connector: SocketAddr) {
        self.hop_closed(connector, HopEnd { turns, side: HopSide::Sibling, connected, waited: 0 });
    }

    /// One end of a hop between the sidecar and a sibling closed: with the
    /// other end's, it tells how long the sidecar took to wake to the sibling.
    fn hop_closed(&mut self, connector: SocketAddr, end: HopEnd) {
        let other = match self.hops.remove(&connector) {
            Some(other) if other.side != end.side => other,
            _ => {
                if self.hops.len() >= MAX_HOPS {
                    return; // more hops closing at once than are followed: this one's wake-ups go unseen
                }
                self.hops.insert(connector, end);
                return;
            }
        };
        let (sidecar, sibling) = if end.side == HopSide::Sidecar { (end, other) } else { (other, end) };
        // The connecting end asks: outbound the sibling, inbound the sidecar.
        if sibling.connected {
            if let Some(wakes) = Turns::wakes(&sibling.turns, &sidecar.turns) {
                sample(&mut self.outbound.woke, sibling.turns.exchanges, wakes.to_request_ns);
            }
        } else if let Some(wakes) = Turns::wakes(&sidecar.turns, &sibling.turns) {
            sample(&mut self.inbound.woke, sidecar.turns.exchanges, wakes.to_reply_ns);
        }
    }

    /// The estimate over the interval since the last bill, whose requests
    /// made `exchanges` exchanges through the sidecar (p50 from p50s, p99
    /// from p99s, where every side's samples are single turns; else p50
    /// from means and no p99); the next interval starts.
    pub(super) fn bill(&mut self, exchanges: u64) -> Option<AddedLatency> {
        let enough = exchanges >= P99_MIN_EXCHANGES && self.outbound.turn_by_turn() && self.inbound.turn_by_turn();
        let mut added = |q: f64| added_both_ways(&mut self.outbound, &mut self.inbound, q);
        let added_latency = added(0.5).map(|p50_ns| AddedLatency { p50_ns, p99_ns: if enough { added(0.99) } else { None } });
        self.outbound.next_interval();
        self.inbound.next_interval();
        self.hops.retain(|_, end| {
            end.waited += 1;
            end.waited <= HOP_WAIT_BILLS
        });
        added_latency
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Host;
    use crate::sidecars::testing::{addr, asked, closed, member, turn, MS};
    use crate::sidecars::{Closed, Flow, SidecarFinder};

    #[test]
    fn weighted_quantiles() {
        let samples = [(10, 8), (20, 1), (30, 1)];
        assert_eq!(quantile(&samples, 0.5), Some(10));
        assert_eq!(quantile(&samples, 0.85), Some(20));
        assert_eq!(quantile(&samples, 0.99), Some(30));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn both_ends_of_a_connection_tell_how_long_each_took_to_wake() {
        // Times past half the clock's range: sums of two wrap, their differences do not.
        let t0 = u64::MAX / 2 + MS;
        let (app, proxy) = turn(t0, t0 + MS / 10, t0 + 24 * MS, t0 + 27 * MS);
        assert_eq!(Turns::wakes(&app, &proxy), Some(Wakes { to_request_ns: MS / 10, to_reply_ns: 3 * MS }));
        let (app2, proxy2) = turn(t0 + 30 * MS, t0 + 31 * MS, t0 + 32 * MS, t0 + 34 * MS);
        let sum = |a: Turns, b: Turns| Turns {
            exchanges: a.exchanges + b.exchanges,
            exchange_ns: a.exchange_ns + b.exchange_ns,
            asked_at_sum: a.asked_at_sum.wrapping_add(b.asked_at_sum),
            replies: a.replies + b.replies,
            reply_ns: a.reply_ns + b.reply_ns,
            heard_at_sum: a.heard_at_sum.wrapping_add(b.heard_at_sum),
        };
        assert_eq!(Turns::wakes(&sum(app, app2), &sum(proxy, proxy2)), Some(Wakes { to_request_ns: MS / 10 + MS, to_reply_ns: 3 * MS + 2 * MS }));
        assert_eq!(Turns::wakes(&sum(app, app2), &proxy), None, "two exchanges, one reply: no pairs");
        // Pairs that do not match (a pipelined request): a negative wake, refused.
        let (_, early) = turn(0, t0 - MS, t0 - MS / 2, 0);
        assert_eq!(Turns::wakes(&app, &early), None);
        // A reader that preempted the sender on its CPU, timed 2 µs before the send returned: no wait.
        let (app, proxy) = turn(t0, t0 - 2_000, t0 + MS, t0 + MS + 3_000);
        assert_eq!(Turns::wakes(&app, &proxy), Some(Wakes { to_request_ns: 0, to_reply_ns: 3_000 }));
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

    /// Turns as one open connection reports them in a progress record.
    fn progress(turns: Turns, local: SocketAddr) -> Flow {
        Flow::Progress(Closed { tx_bytes: 1, rx_bytes: 1, turns, connected: true, local })
    }

    #[test]
    fn a_pooled_upstreams_summed_turns_pair_with_the_apps_as_means() {
        let (app, relay, backend) = (member("web", "app"), member("web", "mesh"), member("api", "api"));
        let mut finder = SidecarFinder::new(None);
        let (local, out, pooled) = (addr("127.0.0.1:15001"), addr("10.244.0.20:8080"), addr("10.244.0.10:41000"));
        finder.connection(Flow::Accept, &relay, "relay", Some(&app), false, addr("127.0.0.1:40000"));
        finder.connection(Flow::Connect, &relay, "relay", Some(&backend), true, out);
        // Short app connections, each request held 10 ms by the proxy and
        // passed on over one upstream connection that stays open, which
        // answers 9 in 10 in 1 ms and the rest in 50 ms.
        let mut requests = |finder: &mut SidecarFinder, from: u64, to: u64| {
            let mut upstream = Turns::default();
            for i in from..to {
                let up = if i % 10 == 0 { 50 * MS } else { MS };
                let (at, app_addr) = (i * 100 * MS, addr(&format!("127.0.0.1:{}", 40000 + i)));
                let (app_turns, relay_turns) = turn(at, at, at + 10 * MS + up, at + 10 * MS + up);
                finder.connection(closed(app_turns, true, app_addr), &app, "app", Some(&relay), false, local);
                finder.connection(closed(relay_turns, false, local), &relay, "relay", Some(&app), false, app_addr);
                upstream.exchanges += 1;
                upstream.exchange_ns += up;
            }
            upstream
        };
        let bill = |finder: &mut SidecarFinder| finder.bills(&Host::at("/nonexistent"), 1.0).remove(0).1;
        // The first interval: its upstream turns are reported in the next one.
        let first = requests(&mut finder, 0, 100);
        assert_eq!(bill(&mut finder).added_latency, None, "nothing upstream reported yet: no estimate");
        finder.connection(progress(first, pooled), &relay, "relay", Some(&backend), true, out);
        let second = requests(&mut finder, 100, 200);
        // The app's median (11 ms) less the upstream's mean (5.9 ms) would
        // bill 5.1 ms; the means bill the 10 ms. No p99 from means.
        let billed = bill(&mut finder);
        assert_eq!(billed.relayed.exchanges, 100);
        assert_eq!(billed.added_latency, Some(AddedLatency { p50_ns: 10 * MS, p99_ns: None }));
        finder.connection(progress(second, pooled), &relay, "relay", Some(&backend), true, out);
        requests(&mut finder, 200, 220);
        assert_eq!(bill(&mut finder).added_latency, Some(AddedLatency { p50_ns: 10 * MS, p99_ns: None }));
        // The traffic pauses after an interval whose upstream turns the
        // pooled connection would report at its next send: the last reported stand in.
        requests(&mut finder, 220, 240);
        assert_eq!(bill(&mut finder).added_latency, Some(AddedLatency { p50_ns: 10 * MS, p99_ns: None }));
        assert_eq!(bill(&mut finder).added_latency, None, "no request, no estimate");
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
}
