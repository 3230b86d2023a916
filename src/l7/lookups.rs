//! DNS queries paired with their answers, per end, from the payload records
//! of UDP datagrams to and from DNS ports. A client sends a query and
//! receives its answer; a server receives a query and sends its answer.
//!
//! Sockets of resolvers are often unconnected (a server's always): the
//! datagram a process receives names no peer when the kernel ships it. So a
//! pair is found by what both messages carry, not by the socket: the local
//! port in its network namespace, the role, the message id, and the question.

use std::net::IpAddr;
use std::num::NonZeroUsize;


use super::dns::{self, Answer, Message};
use super::exchanges::Role;
use crate::events::{ip_of, PayloadEvent};

/// Queries awaiting their answer at once; the oldest is reported unanswered first.
const MAX_OPEN: usize = 16_384;

/// One query and its answer, as one end saw them.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The query's record: who, where, when.
    pub first: PayloadEvent,
    /// The other end's address and port, from whichever datagram named it
    /// (an unconnected socket's received datagram names none).
    pub remote: Option<(IpAddr, u16)>,
    pub role: Role,
    pub query: Message,
    /// None: no answer came in time.
    pub answer: Option<Message>,
    pub query_bytes: u64,
    pub answer_bytes: u64,
    /// From the query to its answer, as this end saw them.
    pub latency_ns: Option<u64>,
}

impl Lookup {
    /// The answer's addresses (A and AAAA records), in its order.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.answer.iter().flat_map(|m| &m.answers).filter_map(|a| match a {
            Answer::Address(ip) => Some(*ip),
            Answer::Cname(_) => None,
        })
    }

    /// The names of its CNAME records, in its order.
    pub fn cnames(&self) -> impl Iterator<Item = &str> + Clone + '_ {
        self.answer.iter().flat_map(|m| &m.answers).filter_map(|a| match a {
            Answer::Cname(name) => Some(name.as_str()),
            Answer::Address(_) => None,
        })
    }
}

/// (socket's netns, local port, role, id, qtype, lower-case qname).
type Key = (u32, u16, Role, u16, u16, String);

pub struct DnsTracker {
    open: crate::bounded::Table<Key, Lookup>,
}

impl Default for DnsTracker {
    fn default() -> Self {
        DnsTracker::following(NonZeroUsize::new(MAX_OPEN).expect("not zero"))
    }
}

fn remote_of(e: &PayloadEvent) -> Option<(IpAddr, u16)> {
    (e.dport != 0).then(|| (ip_of(&e.daddr, e.family), e.dport))
}

impl DnsTracker {
    pub fn size(&self) -> crate::bounded::TableSize {
        self.open.size()
    }

    fn following(open: NonZeroUsize) -> Self {
        DnsTracker { open: crate::bounded::Table::new("dns_lookups", open.get()) }
    }

    /// One datagram; finished lookups go to `done`. What is not a DNS
    /// message with one question is left alone.
    pub fn datagram(&mut self, e: &PayloadEvent, data: &[u8], done: &mut Vec<Lookup>) {
        let Some(message) = dns::parse(data) else { return };
        let tx = e.tx != 0;
        // A query sent, or an answer received: this end asked.
        let role = if message.is_response != tx { Role::Client } else { Role::Server };
        let key: Key = (e.sock_netns, e.sport, role, message.id, message.qtype, message.qname.to_ascii_lowercase());
        if !message.is_response {
            let lookup = Lookup {
                first: *e,
                remote: remote_of(e),
                role,
                query: message,
                answer: None,
                query_bytes: e.bytes,
                answer_bytes: 0,
                latency_ns: None,
            };
            // The same question again before its answer: a retry; the first went unanswered.
            if let Some((_, unanswered)) = self.open.push(key, lookup) {
                done.push(unanswered);
            }
            return;
        }
        // An answer to nothing asked since podtop started: not reported.
        let Some(mut lookup) = self.open.pop(&key) else { return };
        lookup.remote = lookup.remote.or_else(|| remote_of(e));
        lookup.answer_bytes = e.bytes;
        lookup.latency_ns = Some(e.hdr.boot_ns.saturating_sub(lookup.first.hdr.boot_ns));
        lookup.answer = Some(message);
        done.push(lookup);
    }

