//! Which container of a pod is its sidecar proxy, and what it costs.
//!
//! A container is taken for the pod's sidecar by what it does, whatever it
//! is called: it relays ([`detection`]). Outbound, it accepts connections
//! from the pod's other containers and opens connections out of the pod;
//! inbound, it accepts connections from outside the pod and opens
//! connections to the pod's other containers. Well-known proxy names only add
//! a hint beside the verdict. Once a pod has a sidecar, its bill is drawn
//! every interval ([`bill`]): the sidecar container's CPU and memory from its
//! cgroup, the resident size of its processes, what the other containers
//! sent and received through it, the connections that left the pod without
//! passing it (bypass), and the time requests spend in it ([`latency`]).

mod bill;
mod detection;
mod latency;

pub use bill::{round_cores, NodeBill, SidecarBill};
pub use detection::{known_hint, Closed, Flow, Relayed, SidecarFinder};
pub use latency::{AddedLatency, Turns, Wakes, P99_MIN_EXCHANGES};

/// What the tests of the three parts share: pods' containers, addresses,
/// and connections' turns as both ends' clocks saw them.
#[cfg(test)]
mod testing {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use super::{Closed, Flow, Turns};
    use crate::enrich::Attribution;
    use crate::records::fixtures::attribution;

    /// Container `container` of pod `pod` (both their own names and ids).
    pub fn member(pod: &str, container: &str) -> Arc<Attribution> {
        attribution(container.len() as u64)
            .path(&format!("/kubepods.slice/{pod}/{container}"))
            .container(container, container)
            .pod(pod, pod)
            .build()
    }

    pub fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    pub const MS: u64 = 1_000_000;

    /// One request and its reply on a connection, as both ends' kernel
    /// clocks saw it: asked, heard, answered, and the answer received.
    pub fn turn(asked: u64, heard: u64, answered: u64, received: u64) -> (Turns, Turns) {
        let asker = Turns { exchanges: 1, exchange_ns: received - asked, asked_at_sum: asked, ..Turns::default() };
        let answerer = Turns { replies: 1, reply_ns: answered - heard, heard_at_sum: heard, ..Turns::default() };
        (asker, answerer)
    }

    pub fn asked(exchange_ns: u64) -> Turns {
        Turns { exchanges: 1, exchange_ns, ..Turns::default() }
    }

    pub fn closed(turns: Turns, connected: bool, local: SocketAddr) -> Flow {
        Flow::Close(Closed { tx_bytes: 1, rx_bytes: 1, turns, connected, local })
    }
}
