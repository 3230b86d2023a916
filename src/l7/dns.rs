//! DNS messages (RFC 1035) from the payload of a UDP datagram: the header,
//! the first question, and the answers podtop reports (A, AAAA, CNAME).
//! Names may be compressed (pointers back into the message); every read is
//! bounds-checked and pointer chains are bounded, so hostile input ends in
//! `None`, never a panic or a loop.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const HEADER: usize = 12;
/// Labels followed through compression pointers, at most (a name has at most 127).
const MAX_LABELS: usize = 128;
/// Answers kept per message.
pub const MAX_ANSWERS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: u16,
    /// A response (QR set); a query otherwise.
    pub is_response: bool,
    pub rcode: u8,
    pub qname: String,
    pub qtype: u16,
    pub answers: Vec<Answer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Address(IpAddr),
    Cname(String),
}

/// The type's name as dig writes it, or TYPE<n>.
pub fn qtype_name(qtype: u16) -> String {
    match qtype {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        65 => "HTTPS".into(),
        255 => "ANY".into(),
        n => format!("TYPE{n}"),
    }
}

/// The response code's name (RFC 1035, 2136), or RCODE<n>.
pub fn rcode_name(rcode: u8) -> String {
    match rcode {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => format!("RCODE{n}"),
    }
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

/// The name at `at`, and where the bytes after it (in place, not behind a pointer) begin.
fn name_at(msg: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    for _ in 0..MAX_LABELS {
        let len = *msg.get(at)? as usize;
        match len {
            0 => {
                if name.is_empty() {
                    name.push('.');
                }
                return Some((name, end.unwrap_or(at + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let pointer = usize::from(u16_at(msg, at)? & 0x3fff);
                end.get_or_insert(at + 2);
                if pointer >= msg.len() {
                    return None;
                }
                at = pointer;
            }
            l if l & 0xc0 != 0 => return None, // the reserved label types
            l => {
                let label = msg.get(at + 1..at + 1 + l)?;
                if !name.is_empty() {
                    name.push('.');
                }
                // Names are bytes; the printable ones are kept, the rest escaped as dig does.
                for &b in label {
                    if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                        name.push(b as char);
                    } else {
                        name.push_str(&format!("\\{b:03}"));
                    }
                }
                at += 1 + l;
            }
        }
    }
    None
}

/// A DNS message with exactly one question (what resolvers send), or None.
pub fn parse(msg: &[u8]) -> Option<Message> {
    if msg.len() < HEADER {
        return None;
    }
    let id = u16_at(msg, 0)?;
    let flags = u16_at(msg, 2)?;
    let (questions, answers) = (u16_at(msg, 4)?, u16_at(msg, 6)?);
    let opcode = (flags >> 11) & 0xf;
    if questions != 1 || opcode != 0 {
        return None;
    }
    let (qname, after) = name_at(msg, HEADER)?;
    let qtype = u16_at(msg, after)?;
    u16_at(msg, after + 2)?; // the class: there, whatever it is
    let mut at = after + 4;
    let mut found = Vec::new();
    for _ in 0..answers {
        // A truncated answer section ends the list; what came before stands.
        let Some((_, after_name)) = name_at(msg, at) else { break };
        let (Some(rtype), Some(rdlength)) = (u16_at(msg, after_name), u16_at(msg, after_name + 8)) else { break };
        let rdata_at = after_name + 10;
        let Some(rdata) = msg.get(rdata_at..rdata_at + usize::from(rdlength)) else { break };
        let answer = match (rtype, rdata.len()) {
            (1, 4) => Some(Answer::Address(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(rdata).ok()?)))),
            (28, 16) => Some(Answer::Address(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(rdata).ok()?)))),
            (5, _) => name_at(msg, rdata_at).map(|(cname, _)| Answer::Cname(cname)),
            _ => None,
        };
        if let Some(answer) = answer {
            if found.len() < MAX_ANSWERS {
                found.push(answer);
            }
        }
        at = rdata_at + usize::from(rdlength);
    }
    Some(Message { id, is_response: flags & 0x8000 != 0, rcode: (flags & 0xf) as u8, qname, qtype, answers: found })
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A query for `name`, type `qtype`, id `id`, as a stub resolver sends it.
    pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        for label in name.split('.').filter(|l| !l.is_empty()) {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m
    }

    /// Its answer: `rcode`, and records whose names point back at the question.
    pub fn answer(id: u16, name: &str, qtype: u16, rcode: u8, records: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut m = query(id, name, qtype);
        m[2] = 0x81;
        m[3] = 0x80 | rcode;
        m[7] = records.len() as u8;
        for (rtype, rdata) in records {
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&rtype.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(rdata);
        }
        m
    }

    #[test]
    fn a_query_and_its_answers() {
        let q = parse(&query(0x1234, "api.shop.test", 1)).unwrap();
        assert_eq!((q.id, q.is_response, q.qname.as_str(), q.qtype, q.answers.len()), (0x1234, false, "api.shop.test", 1, 0));
        let cname = vec![3, b'w', b'e', b'b', 0xc0, 12];
        let a = parse(&answer(0x1234, "api.shop.test", 1, 0, &[(5, cname), (1, vec![10, 0, 0, 7]), (1, vec![10, 0, 0, 8])])).unwrap();
        assert!(a.is_response);
        assert_eq!(a.rcode, 0);
        assert_eq!(
            a.answers,
            vec![
                Answer::Cname("web.api.shop.test".into()),
                Answer::Address("10.0.0.7".parse().unwrap()),
                Answer::Address("10.0.0.8".parse().unwrap())
            ]
        );
        let six = parse(&answer(7, "v6.test", 28, 0, &[(28, "fd00::1".parse::<Ipv6Addr>().unwrap().octets().to_vec())])).unwrap();
        assert_eq!(six.answers, vec![Answer::Address("fd00::1".parse().unwrap())]);
        let nx = parse(&answer(8, "missing.test", 1, 3, &[])).unwrap();
        assert_eq!((rcode_name(nx.rcode).as_str(), qtype_name(nx.qtype).as_str()), ("NXDOMAIN", "A"));
        assert_eq!(parse(&query(1, ".", 2)).unwrap().qname, ".");
    }

    #[test]
    fn hostile_messages_end_in_none_or_a_partial_answer() {
        // A pointer to itself: bounded.
        let mut looped = query(1, "a.test", 1);
        looped.truncate(HEADER);
        looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(parse(&looped), None);
        // A pointer past the end.
        let mut past = query(1, "a.test", 1);
        past.truncate(HEADER);
        past.extend_from_slice(&[0xc0, 0xff, 0, 1, 0, 1]);
        assert_eq!(parse(&past), None);
        // Two questions, or an opcode other than QUERY: not what podtop reports.
        let mut two = query(1, "a.test", 1);
        two[5] = 2;
        assert_eq!(parse(&two), None);
        let mut update = query(1, "a.test", 1);
        update[2] |= 5 << 3;
        assert_eq!(parse(&update), None);
        // An answer count larger than what follows: the answers that are there.
        let mut short = answer(2, "a.test", 1, 0, &[(1, vec![1, 2, 3, 4])]);
        short[7] = 9;
        assert_eq!(parse(&short).unwrap().answers, vec![Answer::Address("1.2.3.4".parse().unwrap())]);
        // Every prefix of a real answer parses or not, without panicking.
        let full = answer(3, "x.y.test", 1, 0, &[(1, vec![1, 2, 3, 4])]);
        for end in 0..full.len() {
            let _ = parse(&full[..end]);
        }
        assert_eq!(parse(&query(1, "we\u{1}ird", 1)).unwrap().qname, "we\\001ird");
    }
}
