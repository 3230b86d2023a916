//! The sidecar scope: one pod through its sidecar proxy's eyes (the flows
//! and requests that cross the pod's boundary), beside what the proxy costs
//! and what it misses, in numbers.

use std::collections::HashMap;
use std::net::IpAddr;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::Frame;

use super::detail::request_lines;
use crate::aggregate::model::{activity, sidecar_visible, ConnRow, Group};
use crate::ui::format::{bytes, container_in, cores, count, events_with, group_name, latency, remote_in, remote_width, sparkline, time_of_day, truncate};
use super::keys::{hint, KeyHint};
use super::Context;
use crate::ui::panes::{scrolled_pane, Panes, MAX_PANES};
use crate::ui::theme::Theme;

/// The footer's keys here.
pub const KEYS: &[KeyHint] =
    &[hint("Esc back", "Esc"), hint("Tab pane", "Tab pane"), hint("↑↓ scroll", "↑↓"), hint("c node view", "c node"), hint("e events", "e events")];

/// The panes, in Tab order.
pub const PANES: [&str; 2] = ["what a proxy in this pod sees", "its bill, and what it misses"];
const _: () = assert!(PANES.len() <= MAX_PANES);

/// Below this width, the scope shows one pane at a time: the flows
/// without the local address want 52 columns, the numbers of what it misses 33.
const MIN_WIDTH: u16 = 90;

/// Where requests are not shown, how to have them.
fn requests_hint(ctx: &Context) -> String {
    if ctx.run.is_replay() {
        "no request in this recording (recorded without --events http)".to_string()
    } else {
        format!("requests are not watched: podtop {}", events_with(ctx.run.classes, "http"))
    }
}

/// The widest IPv4 end, `255.255.255.255:65535`: the local column's width,
/// and the least of the remote one's (wider for names and IPv6). At 160
/// columns it leaves room for the pod's own end beside the longest state,
/// `200 closed, last 13:08:53` (a pod keeps 200 connections).
const IPV4_END: usize = 21;

/// One line of the flows' table: an open flow, or closed ones together.
struct FlowRow {
    dir: &'static str,
    local: String,
    remote: String,
    tx_bytes: u64,
    rx_bytes: u64,
    /// Closed ones: how many, and when the last one closed (Unix ns).
    closed: Option<(u64, u64)>,
}

impl FlowRow {
    fn state(&self) -> String {
        match self.closed {
            None => "open".to_string(),
            Some((1, last_ns)) => format!("closed {}", time_of_day(last_ns)),
            Some((n, last_ns)) => format!("{} closed, last {}", count(n), time_of_day(last_ns)),
        }
    }
}

/// A flow's direction as the table names it.
fn direction(c: &ConnRow) -> &'static str {
    match c.outbound {
        Some(true) => "out",
        Some(false) => "in",
        None => "?",
    }
}

/// An end whose port each connection chose anew (a client's): `addr:*`.
fn any_port(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:*"),
        IpAddr::V6(a) => format!("[{a}]:*"),
    }
}

