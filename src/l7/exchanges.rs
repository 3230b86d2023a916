//! HTTP/1 requests paired with their responses, per connection end, from the
//! payload records of its reads and writes (in the order the kernel saw
//! them). A client writes a request and reads its response; a server reads
//! a request and writes its response. Keep-alive connections carry many
//! exchanges, one after the other: a new request ends the one before it, and
//! so do the connection's close and a long silence after its response began.

use std::num::NonZeroUsize;


use super::grpc::GrpcCall;
use super::http::{self, RequestHead, ResponseHead};
use crate::events::PayloadEvent;

/// Connections followed at once; the least recently active is forgotten first.
const MAX_CONNECTIONS: usize = 16_384;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Client,
    Server,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }

    /// Whether a write (tx) on this end carries the request.
    fn sends_request(self) -> bool {
        self == Role::Client
    }
}

/// One request and its response, as one end of a connection saw them.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The record of the request's first bytes: who, where, when.
    pub first: PayloadEvent,
    pub role: Role,
    pub request: RequestHead,
    /// None: no status line came (the connection closed, or the response was not HTTP/1).
    pub response: Option<ResponseHead>,
    /// Bytes of the request (head and body) and of the response, as the syscalls moved them.
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// From the request's last bytes to the response's first, as this end saw them.
    pub latency_ns: Option<u64>,
    /// HTTP/2's `:authority` (HTTP/1's Host header is not read).
    pub authority: Option<String>,
    /// A gRPC call: its service, method and status.
    pub grpc: Option<GrpcCall>,
    /// An HTTP/2 stream ended by RST_STREAM (its error's name) or refused by GOAWAY.
    pub reset: Option<&'static str>,
    /// Its heads could not be read (HTTP/2: the connection's header
    /// compression state was lost): its method and path are `*`.
    pub heads_lost: bool,
}

#[derive(Debug)]
struct Open {
    exchange: Exchange,
    last_request_ns: u64,
    first_response_ns: Option<u64>,
    last_seen_ns: u64,
}

impl Open {
    fn finish(mut self) -> Exchange {
        self.exchange.latency_ns = self.first_response_ns.map(|first| first.saturating_sub(self.last_request_ns));
        self.exchange
    }
}

#[derive(Debug, Default)]
struct Connection {
    role: Option<Role>,
    open: Option<Open>,
}

pub struct HttpTracker {
    connections: crate::bounded::Table<u64, Connection>,
}

impl Default for HttpTracker {
    fn default() -> Self {
        HttpTracker::following(NonZeroUsize::new(MAX_CONNECTIONS).expect("not zero"))
    }
}

impl HttpTracker {
    pub fn size(&self) -> crate::bounded::TableSize {
        self.connections.size()
    }

    /// A tracker of at most `connections` connections at once.
    fn following(connections: NonZeroUsize) -> Self {
        HttpTracker { connections: crate::bounded::Table::new("http_connections", connections.get()) }
    }

