//! The DNS names a pod resolved, as the TUI's drill-down shows them, from
//! the `dns` records: per name since start, how often the pod asked, what
//! the answers said (the first address, NXDOMAIN, another error, nothing),
//! and how long they took; and, for a pod that answers lookups (a
//! resolver), how many it served. Bounded like the requests' endpoints: a
//! pod that looks up a million names once each costs the model 256 of them.

use std::collections::HashMap;
use std::net::IpAddr;

use super::observation::Lookup;
use super::requests::Latencies;
use crate::l7::exchanges::Role;

/// Names kept per pod; past that, the one looked up the fewest times goes.
const MAX_NAMES: usize = 256;
/// Query types listed per name (A and AAAA, mostly).
const MAX_QTYPES: usize = 4;

/// Lookups counted together: how many, how they ended, how long they took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameTally {
    /// Queries, answered or not.
    pub lookups: u64,
    /// Answered NXDOMAIN: the name does not exist.
    pub nxdomain: u64,
    /// Answered with another error (SERVFAIL, REFUSED, ...).
    pub errors: u64,
    /// No answer within 5 s, or asked again before it came.
    pub unanswered: u64,
    /// Of the answered ones.
    pub latencies: Latencies,
    /// The types asked for, in the order first asked.
    pub qtypes: Vec<String>,
    /// The first address of the latest answer that had one, and how many more that answer had.
    pub answer: Option<(IpAddr, usize)>,
}

impl NameTally {
    fn add(&mut self, l: &Lookup) {
        self.lookups += 1;
        match l.rcode.as_deref() {
            None => self.unanswered += 1,
            Some("NOERROR") => {}
            Some("NXDOMAIN") => self.nxdomain += 1,
            Some(_) => self.errors += 1,
        }
        if let Some(ns) = l.latency_ns {
            self.latencies.record(ns);
        }
        if !self.qtypes.contains(&l.qtype) && self.qtypes.len() < MAX_QTYPES {
            self.qtypes.push(l.qtype.clone());
        }
        // An empty answer (no AAAA for an IPv4-only name) keeps the address an earlier one gave.
        if let Some(first) = l.answers.first() {
            self.answer = Some((*first, l.answers.len() - 1));
        }
    }

    pub fn p50(&self) -> Option<u64> {
        self.latencies.quantile(0.5)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Lookups {
    /// The names the pod asked for (its client lookups), since start.
    names: HashMap<String, NameTally>,
    /// The lookups it answered (a resolver in the pod), since start, all names together.
    pub served: NameTally,
}

impl Lookups {
    pub fn add(&mut self, l: &Lookup) {
        if l.role == Role::Server {
            self.served.add(l);
            // A resolver's names are its clients' business; its tally does not list them.
            self.served.qtypes.clear();
            self.served.answer = None;
            return;
        }
        if !self.names.contains_key(&l.qname) && self.names.len() >= MAX_NAMES {
            // The fewest lookups go first; of those, the last by name, so that the choice is the same every run.
            let fewest = self.names.iter().min_by(|a, b| a.1.lookups.cmp(&b.1.lookups).then(b.0.cmp(a.0))).map(|(k, _)| k.clone());
            if let Some(fewest) = fewest {
                self.names.remove(&fewest);
            }
        }
        self.names.entry(l.qname.clone()).or_default().add(l);
    }

    /// Names by lookups since start, most first; of as many, A to Z.
    pub fn top_names(&self) -> Vec<(&String, &NameTally)> {
        let mut names: Vec<_> = self.names.iter().collect();
        names.sort_by(|a, b| b.1.lookups.cmp(&a.1.lookups).then(a.0.cmp(b.0)));
        names
    }

    /// Whether any lookup was seen at all, at either end.
    pub fn any(&self) -> bool {
        !self.names.is_empty() || self.served.lookups > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(role: Role, qname: &str, qtype: &str, rcode: Option<&str>, answers: &[&str], latency_ns: Option<u64>) -> Lookup {
        Lookup {
            role,
            qname: qname.into(),
            qtype: qtype.into(),
            rcode: rcode.map(str::to_string),
            answers: answers.iter().map(|a| a.parse().unwrap()).collect(),
            latency_ns,
            remote: Some("10.96.0.10:53".parse().unwrap()),
        }
    }

    #[test]
    fn a_name_counts_its_lookups_and_how_they_ended() {
        let mut l = Lookups::default();
        l.add(&lookup(Role::Client, "api.test", "A", Some("NOERROR"), &["10.0.0.7", "10.0.0.8"], Some(1_000_000)));
        // Its AAAA answer is empty: the address stays.
        l.add(&lookup(Role::Client, "api.test", "AAAA", Some("NOERROR"), &[], Some(2_000_000)));
        l.add(&lookup(Role::Client, "api.test", "A", Some("SERVFAIL"), &[], Some(3_000_000)));
        l.add(&lookup(Role::Client, "api.test", "A", None, &[], None));
        l.add(&lookup(Role::Client, "gone.test", "A", Some("NXDOMAIN"), &[], Some(500_000)));
        let top = l.top_names();
        assert_eq!(top.len(), 2);
        let (name, t) = top[0];
        assert_eq!((name.as_str(), t.lookups, t.nxdomain, t.errors, t.unanswered), ("api.test", 4, 0, 1, 1));
        assert_eq!(t.answer, Some(("10.0.0.7".parse().unwrap(), 1)));
        assert_eq!(t.qtypes, ["A", "AAAA"]);
        assert_eq!((t.latencies.count(), t.p50()), (3, Some(2_000_000)), "the unanswered one has no latency");
        assert_eq!((top[1].0.as_str(), top[1].1.nxdomain, top[1].1.answer), ("gone.test", 1, None));
        assert_eq!(l.served, NameTally::default(), "a client's lookups are not served ones");
    }

    #[test]
    fn a_resolvers_answers_count_apart_from_its_own_lookups() {
        let mut l = Lookups::default();
        l.add(&lookup(Role::Server, "api.test", "A", Some("NOERROR"), &["10.0.0.7"], Some(100_000)));
        l.add(&lookup(Role::Server, "gone.test", "A", Some("NXDOMAIN"), &[], Some(100_000)));
        assert!(l.top_names().is_empty() && l.any());
        assert_eq!((l.served.lookups, l.served.nxdomain, l.served.answer), (2, 1, None));
    }

    #[test]
    fn names_are_bounded_and_the_busiest_stay() {
        let mut l = Lookups::default();
        for _ in 0..3 {
            l.add(&lookup(Role::Client, "busy.test", "A", Some("NOERROR"), &["10.0.0.1"], Some(1_000)));
        }
        for i in 0..1000 {
            l.add(&lookup(Role::Client, &format!("n{i}.test"), "A", Some("NXDOMAIN"), &[], Some(1_000)));
        }
        assert_eq!(l.names.len(), MAX_NAMES);
        let top = l.top_names();
        assert_eq!((top[0].0.as_str(), top[0].1.lookups), ("busy.test", 3));
        assert!(top.iter().any(|(n, _)| *n == "n999.test"), "the newest has its place");
    }
}