/// The flows among `rows` (newest first): each open one on its line, then
/// the closed ones one line per direction and pair of ends, the most
/// recently closed first. The client's own port is `*` in a closed flow's
/// ends (each connection takes another one): the server's port names the
/// service.
fn flow_rows<'a>(rows: impl Iterator<Item = &'a ConnRow> + Clone, remote_width: usize) -> Vec<FlowRow> {
    let remote = |c: &ConnRow| remote_in(c.connection.remote, c.connection.dname.as_deref(), remote_width);
    let mut flows: Vec<FlowRow> = rows
        .clone()
        .filter(|c| c.open)
        .map(|c| FlowRow {
            dir: direction(c),
            local: c.connection.local.to_string(),
            remote: remote(c),
            tx_bytes: c.connection.tx_bytes,
            rx_bytes: c.connection.rx_bytes,
            closed: None,
        })
        .collect();
    let mut closed: Vec<FlowRow> = Vec::new();
    let mut index: HashMap<(&'static str, String, String), usize> = HashMap::new();
    for c in rows.filter(|c| !c.open) {
        let dir = direction(c);
        let (local, remote) = match c.outbound {
            Some(false) => (c.connection.local.to_string(), any_port(c.connection.remote.ip())),
            _ => (any_port(c.connection.local.ip()), remote(c)),
        };
        let at = *index.entry((dir, local.clone(), remote.clone())).or_insert_with(|| {
            closed.push(FlowRow { dir, local, remote, tx_bytes: 0, rx_bytes: 0, closed: Some((0, 0)) });
            closed.len() - 1
        });
        let f = &mut closed[at];
        f.tx_bytes += c.connection.tx_bytes;
        f.rx_bytes += c.connection.rx_bytes;
        f.closed = f.closed.map(|(n, last_ns)| (n + 1, last_ns.max(c.last_ns)));
    }
    closed.sort_by_key(|f| std::cmp::Reverse(f.closed.map_or(0, |(_, last_ns)| last_ns)));
    flows.extend(closed);
    flows
}

/// The flows a sidecar sees, as a table whose least telling column (the
/// pod's own address) gives way first on a narrow pane: the open ones each
/// on its line, then the closed ones by direction and ends, counted.
fn flow_lines<'a>(ctx: &Context, group: &Group, theme: &Theme, width: u16) -> Vec<Line<'a>> {
    if !group.is_pod() {
        // No table over nothing: outside a pod there is no boundary for a proxy to sit on.
        return vec![Line::styled("not a pod: no sidecar here", theme.dim())];
    }
    let seen = || group.connections.iter().rev().filter(|c| c.connection.sidecar_visible);
    let remote_width = remote_width(seen(), IPV4_END);
    let rows: Vec<(String, FlowRow)> = flow_rows(seen(), remote_width).into_iter().map(|f| (f.state(), f)).collect();
    let state_width = rows.iter().map(|(state, _)| state.chars().count()).max().unwrap_or(0).max("STATE".len());
    // The pod's own address only where the rest of a line, its state whole,
    // still fits: DIR, LOCAL and REMOTE, TX and RX, STATE, each with its space.
    let with_local = width as usize >= 5 + IPV4_END + 1 + remote_width + 2 * 8 + 1 + state_width;
    let row = |dir: &str, local: &str, remote: &str, tx: &str, rx: &str, state: &str| {
        if with_local {
            format!("{dir:<4} {local:<IPV4_END$} {remote:<remote_width$} {tx:>7} {rx:>7} {state}")
        } else {
            format!("{dir:<4} {remote:<remote_width$} {tx:>7} {rx:>7} {state}")
        }
    };
    let mut flows = vec![Line::styled(row("DIR", "LOCAL", "REMOTE", "TX", "RX", "STATE"), theme.accent())];
    for (state, f) in rows {
        let line = row(f.dir, &f.local, &f.remote, &bytes(f.tx_bytes), &bytes(f.rx_bytes), &state);
        flows.push(Line::styled(line, theme.visible()));
    }
    if flows.len() == 1 {
        flows.push(Line::styled("no TCP flow across the pod's boundary yet", theme.dim()));
    }
    flows.push(Line::raw(""));
    flows.push(Line::styled("A proxy sees sockets, not programs: no pid, no exec.", theme.dim()));
    if !ctx.requests_shown {
        flows.push(Line::raw(""));
        flows.push(Line::styled(requests_hint(ctx), theme.dim()));
        return flows;
    }
    // First what a proxy in HTTP mode shows, as a mesh's dashboards do: its requests.
    let mut lines = request_lines_seen(group, theme);
    lines.push(Line::raw(""));
    lines.extend(flows);
    lines
}

/// The requests a proxy in HTTP mode in this pod sees: exactly those that
/// cross its boundary.
fn request_lines_seen<'a>(group: &Group, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = vec![Line::styled("HTTP requests it sees, since start:", theme.accent())];
    let endpoints = request_lines(&group.requests, theme, true);
    if endpoints.is_empty() {
        lines.push(Line::styled("no HTTP request across the pod's boundary yet", theme.dim()));
    }
    lines.extend(endpoints);
    lines
}

