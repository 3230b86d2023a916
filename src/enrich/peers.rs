//! The other end of a TCP connection, when it is a process in a pod on this node.
//!
//! Tried in order: the reverse 4-tuple of a connection podtop saw from the
//! other side (exact); the listener on the destination port in the namespace
//! that owns the destination address (exact container); any process in that
//! namespace (the pod, container unknown).

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;

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

pub struct PeerTable {
    connections: LruCache<(Endpoint, Endpoint), Arc<Attribution>>,
    listeners: LruCache<(u32, u16), Arc<Attribution>>,
}

impl Default for PeerTable {
    fn default() -> Self {
        PeerTable {
            connections: LruCache::new(NonZeroUsize::new(CONNECTIONS_CAPACITY).expect("non-zero")),
            listeners: LruCache::new(NonZeroUsize::new(LISTENERS_CAPACITY).expect("non-zero")),
        }
    }
}

impl PeerTable {
    pub fn listening(&mut self, netns: u32, port: u16, owner: Arc<Attribution>) {
        self.listeners.put((netns, port), owner);
    }

    /// A connect or accept: remembered (also after close, until evicted) so
    /// that the other end's events can name this one.
    pub fn opened(&mut self, view: SocketView, owner: Arc<Attribution>) {
        self.connections.put((view.local, view.remote), owner);
    }

    /// The pod at the other end, `None` when it is not a pod on this node.
    pub fn peer_of(&mut self, view: SocketView, enricher: &mut Enricher) -> Option<Arc<Attribution>> {
        let exact = self.connections.get(&(view.remote, view.local)).cloned();
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