    /// One read or write of a connection that carries HTTP; finished exchanges go to `done`.
    pub fn payload(&mut self, e: &PayloadEvent, data: &[u8], done: &mut Vec<Exchange>) {
        let tx = e.tx != 0;
        let now = e.hdr.boot_ns;
        let captured_all = u64::from(e.captured) >= e.bytes;
        if !self.connections.contains(&e.cookie) && self.connections.len() == self.connections.cap().get() {
            // The least recently active connection makes room: its exchange in
            // progress ends now, reported as far as it went, never dropped unseen.
            if let Some(open) = self.connections.evict_lru().and_then(|(_, c)| c.open) {
                done.push(open.finish());
            }
        }
        let conn = self.connections.get_or_insert_mut(e.cookie, Connection::default);
        if let Some(request) = http::parse_request(data, captured_all) {
            let role = *conn.role.get_or_insert(if tx { Role::Client } else { Role::Server });
            if role.sends_request() != tx {
                return; // a request's bytes the wrong way: a proxy's echo, not ours to pair
            }
            if let Some(open) = conn.open.take() {
                done.push(open.finish());
            }
            conn.open = Some(Open {
                exchange: Exchange {
                    first: *e,
                    role,
                    request,
                    response: None,
                    request_bytes: e.bytes,
                    response_bytes: 0,
                    latency_ns: None,
                    authority: None,
                    grpc: None,
                    reset: None,
                    heads_lost: false,
                },
                last_request_ns: now,
                first_response_ns: None,
                last_seen_ns: now,
            });
            return;
        }
        let (Some(role), Some(open)) = (conn.role, conn.open.as_mut()) else { return };
        open.last_seen_ns = now;
        if role.sends_request() == tx {
            // More of the request (its body), unless its response has begun.
            if open.first_response_ns.is_none() {
                open.exchange.request_bytes += e.bytes;
                open.last_request_ns = now;
            }
            return;
        }
        let status_line = http::parse_response(data);
        match (&open.exchange.response, status_line) {
            // The first bytes of the response; or a final status after an interim 1xx.
            (None, Some(head)) if open.first_response_ns.is_none() => open.exchange.response = Some(head),
            (Some(interim), Some(head)) if interim.status < 200 => open.exchange.response = Some(head),
            _ => {}
        }
        open.first_response_ns.get_or_insert(now);
        open.exchange.response_bytes += e.bytes;
    }

    /// The connection closed: its exchange in progress ends (without a status if none came).
    pub fn closed(&mut self, cookie: u64, done: &mut Vec<Exchange>) {
        if let Some(open) = self.connections.pop(&cookie).and_then(|c| c.open) {
            done.push(open.finish());
        }
    }