/// What a sidecar misses, in numbers; the labels shorten on a narrow pane,
/// the numbers stay.
fn miss_lines<'a>(ctx: &Context, group: &Group, theme: &Theme, width: u16) -> Vec<Line<'a>> {
    if !group.is_pod() {
        // Outside a pod there is no sidecar: no bill, and no share of events to miss.
        return vec![Line::styled("not a pod: no sidecar to bill, nothing it misses", theme.dim())];
    }
    const NUMBERS: usize = 17; // " {:>8} {:>6.1}%"
    let label_width = (width as usize).saturating_sub(NUMBERS).clamp(6, 22);
    let label = |text: &str| format!("{:<label_width$}", truncate(text, label_width));
    let t = &group.activity.totals;
    let all = activity(t).max(1);
    let share = |n: u64| format!("{:>8} {:>6.1}%", count(n), 100.0 * n as f64 / all as f64);
    let (other_pods, host) = ctx.model.activity_elsewhere(&group.key);
    let sees = group.sidecar_sees();
    // The app's hops to its own proxy are the proxy's input, not a blind spot.
    let loopback_missed = t.tcp_local_connections.saturating_sub(sees - sidecar_visible(t));
    // Bytes of those hops: each relayed byte is sent by one end and received by the other.
    let loopback_bytes = t.tcp_local_tx_bytes + t.tcp_local_rx_bytes;
    let hop_bytes = group.sidecar.as_ref().map_or(0, |s| 2 * (s.totals.tx_bytes + s.totals.rx_bytes)).min(loopback_bytes);
    let mut lines = bill_lines(ctx, group, theme, &label);
    lines.extend([
        Line::styled(format!("{} {:>8} {:>7}", label(""), "EVENTS", "SHARE"), theme.accent()),
        Line::styled(format!("{} {}", label("sidecar sees (TCP)"), share(sees)), theme.visible()),
        Line::raw(""),
        Line::styled("it misses, in this pod:", theme.missed()),
        Line::styled(format!("{} {}", label("  execs"), share(t.execs)), theme.missed()),
        Line::styled(format!("{} {}", label("  file I/O"), share(t.opens + t.file_reads + t.file_writes)), theme.missed()),
        Line::styled(format!("{} {}", label("  UDP datagrams"), share(t.udp_tx_datagrams + t.udp_rx_datagrams)), theme.missed()),
        Line::styled(format!("{} {}", label("  loopback TCP"), share(loopback_missed)), theme.missed()),
        Line::raw(""),
        Line::styled("and everything elsewhere:", theme.missed()),
        Line::styled(format!("{} {:>8}", label("  other pods"), count(other_pods)), theme.missed()),
        Line::styled(format!("{} {:>8}", label("  host"), count(host)), theme.missed()),
        Line::raw(""),
        Line::raw(format!("{} {:>8}", label("this pod, all events"), count(activity(t)))),
        Line::raw(format!("{} {:>8}", label("bytes a sidecar sees"), bytes(t.tcp_tx_bytes + t.tcp_rx_bytes + hop_bytes))),
        Line::raw(format!(
            "{} {:>8}",
            label("bytes it misses"),
            bytes(t.file_read_bytes + t.file_write_bytes + t.udp_tx_bytes + t.udp_rx_bytes + loopback_bytes - hop_bytes)
        )),
        Line::raw(""),
    ]);
    if ctx.requests_shown {
        // Requests between the pod's own containers are one request seen at
        // both ends: counted once. Those through its proxy are its input.
        let relay = group.sidecar.as_ref().and_then(|s| s.container_id.as_deref());
        let (hops, inside) = group.requests.inside(relay);
        lines.push(Line::styled("HTTP requests, since start:", theme.accent()));
        lines.push(Line::styled(format!("{} {:>8}", label("  a proxy sees"), count(group.requests.across)), theme.visible()));
        if relay.is_some() {
            lines.push(Line::styled(format!("{} {:>8}", label("  app to its proxy"), count(hops)), theme.visible()));
        }
        lines.push(Line::styled(format!("{} {:>8}", label("  it misses (in pod)"), count(inside)), theme.missed()));
    } else {
        lines.push(Line::styled(requests_hint(ctx), theme.dim()));
    }
    lines
}

