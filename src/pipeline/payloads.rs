//! What sockets carry, from the first bytes of their reads and writes: a TLS
//! connection's ClientHello, HTTP exchanges and DNS lookups, each written as
//! a record of the end that saw it once it is finished.

use std::io;

use super::{Pipeline, Transport};
use crate::enrich::peers::{Endpoint, SocketView};
use crate::events::{ip_of, PayloadEvent, PayloadProtocol};
use crate::l7::exchanges::{Exchange, Role};
use crate::l7::lookups::Lookup;
use crate::l7::{http, tls};
use crate::records::{DnsRecord, HttpRecord, NetView, Sink};

/// A keep-alive connection's last exchange ends once nothing moved for this long after its response began.
const HTTP_QUIET_NS: u64 = 5_000_000_000;
/// A DNS query with no answer after this long is reported unanswered (glibc's resolver gives up at 5 s too).
const DNS_TIMEOUT_NS: u64 = 5_000_000_000;
/// TLS ClientHellos remembered until their connection closes, at most.
pub(super) const MAX_TLS_HELLOS: usize = 16_384;

impl<S: Sink> Pipeline<S> {
    /// A socket read or write's first bytes: a TLS ClientHello is kept for
    /// its connection's close; HTTP and DNS go to their trackers, whose
    /// finished exchanges and lookups become records.
    pub(super) fn on_payload(&mut self, e: &PayloadEvent, data: &[u8]) -> io::Result<()> {
        // While the process is there: a short-lived client's pod is the other end's peer.
        self.enricher.netns.learn(e.hdr.who.netns, e.hdr.who.pid, e.hdr.who.cgroup_id);
        match u32::from(e.protocol) {
            PayloadProtocol::TLS | PayloadProtocol::TLS_HANDSHAKE => {
                let hello = if u32::from(e.protocol) == PayloadProtocol::TLS {
                    tls::parse_client_hello(data)
                } else {
                    tls::parse_client_hello_message(data)
                };
                if let Some(hello) = hello {
                    self.tls_hellos.put(e.cookie, hello);
                }
                Ok(())
            }
            PayloadProtocol::HTTP2 => {
                let mut done = Vec::new();
                self.http2.payload(e, data, &mut done);
                self.write_exchanges(&done)
            }
            PayloadProtocol::DNS => {
                let mut done = Vec::new();
                self.dns.datagram(e, data, &mut done);
                self.write_lookups(&done)
            }
            _ => {
                let mut done = Vec::new();
                self.http.payload(e, data, &mut done);
                self.write_exchanges(&done)
            }
        }
    }

    /// Finished DNS lookups, as records of the end that saw them; a client's
    /// answers name the addresses its pod connects to next.
    fn write_lookups(&mut self, done: &[Lookup]) -> io::Result<()> {
        for lookup in done {
            let first = &lookup.first;
            let who = first.hdr.who;
            if lookup.role == Role::Client {
                self.names.resolved(first.sock_netns, &lookup.query.qname, lookup.addresses());
            }
            let owner = self.enricher.attribution(who.cgroup_id);
            // A datagram that named no other end leaves port 0: no peer, nothing a sidecar sees.
            let (addr, port) = lookup.remote.unwrap_or((ip_of(&first.daddr, first.family), 0));
            let view = SocketView {
                local: Endpoint { addr: ip_of(&first.saddr, first.family), port: first.sport },
                remote: Endpoint { addr, port },
                netns: first.sock_netns,
            };
            let place = self.locate(&owner, view, Transport::Udp);
            let record = DnsRecord {
                unix_ns: self.clock.unix_ns(first.hdr.boot_ns),
                who: &who,
                owner: &owner,
                // The lookup's own name is not looked up for its server's address.
                net: NetView { dname: None, ..place.net },
                peer: place.peer.as_ref(),
                sidecar_visible: place.sidecar_visible,
                lookup,
            };
            self.sink.dns(&record)?;
        }
        Ok(())
    }

    /// Finished HTTP exchanges, as records of the end that saw them.
    pub(super) fn write_exchanges(&mut self, done: &[Exchange]) -> io::Result<()> {
        for x in done {
            let first = &x.first;
            let who = first.hdr.who;
            let owner = self.enricher.attribution(who.cgroup_id);
            let place = self.locate(&owner, socket_view!(first), Transport::Tcp);
            let path = if self.http_query { x.request.target.as_str() } else { http::without_query(&x.request.target) };
            let record = HttpRecord {
                unix_ns: self.clock.unix_ns(first.hdr.boot_ns),
                who: &who,
                owner: &owner,
                net: place.net,
                cookie: first.cookie,
                peer: place.peer.as_ref(),
                sidecar_visible: place.sidecar_visible,
                exchange: x,
                path,
            };
            self.sink.http(&record)?;
        }
        Ok(())
    }

    /// Keep-alive connections quiet since their last response began: that exchange is done.
    pub(super) fn end_quiet_exchanges(&mut self, now_boot_ns: u64) -> io::Result<()> {
        let mut done = Vec::new();
        self.http.quiet(now_boot_ns, HTTP_QUIET_NS, &mut done);
        self.write_exchanges(&done)?;
        let mut unanswered = Vec::new();
        self.dns.expired(now_boot_ns, DNS_TIMEOUT_NS, &mut unanswered);
        self.write_lookups(&unanswered)
    }
}
