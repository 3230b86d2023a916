//! The node list as a table: its sortable columns, their headers, and the
//! order and filter the user chose.

use crate::aggregate::model::{Group, NodeModel};
use crate::events::CgroupCounters;
use super::format::container_title;

/// Which TCP bytes the TX/RX columns count: those across the pod's boundary
/// (what a sidecar proxies, and the JSON `counters` call `tcp_*_bytes`), or
/// those over loopback inside it (`tcp_local_*_bytes`, app to its own proxy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TcpScope {
    #[default]
    Boundary,
    Loopback,
}

impl TcpScope {
    pub fn toggled(self) -> TcpScope {
        match self {
            TcpScope::Boundary => TcpScope::Loopback,
            TcpScope::Loopback => TcpScope::Boundary,
        }
    }

    /// (sent, received) of this scope.
    pub fn bytes(self, c: &CgroupCounters) -> (u64, u64) {
        match self {
            TcpScope::Boundary => (c.tcp_tx_bytes, c.tcp_rx_bytes),
            TcpScope::Loopback => (c.tcp_local_tx_bytes, c.tcp_local_rx_bytes),
        }
    }

    /// Said in the node box's title.
    pub fn described(self) -> &'static str {
        match self {
            TcpScope::Boundary => "TCP across pod boundaries",
            TcpScope::Loopback => "TCP over loopback",
        }
    }
}

/// Groups in display order for a sort column, filtered by a substring.
pub fn sorted_groups<'a>(model: &'a NodeModel, sort: SortColumn, reverse: bool, tcp: TcpScope, filter: &str) -> Vec<&'a Group> {
    let needle = filter.to_lowercase();
    let mut groups: Vec<&Group> = model
        .groups
        .values()
        .filter(|g| {
            needle.is_empty()
                || g.title.to_lowercase().contains(&needle)
                || g.namespace.as_deref().is_some_and(|n| n.to_lowercase().contains(&needle))
                || g.containers.values().any(|c| container_title(c).to_lowercase().contains(&needle))
        })
        .collect();
    groups.sort_by(|a, b| {
        let order = sort.value(b, tcp).partial_cmp(&sort.value(a, tcp)).unwrap_or(std::cmp::Ordering::Equal);
        let order = if sort == SortColumn::Name { a.title.cmp(&b.title) } else { order.then(a.title.cmp(&b.title)) };
        if reverse {
            order.reverse()
        } else {
            order
        }
    });
    groups
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    Name,
    Processes,
    Execs,
    Opens,
    FileRead,
    FileWrite,
    TcpTx,
    TcpRx,
    Connections,
    /// Requests a second, their 5xx share, p50 and p99 latency (`--events http`).
    Requests,
    Errors,
    P50,
    P99,
    Sidecar,
}

impl SortColumn {
    pub const ALL: [SortColumn; 14] = [
        SortColumn::Name,
        SortColumn::Processes,
        SortColumn::Execs,
        SortColumn::Opens,
        SortColumn::FileRead,
        SortColumn::FileWrite,
        SortColumn::TcpTx,
        SortColumn::TcpRx,
        SortColumn::Connections,
        SortColumn::Requests,
        SortColumn::Errors,
        SortColumn::P50,
        SortColumn::P99,
        SortColumn::Sidecar,
    ];

    /// The columns of requests, shown where requests are watched or recorded.
    pub fn is_request(self) -> bool {
        matches!(self, SortColumn::Requests | SortColumn::Errors | SortColumn::P50 | SortColumn::P99)
    }

    pub fn header(self, tcp: TcpScope) -> &'static str {
        match (self, tcp) {
            (SortColumn::TcpTx, TcpScope::Loopback) => "LO TX/s",
            (SortColumn::TcpRx, TcpScope::Loopback) => "LO RX/s",
            _ => self.boundary_header(),
        }
    }

    fn boundary_header(self) -> &'static str {
        match self {
            SortColumn::Name => "POD / CONTAINER",
            SortColumn::Processes => "PROCS",
            SortColumn::Execs => "EXEC/s",
            SortColumn::Opens => "OPEN/s",
            SortColumn::FileRead => "FILE R/s",
            SortColumn::FileWrite => "FILE W/s",
            SortColumn::TcpTx => "TCP TX/s",
            SortColumn::TcpRx => "TCP RX/s",
            SortColumn::Connections => "CONNS",
            SortColumn::Requests => "REQ/s",
            SortColumn::Errors => "ERR%",
            SortColumn::P50 => "P50",
            SortColumn::P99 => "P99",
            SortColumn::Sidecar => "SIDECAR%",
        }
    }

    /// The next column to sort by, of those shown.
    pub fn next(self, requests_shown: bool) -> SortColumn {
        let shown: Vec<SortColumn> = SortColumn::ALL.into_iter().filter(|c| requests_shown || !c.is_request()).collect();
        let i = shown.iter().position(|c| *c == self).unwrap_or(0);
        shown[(i + 1) % shown.len()]
    }

    fn value(self, g: &Group, tcp: TcpScope) -> f64 {
        let rate = |pick: fn(&CgroupCounters) -> u64| g.activity.per_second(pick);
        match self {
            SortColumn::Name => 0.0,
            SortColumn::Processes => g.processes.len() as f64,
            SortColumn::Execs => rate(|c| c.execs),
            SortColumn::Opens => rate(|c| c.opens),
            SortColumn::FileRead => rate(|c| c.file_read_bytes),
            SortColumn::FileWrite => rate(|c| c.file_write_bytes),
            SortColumn::TcpTx => g.activity.per_second(|c| tcp.bytes(c).0),
            SortColumn::TcpRx => g.activity.per_second(|c| tcp.bytes(c).1),
            SortColumn::Connections => g.open_connections() as f64,
            // Pods without requests after those with any, whatever the column.
            SortColumn::Requests => g.requests.figures().map_or(-1.0, |f| f.per_second),
            SortColumn::Errors => g.requests.figures().and_then(|f| f.tally.error_percent()).unwrap_or(-1.0),
            SortColumn::P50 => g.requests.figures().and_then(|f| f.tally.p50()).map_or(-1.0, |ns| ns as f64),
            SortColumn::P99 => g.requests.figures().and_then(|f| f.tally.p99()).map_or(-1.0, |ns| ns as f64),
            SortColumn::Sidecar => g.activity.sidecar_percent().unwrap_or(-1.0),
        }
    }
}