    /// Queries older than `timeout_ns` at `now_ns` (boot time): reported unanswered.
    pub fn expired(&mut self, now_ns: u64, timeout_ns: u64, done: &mut Vec<Lookup>) {
        while let Some((_, oldest)) = self.open.peek_lru() {
            if now_ns.saturating_sub(oldest.first.hdr.boot_ns) < timeout_ns {
                break;
            }
            done.extend(self.open.pop_lru().map(|(_, lookup)| lookup));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l7::dns::tests::{answer, query};

    fn datagram(tx: bool, at_ns: u64, sport: u16, dport: u16, bytes: usize) -> PayloadEvent {
        let mut e = PayloadEvent::default();
        e.hdr.boot_ns = at_ns;
        e.tx = tx.into();
        e.sport = sport;
        e.dport = dport;
        e.family = libc::AF_INET as u16;
        e.daddr[..4].copy_from_slice(&[10, 0, 0, 53]);
        e.sock_netns = 7;
        e.bytes = bytes as u64;
        e
    }

    #[test]
    fn a_client_pairs_answers_by_id_and_question_whatever_their_order() {
        let mut t = DnsTracker::default();
        let mut done = Vec::new();
        let (qa, qaaaa) = (query(0x1111, "api.test", 1), query(0x2222, "api.test", 28));
        t.datagram(&datagram(true, 1_000, 40000, 53, qa.len()), &qa, &mut done);
        t.datagram(&datagram(true, 1_100, 40000, 53, qaaaa.len()), &qaaaa, &mut done);
        let six = answer(0x2222, "API.test", 28, 0, &[(28, "fd00::7".parse::<std::net::Ipv6Addr>().unwrap().octets().to_vec())]);
        let four = answer(0x1111, "api.test", 1, 0, &[(1, vec![10, 0, 0, 7])]);
        t.datagram(&datagram(false, 5_000, 40000, 53, six.len()), &six, &mut done);
        t.datagram(&datagram(false, 9_000, 40000, 53, four.len()), &four, &mut done);
        assert_eq!(done.len(), 2);
        let (l6, l4) = (&done[0], &done[1]);
        assert_eq!((l6.role, l6.query.qtype, l6.latency_ns), (Role::Client, 28, Some(3_900)));
        assert_eq!(l6.answer.as_ref().unwrap().answers, vec![Answer::Address("fd00::7".parse().unwrap())]);
        assert_eq!((l4.query.qtype, l4.latency_ns, l4.query_bytes, l4.answer_bytes), (1, Some(8_000), qa.len() as u64, four.len() as u64));
        assert_eq!(l4.remote, Some(("10.0.0.53".parse().unwrap(), 53)));
    }

    #[test]
    fn a_server_takes_its_peer_from_the_answer_it_sends() {
        let mut t = DnsTracker::default();
        let mut done = Vec::new();
        let q = query(9, "missing.test", 1);
        // Received on an unconnected socket: no peer named.
        t.datagram(&datagram(false, 100, 53, 0, q.len()), &q, &mut done);
        let nx = answer(9, "missing.test", 1, 3, &[]);
        t.datagram(&datagram(true, 400, 53, 41000, nx.len()), &nx, &mut done);
        assert_eq!(done.len(), 1);
        assert_eq!((done[0].role, done[0].answer.as_ref().unwrap().rcode, done[0].latency_ns), (Role::Server, 3, Some(300)));
        assert_eq!(done[0].remote, Some(("10.0.0.53".parse().unwrap(), 41000)));
    }

    #[test]
    fn unanswered_queries_end_at_their_timeout_and_retries_end_the_first_try() {
        let mut t = DnsTracker::default();
        let mut done = Vec::new();
        let q = query(5, "slow.test", 1);
        t.datagram(&datagram(true, 1_000, 40000, 53, q.len()), &q, &mut done);
        t.datagram(&datagram(true, 2_000, 40000, 53, q.len()), &q, &mut done);
        assert_eq!(done.len(), 1, "the retry reports the first try unanswered");
        assert!(done[0].answer.is_none() && done[0].latency_ns.is_none());
        t.expired(3_000, 5_000, &mut done);
        assert_eq!(done.len(), 1);
        t.expired(7_000, 5_000, &mut done);
        assert_eq!(done.len(), 2);
        // Not DNS, or an answer to nothing asked: nothing.
        t.datagram(&datagram(false, 8_000, 40000, 53, 4), b"\x01\x02\x03\x04", &mut done);
        let stray = answer(77, "x.test", 1, 0, &[]);
        t.datagram(&datagram(false, 8_000, 40000, 53, stray.len()), &stray, &mut done);
        assert_eq!(done.len(), 2);
    }

    #[test]
    fn a_full_table_reports_its_oldest_query_unanswered() {
        let mut t = DnsTracker::following(NonZeroUsize::new(2).unwrap());
        let mut done = Vec::new();
        for id in 1..=3u16 {
            let q = query(id, "a.test", 1);
            t.datagram(&datagram(true, u64::from(id), 40000, 53, q.len()), &q, &mut done);
        }
        assert_eq!(done.iter().map(|l| l.query.id).collect::<Vec<_>>(), vec![1]);
    }
}