/// The pod's sidecar and what it costs, over the last interval; for a pod
/// without one, a line that says the scope is hypothetical.
fn bill_lines<'a>(ctx: &Context, group: &Group, theme: &Theme, label: &dyn Fn(&str) -> String) -> Vec<Line<'a>> {
    let Some(sidecar) = &group.sidecar else {
        return vec![Line::styled("no container here relays: what a sidecar would see", theme.dim()), Line::raw("")];
    };
    let bill = &sidecar.last;
    let name = sidecar.container_id.as_deref().map(|id| container_in(group, id)).unwrap_or_else(|| "?".into());
    let hint = bill.hint.map(|h| format!(" ({h})")).unwrap_or_default();
    let podtop = &ctx.model.sidecars.podtop;
    let opt_bytes = |b: Option<u64>| b.map_or("-".to_string(), bytes);
    vec![
        Line::styled(format!("sidecar: {name}{hint}, last interval"), theme.accent()),
        Line::raw(format!("{} {:>8} {}", label("  CPU"), bill.cpu_cores.map_or("-".into(), cores), sparkline(sidecar.cpu_history.iter().copied(), 12))),
        Line::raw(format!("{} {:>8} / {}", label("  memory / RSS"), opt_bytes(bill.memory_bytes), opt_bytes(bill.rss_bytes))),
        Line::raw(match bill.added_latency {
            Some(l) => format!("{} {:>8} / {}", label("  added p50 / p99"), latency(l.p50_ns), l.p99_ns.map_or("-".into(), latency)),
            None => format!("{} {:>8}", label("  added p50 / p99"), "-"),
        }),
        Line::raw(format!("{} {:>8}", label("  exchanges"), count(bill.relayed.exchanges))),
        Line::raw(format!("{} {:>8}", label("  relayed conns"), count(bill.relayed.connections))),
        Line::raw(format!("{} {:>8} / {}", label("  relayed out / in"), bytes(bill.relayed.tx_bytes), bytes(bill.relayed.rx_bytes))),
        Line::raw(format!("{} {:>8}", label("  extra stack bytes"), bytes(bill.extra_stack_bytes()))),
        Line::styled(
            format!("{} {:>8}", label("  bypass, since start"), count(sidecar.totals.bypass_connections)),
            if sidecar.totals.bypass_connections > 0 { theme.warn() } else { Style::new() },
        ),
        Line::raw(format!(
            "{} {:>8} RSS {}",
            label("  podtop, node"),
            podtop.cpu_cores.map_or("-".into(), cores),
            opt_bytes(podtop.rss_bytes)
        )),
        Line::raw(""),
    ]
}

pub fn draw(frame: &mut Frame, ctx: &Context, panes: &Panes, group: &Group, theme: &Theme, area: Rect) {
    let fit = area.width >= MIN_WIDTH;
    let areas = panes.areas(
        PANES.len(),
        area,
        |area| {
            let [seen, missed] = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area);
            vec![seen, missed]
        },
        fit,
    );
    let name = group_name(group);
    for (pane, at) in areas.into_iter().enumerate() {
        let Some(at) = at else { continue };
        let inner_width = at.width.saturating_sub(2);
        let lines = match pane {
            0 => flow_lines(ctx, group, theme, inner_width),
            _ => miss_lines(ctx, group, theme, inner_width),
        };
        let title = match (pane, fit) {
            (0, true) if !group.is_pod() => format!("sidecar scope: {name} — not a pod"),
            (0, true) if group.sidecar.is_some() => format!("sidecar scope: {name} — {}", PANES[0]),
            (0, true) => format!("sidecar scope: {name} — what a proxy would see here (none relays)"),
            (_, true) => format!("{name}: {}", PANES[1]),
            // One pane at a time: short titles, so that the way to the other one shows.
            (0, false) => format!("{name}: a sidecar sees · 1/2 Tab"),
            (_, false) => format!("{name}: bill, misses · 2/2 Tab"),
        };
        let focused = pane == panes.focus;
        frame.render_widget(scrolled_pane(&title, lines, "", &panes.scrolls[pane], focused && fit, theme, at), at);
    }
}