    /// Exchanges whose response began and then nothing moved for `quiet_ns`:
    /// done (a keep-alive connection idle after its last response).
    pub fn quiet(&mut self, now_ns: u64, quiet_ns: u64, done: &mut Vec<Exchange>) {
        for (_, conn) in self.connections.iter_mut() {
            let finished = conn
                .open
                .as_ref()
                .is_some_and(|open| open.first_response_ns.is_some() && now_ns.saturating_sub(open.last_seen_ns) >= quiet_ns);
            if finished {
                done.extend(conn.open.take().map(Open::finish));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(cookie: u64, tx: bool, at_ms: u64, data: &[u8], bytes: u64) -> (PayloadEvent, Vec<u8>) {
        let mut e = PayloadEvent { cookie, tx: tx as u8, bytes, ..Default::default() };
        e.hdr.boot_ns = at_ms * 1_000_000;
        let captured = data.len().min(256);
        e.captured = captured as u32;
        (e, data[..captured].to_vec())
    }

    fn feed(t: &mut HttpTracker, steps: &[(u64, bool, u64, &[u8], u64)]) -> Vec<Exchange> {
        let mut done = Vec::new();
        for (cookie, tx, at, data, bytes) in steps {
            let (e, data) = payload(*cookie, *tx, *at, data, *bytes);
            t.payload(&e, &data, &mut done);
        }
        done
    }

    #[test]
    fn a_client_on_one_keep_alive_connection() {
        let mut t = HttpTracker::default();
        let mut done = feed(
            &mut t,
            &[
                (1, true, 0, b"GET /a?x=1 HTTP/1.1\r\nHost: s\r\n\r\n", 40),
                (1, false, 3, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 38),
                (1, false, 4, b"hello", 5),
                (1, true, 10, b"POST /b HTTP/1.1\r\nContent-Length: 4\r\n\r\n", 39),
                (1, true, 11, b"body", 4),
                (1, false, 61, b"HTTP/1.1 500 Internal Server Error\r\n\r\n", 38),
            ],
        );
        t.closed(1, &mut done);
        assert_eq!(done.len(), 2);
        let (get, post) = (&done[0], &done[1]);
        assert_eq!((get.role, get.request.method, get.request.target.as_str()), (Role::Client, "GET", "/a?x=1"));
        assert_eq!((get.response.map(|r| r.status), get.request_bytes, get.response_bytes, get.latency_ns), (Some(200), 40, 43, Some(3_000_000)));
        assert_eq!((post.request.method, post.response.map(|r| r.status)), ("POST", Some(500)));
        assert_eq!((post.request_bytes, post.response_bytes), (43, 38));
        assert_eq!(post.latency_ns, Some(50_000_000), "from the body's last write to the status line");
    }

    #[test]
    fn a_server_reads_requests_and_writes_responses() {
        let mut t = HttpTracker::default();
        let mut done = feed(
            &mut t,
            &[
                (2, false, 0, b"GET /slow HTTP/1.1\r\n\r\n", 22),
                (2, true, 50, b"HTTP/1.1 200 OK\r\n\r\n", 19),
                (2, false, 60, b"GET /missing HTTP/1.0\r\n\r\n", 25),
                (2, true, 61, b"HTTP/1.0 404 Not Found\r\n\r\n", 26),
            ],
        );
        t.closed(2, &mut done);
        assert_eq!(done.iter().map(|x| (x.role, x.response.unwrap().status, x.latency_ns)).collect::<Vec<_>>(), vec![
            (Role::Server, 200, Some(50_000_000)),
            (Role::Server, 404, Some(1_000_000))
        ]);
    }

    #[test]
    fn a_request_without_response_ends_at_close_with_no_status() {
        let mut t = HttpTracker::default();
        let mut done = feed(&mut t, &[(3, true, 0, b"GET / HTTP/1.1\r\n\r\n", 18)]);
        assert!(done.is_empty());
        t.closed(3, &mut done);
        assert_eq!((done[0].response, done[0].latency_ns, done[0].response_bytes), (None, None, 0));
    }

    #[test]
    fn an_interim_status_gives_way_to_the_final_one() {
        let mut t = HttpTracker::default();
        let mut done = feed(
            &mut t,
            &[
                (4, true, 0, b"POST /up HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", 44),
                (4, false, 1, b"HTTP/1.1 100 Continue\r\n\r\n", 25),
                (4, true, 2, b"data", 4),
                (4, false, 5, b"HTTP/1.1 201 Created\r\n\r\n", 24),
            ],
        );
        t.closed(4, &mut done);
        assert_eq!(done[0].response.unwrap().status, 201);
        assert_eq!(done[0].request_bytes, 44, "the body after the interim status is not counted as request: the response began");
    }

    #[test]
    fn a_quiet_keep_alive_connection_ends_its_exchange() {
        let mut t = HttpTracker::default();
        let mut done = feed(&mut t, &[(5, true, 0, b"GET / HTTP/1.1\r\n\r\n", 18), (5, false, 1, b"HTTP/1.1 204 No Content\r\n\r\n", 27)]);
        t.quiet(2_000_000, 5_000_000, &mut done);
        assert!(done.is_empty(), "not quiet long enough");
        t.quiet(7_000_000, 5_000_000, &mut done);
        assert_eq!(done.len(), 1);
        t.closed(5, &mut done);
        assert_eq!(done.len(), 1, "ended once");
    }

    #[test]
    fn a_connection_forgotten_for_room_still_reports_its_exchange() {
        let mut t = HttpTracker::following(NonZeroUsize::new(2).unwrap());
        let done = feed(
            &mut t,
            &[
                (1, true, 0, b"GET /first HTTP/1.1\r\n\r\n", 24),
                (1, false, 1, b"HTTP/1.1 200 OK\r\n\r\n", 19),
                (2, true, 2, b"GET /second HTTP/1.1\r\n\r\n", 25),
                (3, true, 3, b"GET /third HTTP/1.1\r\n\r\n", 24),
            ],
        );
        assert_eq!(done.len(), 1, "the least recently active connection made room");
        assert_eq!((done[0].request.target.as_str(), done[0].response.map(|r| r.status)), ("/first", Some(200)));
    }

    #[test]
    fn bytes_that_are_not_http_are_never_an_exchange() {
        let mut t = HttpTracker::default();
        let mut done = feed(
            &mut t,
            &[
                (6, true, 0, b"\x00\x01\x02binary", 9),
                (6, false, 1, b"HTTP/1.1 200 OK\r\n\r\n", 19),
                (7, true, 0, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24),
            ],
        );
        t.closed(6, &mut done);
        t.closed(7, &mut done);
        assert!(done.is_empty());
    }
}
