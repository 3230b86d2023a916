//! The node list as a table: its sortable columns, their headers, and the
//! order and filter the user chose.

use crate::aggregate::model::{Group, NodeModel};
use super::format::container_title;

/// Groups in display order for a sort column, filtered by a substring.
pub fn sorted_groups<'a>(model: &'a NodeModel, sort: SortColumn, reverse: bool, filter: &str) -> Vec<&'a Group> {
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
        let order = sort.value(b).partial_cmp(&sort.value(a)).unwrap_or(std::cmp::Ordering::Equal);
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
    Sidecar,
}

impl SortColumn {
    pub const ALL: [SortColumn; 10] = [
        SortColumn::Name,
        SortColumn::Processes,
        SortColumn::Execs,
        SortColumn::Opens,
        SortColumn::FileRead,
        SortColumn::FileWrite,
        SortColumn::TcpTx,
        SortColumn::TcpRx,
        SortColumn::Connections,
        SortColumn::Sidecar,
    ];

    pub fn header(self) -> &'static str {
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
            SortColumn::Sidecar => "SIDECAR%",
        }
    }

    pub fn next(self) -> SortColumn {
        let i = SortColumn::ALL.iter().position(|c| *c == self).unwrap_or(0);
        SortColumn::ALL[(i + 1) % SortColumn::ALL.len()]
    }

    fn value(self, g: &Group) -> f64 {
        let r = &g.activity.rates;
        match self {
            SortColumn::Name => 0.0,
            SortColumn::Processes => g.processes.len() as f64,
            SortColumn::Execs => r.execs as f64,
            SortColumn::Opens => r.opens as f64,
            SortColumn::FileRead => r.file_read_bytes as f64,
            SortColumn::FileWrite => r.file_write_bytes as f64,
            SortColumn::TcpTx => (r.tcp_tx_bytes + r.tcp_local_tx_bytes) as f64,
            SortColumn::TcpRx => (r.tcp_rx_bytes + r.tcp_local_rx_bytes) as f64,
            SortColumn::Connections => g.open_connections() as f64,
            SortColumn::Sidecar => g.activity.sidecar_percent().unwrap_or(-1.0),
        }
    }
}

