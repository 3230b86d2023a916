//! The other end of a TCP connection, when it is a process in a pod on this node.
//!
//! Tried in order: the reverse 4-tuple of a connection podtop saw from the
//! other side (exact); the listener on the destination port in the namespace
//! that owns the destination address (exact container); any process in that
//! namespace (the pod, container unknown).

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bounded::{Table, TableSize};

use super::{Attribution, Enricher};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
}

/// A connection from the point of view of one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocketView {
    pub local: Endpoint,
    pub remote: Endpoint,
    /// The socket's network namespace.
    pub netns: u32,
}

const CONNECTIONS_CAPACITY: usize = 65536;
const LISTENERS_CAPACITY: usize = 16384;

/// How long a closed connection's ends stay known: its other end's close
/// (and the last records that name it) come within this of its own.
const CLOSED_GRACE: Duration = Duration::from_secs(10);

pub struct PeerTable {
    connections: Table<(Endpoint, Endpoint), Arc<Attribution>>,
    listeners: Table<(u32, u16), Arc<Attribution>>,
    /// Connecting sockets by (netns, their own endpoint), and accepted ones
    /// by (netns, the endpoint they were connected from): a connection that
    /// netfilter redirected inside its namespace (a mesh's REDIRECT to its
    /// proxy) has different destinations on its two ends, and only the
    /// connecting end's address ties them.
    connected_from: Table<(u32, Endpoint), Arc<Attribution>>,
    accepted_from: Table<(u32, Endpoint), Arc<Attribution>>,
    /// Ends closed, to forget once `CLOSED_GRACE` has passed: the tables
    /// then hold the connections that are open, not every one the node
    /// ever made (keys are ephemeral ports: new ones all the time).
    closed: VecDeque<(Instant, SocketView, bool)>,
}

impl Default for PeerTable {
    fn default() -> Self {
        PeerTable {
            connections: Table::new("peer_connections", CONNECTIONS_CAPACITY),
            listeners: Table::new("listeners", LISTENERS_CAPACITY),
            connected_from: Table::new("peer_connected_from", CONNECTIONS_CAPACITY),
            accepted_from: Table::new("peer_accepted_from", CONNECTIONS_CAPACITY),
            closed: VecDeque::new(),
        }
    }
}

impl PeerTable {
    pub fn listening(&mut self, netns: u32, port: u16, owner: Arc<Attribution>) {
        self.listeners.put((netns, port), owner);
    }

    /// A connect: remembered until a little after its close, so that the
    /// other end's events can name this one.
    pub fn connected(&mut self, view: SocketView, owner: Arc<Attribution>) {
        self.connected_from.put((view.netns, view.local), owner.clone());
        self.connections.put((view.local, view.remote), owner);
    }

    /// An accept, likewise.
    pub fn accepted(&mut self, view: SocketView, owner: Arc<Attribution>) {
        self.accepted_from.put((view.netns, view.remote), owner.clone());
        self.connections.put((view.local, view.remote), owner);
    }

    /// One end closed (`connected`: the end that connected): forgotten
    /// `CLOSED_GRACE` from now.
    pub fn closed(&mut self, view: SocketView, connected: bool, now: Instant) {
        // At most one pending per entry of the tables (an end is closed once).
        if self.closed.len() < 2 * CONNECTIONS_CAPACITY {
            self.closed.push_back((now, view, connected));
        }
    }

    /// Forgets the ends closed `CLOSED_GRACE` ago or longer. An entry made
    /// again since by a new connection on the same endpoints goes too: its
    /// peer is then found as a connection of unknown end is, by listener.
    pub fn forget_closed(&mut self, now: Instant) {
        while let Some(&(at, view, connected)) = self.closed.front() {
            if now.duration_since(at) < CLOSED_GRACE {
                break;
            }
            self.closed.pop_front();
            self.connections.pop(&(view.local, view.remote));
            if connected {
                self.connected_from.pop(&(view.netns, view.local));
            } else {
                self.accepted_from.pop(&(view.netns, view.remote));
            }
        }
    }

    /// Forgets the listeners not in `open` (netns, port): those closed since.
    pub fn keep_listeners(&mut self, open: &std::collections::HashSet<(u32, u16)>) {
        let closed: Vec<(u32, u16)> = self.listeners.iter().map(|(key, _)| *key).filter(|key| !open.contains(key)).collect();
        for key in closed {
            self.listeners.pop(&key);
        }
    }

    /// How full each of the tables is.
    pub fn sizes(&self) -> [TableSize; 4] {
        [self.connections.size(), self.connected_from.size(), self.accepted_from.size(), self.listeners.size()]
    }

    /// Who accepted this connecting socket's connection in its own network
    /// namespace although it was addressed elsewhere: netfilter redirected
    /// it there (a mesh's proxy). None for a connection that went where it
    /// was addressed.
    pub fn redirected_to(&mut self, view: SocketView) -> Option<Arc<Attribution>> {
        if self.connections.peek(&(view.remote, view.local)).is_some() {
            return None; // its other end was where it was addressed
        }
        self.accepted_from.get(&(view.netns, view.local)).cloned()
    }

    /// The pod at the other end, `None` when it is not a pod on this node.
    pub fn peer_of(&mut self, view: SocketView, enricher: &mut Enricher) -> Option<Arc<Attribution>> {
        let exact = self.connections.get(&(view.remote, view.local)).cloned();
        // An accepted connection redirected inside the namespace: its connector, by its address.
        let exact = exact.or_else(|| self.connected_from.get(&(view.netns, view.remote)).cloned());
        let peer = exact.or_else(|| {
            let netns = if view.remote.addr.is_loopback() {
                Some(view.netns)
            } else {
                enricher.netns.owner_of(view.remote.addr)
            }?;
            if let Some(listener) = self.listeners.get(&(netns, view.remote.port)) {
                return Some(listener.clone());
            }
            let members: Vec<u64> = enricher.netns.members(netns).iter().map(|m| m.cgroup_id).collect();
            members.into_iter().map(|id| enricher.attribution(id)).find(|a| a.pod.is_some()).map(|a| {
                // Only the pod is known: not which of its containers.
                Arc::new(Attribution {
                    cgroup_id: 0,
                    cgroup_path: None,
                    container: None,
                    pod: a.pod.clone(),
                    rendered: Default::default(),
                })
            })
        })?;
        peer.pod.is_some().then_some(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::fixture::Fixture;

    fn owner(id: u64) -> Arc<Attribution> {
        crate::records::fixtures::attribution(id).unnamed_pod("web").qos(crate::enrich::cgroup_path::QosClass::BestEffort).build()
    }

    fn end(addr: &str, port: u16) -> Endpoint {
        Endpoint { addr: addr.parse().unwrap(), port }
    }

    #[test]
    fn a_connection_redirected_inside_its_namespace_is_tied_by_the_connecting_address() {
        let mut peers = PeerTable::default();
        let (app, proxy) = (owner(1), owner(2));
        // The app connects to the backend; netfilter hands the connection to the proxy on 127.0.0.1:15001.
        let app_view = SocketView { local: end("10.244.1.1", 40000), remote: end("10.244.1.2", 8080), netns: 7 };
        let proxy_view = SocketView { local: end("127.0.0.1", 15001), remote: end("10.244.1.1", 40000), netns: 7 };
        peers.connected(app_view, app.clone());
        peers.accepted(proxy_view, proxy.clone());
        assert_eq!(peers.redirected_to(app_view).map(|a| a.cgroup_id), Some(2), "the proxy took it");
        // Another namespace with the same addresses is another connection.
        assert!(peers.redirected_to(SocketView { netns: 8, ..app_view }).is_none());
        // A connection that reached where it was addressed was not redirected.
        let direct = SocketView { local: end("10.244.1.1", 40001), remote: end("10.244.1.2", 8080), netns: 7 };
        let server = SocketView { local: end("10.244.1.2", 8080), remote: end("10.244.1.1", 40001), netns: 9 };
        peers.connected(direct, app.clone());
        peers.accepted(server, owner(3));
        assert!(peers.redirected_to(direct).is_none());
        let fixture = Fixture::new();
        let mut enricher = Enricher::new(fixture.host(), None);
        assert_eq!(peers.peer_of(proxy_view, &mut enricher).map(|a| a.cgroup_id), Some(1), "the proxy's accept names the app");
    }

    #[test]
    fn listeners_the_kernel_saw_close_are_forgotten_and_open_ones_stay() {
        let mut peers = PeerTable::default();
        peers.listening(7, 8080, owner(1));
        peers.listening(7, 9090, owner(2));
        peers.listening(8, 8080, owner(3));
        peers.keep_listeners(&[(7, 8080), (8, 8080)].into_iter().collect());
        assert!(peers.listeners.peek(&(7, 9090)).is_none(), "closed");
        assert_eq!(peers.listeners.peek(&(8, 8080)).map(|o| o.cgroup_id), Some(3));
        assert_eq!(peers.sizes()[3].entries, 2);
    }

    #[test]
    fn closed_connections_are_forgotten_after_the_grace_and_open_ones_stay() {
        let mut peers = PeerTable::default();
        let fixture = Fixture::new();
        let mut enricher = Enricher::new(fixture.host(), None);
        let t0 = Instant::now();
        for port in 0..1000u16 {
            let client = SocketView { local: end("10.244.1.1", 30000 + port), remote: end("10.244.1.2", 8080), netns: 7 };
            let server = SocketView { local: end("10.244.1.2", 8080), remote: end("10.244.1.1", 30000 + port), netns: 9 };
            peers.connected(client, owner(1));
            peers.accepted(server, owner(2));
            // All but the last ten close, both ends.
            if port < 990 {
                peers.closed(client, true, t0);
                peers.closed(server, false, t0);
            }
        }
        let entries = |peers: &PeerTable| peers.sizes().map(|s| s.entries);
        assert_eq!(entries(&peers), [2000, 1000, 1000, 0]);
        peers.forget_closed(t0 + CLOSED_GRACE / 2);
        assert_eq!(entries(&peers), [2000, 1000, 1000, 0], "within the grace both ends still name each other");
        let closed = SocketView { local: end("10.244.1.2", 8080), remote: end("10.244.1.1", 30005), netns: 9 };
        assert_eq!(peers.peer_of(closed, &mut enricher).map(|a| a.cgroup_id), Some(1));
        peers.forget_closed(t0 + CLOSED_GRACE);
        assert_eq!(entries(&peers), [20, 10, 10, 0], "the open ones stay");
        let open = SocketView { local: end("10.244.1.2", 8080), remote: end("10.244.1.1", 30995), netns: 9 };
        assert_eq!(peers.peer_of(open, &mut enricher).map(|a| a.cgroup_id), Some(1));
    }
}
