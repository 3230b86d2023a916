//! The detail screen: one group drilled into, its processes (as a tree),
//! recent execs, files by bytes moved, connections, and, where the run
//! watches them, its HTTP requests by endpoint and the names it resolved;
//! each a pane of its own that scrolls (Tab moves between them).

use std::collections::BTreeMap;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::Frame;

use crate::aggregate::lookups::{Lookups, NameTally};
use crate::aggregate::model::{ConnRow, Group};
use crate::aggregate::requests::Requests;
use crate::l7::exchanges::Role;
use crate::ui::format::{bytes, container_in, count, group_name, latency, peer_title, remote_in, remote_width, time_of_day};
use super::keys::{hint, KeyHint};
use super::Context;
use crate::ui::panes::{scrolled_pane, Panes, MAX_PANES};
use crate::ui::theme::Theme;

/// The footer's keys here.
pub const KEYS: &[KeyHint] =
    &[hint("Esc back", "Esc"), hint("Tab pane", "Tab pane"), hint("↑↓ scroll", "↑↓"), hint("c sidecar scope", "c sidecar"), hint("e events", "e events")];

/// The panes, in Tab order (requests and names where shown).
pub const PANES: [&str; 6] = ["processes", "recent execs", "top files (read write)", "connections", "requests", "DNS names"];
const _: () = assert!(PANES.len() <= MAX_PANES);

/// Below these, the screen shows one pane at a time.
const MIN_SIZE: (u16, u16) = (80, 20);

/// The panes after the connections, in Tab order, where the run watches
/// what they show (or its recording has some).
#[derive(Clone, Copy, PartialEq, Eq)]
enum OptionalPane {
    Requests,
    Names,
}

/// How many panes it shows.
pub fn pane_count(requests_shown: bool, lookups_shown: bool) -> usize {
    PANES.len() - 2 + usize::from(requests_shown) + usize::from(lookups_shown)
}

/// Processes as a tree by parent pid, roots first.
fn process_lines(group: &Group) -> Vec<String> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut roots = Vec::new();
    for p in group.processes.values() {
        if group.processes.contains_key(&p.ppid) && p.ppid != p.pid {
            children.entry(p.ppid).or_default().push(p.pid);
        } else {
            roots.push(p.pid);
        }
    }
    let mut lines = Vec::new();
    let mut stack: Vec<(u32, usize)> = roots.into_iter().rev().map(|pid| (pid, 0)).collect();
    while let Some((pid, depth)) = stack.pop() {
        let Some(p) = group.processes.get(&pid) else { continue };
        let indent = if depth == 0 { String::new() } else { format!("{}└ ", "  ".repeat(depth - 1)) };
        let container = p.container_id.as_deref().map(|c| format!(" [{}]", container_in(group, c))).unwrap_or_default();
        let args = p.args.as_deref().unwrap_or(&p.comm);
        lines.push(format!("{:>7} {indent}{args}{container}", p.pid));
        if depth < 16 {
            for child in children.get(&pid).into_iter().flatten().rev() {
                stack.push((*child, depth + 1));
            }
        }
    }
    lines
}

fn exec_lines(group: &Group) -> Vec<Line<'static>> {
    group
        .execs
        .iter()
        .rev()
        .map(|e| {
            let container = e.container_id.as_deref().map(|c| format!("[{}] ", container_in(group, c))).unwrap_or_default();
            Line::from(format!("{} {:>7} {container}{}", time_of_day(e.unix_ns), e.pid, e.args))
        })
        .collect()
}

fn file_lines(group: &Group) -> Vec<Line<'static>> {
    group
        .top_files()
        .into_iter()
        .map(|(path, f)| Line::from(format!("{:>6} {:>6}  {path}", bytes(f.read_bytes), bytes(f.write_bytes))))
        .collect()
}

/// Newest first; names where the pod looked the address up, the column as
/// wide as the longest, within bounds.
fn connection_lines(group: &Group, theme: &Theme) -> Vec<Line<'static>> {
    let width = remote_width(group.connections.iter(), 21);
    group.connections.iter().rev().map(|c| connection_line(c, width, theme)).collect()
}

fn connection_line(c: &ConnRow, width: usize, theme: &Theme) -> Line<'static> {
    let direction = match c.outbound {
        Some(true) => "→",
        Some(false) => "←",
        None => "·",
    };
    let peer = peer_title(c).map(|p| format!(" {p}")).unwrap_or_default();
    let state = if c.open { "open" } else { "closed" };
    let style = if c.connection.sidecar_visible { theme.visible() } else { theme.missed() };
    let named = c.connection.dname.as_deref();
    // A name in place of the address: the address at the end, after the pod's own.
    let address = named.map(|_| format!(" to {}", c.connection.remote.ip())).unwrap_or_default();
    // The numbers near the left, where a narrow pane keeps them; the pod's own address last.
    Line::styled(
        format!(
            "{direction} {:<width$} {:>7} {:>7} {state:<6} {}[{}]{peer} from {}{address}",
            remote_in(c.connection.remote, named, width),
            bytes(c.connection.tx_bytes),
            bytes(c.connection.rx_bytes),
            c.comm,
            c.pid,
            c.connection.local,
        ),
        style,
    )
}

/// A pod's endpoints, most requests first: which end it was (in: served,
/// out: made), count, 5xx, p50, p99 since start, then method and path (the
/// numbers near the left, where a narrow pane keeps them). Green where a
/// proxy in the pod sees them; `across` keeps only those.
pub fn request_lines<'a>(requests: &Requests, theme: &Theme, across: bool) -> Vec<Line<'a>> {
    let ms = |ns: Option<u64>| ns.map_or("-".to_string(), latency);
    let mut lines: Vec<Line> = requests
        .top_endpoints()
        .into_iter()
        .filter(|(e, _)| !across || e.sidecar_visible)
        .map(|(e, t)| {
            let dir = if e.role == Role::Server { "in" } else { "out" };
            let style = if e.sidecar_visible { theme.visible() } else { theme.missed() };
            let numbers = format!("{dir:<4}{:>6} {:>5} {:>7} {:>7}", count(t.requests), count(t.errors), ms(t.p50()), ms(t.p99()));
            // Said in words too: without colour, a hop inside the pod looks like the request it carries.
            let inside = if e.sidecar_visible { "" } else { "  · in pod" };
            Line::styled(format!("{numbers}  {} {}{inside}", e.method, e.path), style)
        })
        .collect();
    if !lines.is_empty() {
        lines.insert(0, Line::styled(format!("{:<4}{:>6} {:>5} {:>7} {:>7}  METHOD PATH", "DIR", "COUNT", "5XX", "P50", "P99"), theme.accent()));
    }
    lines
}

/// The names a pod resolved, most lookups first: count, NXDOMAIN answers,
/// other error answers, lookups no answer came for, p50 since start, then
/// the name, the types asked and the first address of its latest answer
/// (the numbers near the left, where a narrow pane keeps them). Yellow where
/// a lookup failed. Then, for a pod that answers lookups, what it answered.
fn lookup_lines<'a>(lookups: &Lookups, theme: &Theme) -> Vec<Line<'a>> {
    let numbers = |t: &NameTally| {
        format!("{:>6} {:>6} {:>5} {:>7} {:>7}", count(t.lookups), count(t.nxdomain), count(t.errors), count(t.unanswered), t.p50().map_or("-".to_string(), latency))
    };
    let mut lines: Vec<Line> = lookups
        .top_names()
        .into_iter()
        .map(|(name, t)| {
            let answer = match t.answer {
                Some((first, 0)) => first.to_string(),
                Some((first, more)) => format!("{first} +{more}"),
                None => "no address".to_string(),
            };
            let failed = t.nxdomain + t.errors + t.unanswered > 0;
            Line::styled(format!("{}  {name} {} → {answer}", numbers(t), t.qtypes.join(",")), if failed { theme.missed() } else { Style::new() })
        })
        .collect();
    if lookups.served.lookups > 0 {
        lines.push(Line::raw(format!("{}  (answered by this pod, all names)", numbers(&lookups.served))));
    }
    if !lines.is_empty() {
        let header = format!("{:>6} {:>6} {:>5} {:>7} {:>7}  NAME TYPES → ANSWER", "COUNT", "NXDOM", "ERR", "NO-ANS", "P50");
        lines.insert(0, Line::styled(header, theme.accent()));
    }
    lines
}

/// Where each pane goes when all fit: processes and execs above, files and
/// connections below; with requests or names, a third row between them,
/// the whole width for paths and names (side by side where both show).
fn layout(area: Rect, optional: &[OptionalPane]) -> Vec<Rect> {
    let (top, middle, bottom) = if optional.is_empty() {
        let [top, bottom] = Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
        (top, None, bottom)
    } else {
        let [top, middle, bottom] = Layout::vertical([Constraint::Percentage(30), Constraint::Percentage(35), Constraint::Percentage(35)]).areas(area);
        (top, Some(middle), bottom)
    };
    let [procs, execs] = Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(top);
    let [files, conns] = Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(bottom);
    let mut areas = vec![procs, execs, files, conns];
    match (middle, optional.len()) {
        (Some(middle), 2) => {
            let [requests, names] = Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(middle);
            areas.extend([requests, names]);
        }
        (middle, _) => areas.extend(middle),
    }
    areas
}

/// `long` where a pane `width` wide has room for it on its top border
/// (corners, and the focus mark around it), else `short`: the colours'
/// legend stays whole on a narrow pane.
fn fitting(long: String, short: &str, width: u16) -> String {
    if long.chars().count() + 6 <= width as usize { long } else { short.to_string() }
}

/// Pane `pane`'s title, lines, and what it says while it has none. Where
/// one pane shows at a time, titles are short: room for the way to the
/// others. Where a pane colours its lines, its title says what each colour means.
fn pane<'a>(pane: usize, group: &Group, optional: &[OptionalPane], fit: bool, width: u16, theme: &Theme) -> (String, Vec<Line<'a>>, &'static str) {
    match pane {
        0 => (format!("{}: {}", group_name(group), PANES[0]), process_lines(group).into_iter().map(Line::from).collect(), "none seen yet"),
        1 => (PANES[1].to_string(), exec_lines(group), "no exec yet"),
        2 => (PANES[2].to_string(), file_lines(group), "no file I/O yet"),
        3 => {
            let title = fitting(format!("{}: peer, TX, RX (green: a sidecar sees it; yellow: not)", PANES[3]), "conns (green: a sidecar sees; yellow: not)", width);
            (title, connection_lines(group, theme), "no TCP connection yet")
        }
        // Its first line names the columns.
        _ => match (optional.get(pane - 4), fit) {
            (Some(OptionalPane::Requests), true) => {
                let long = format!("{} since start (green: a sidecar sees them; yellow: in pod)", PANES[4]);
                let title = fitting(long, "requests (green: a sidecar sees them; yellow: in pod)", width);
                (title, request_lines(&group.requests, theme, false), "no HTTP request yet")
            }
            (Some(OptionalPane::Requests), false) => (format!("{} since start", PANES[4]), request_lines(&group.requests, theme, false), "no HTTP request yet"),
            (_, true) => (format!("{} it resolved since start", PANES[5]), lookup_lines(&group.lookups, theme), "no DNS lookup yet"),
            (_, false) => (format!("{} since start", PANES[5]), lookup_lines(&group.lookups, theme), "no DNS lookup yet"),
        },
    }
}

pub fn draw(frame: &mut Frame, ctx: &Context, panes: &Panes, group: &Group, theme: &Theme, area: Rect) {
    let fit = area.width >= MIN_SIZE.0 && area.height >= MIN_SIZE.1;
    let optional: Vec<OptionalPane> = [(ctx.requests_shown, OptionalPane::Requests), (ctx.lookups_shown, OptionalPane::Names)]
        .into_iter()
        .filter_map(|(shown, pane)| shown.then_some(pane))
        .collect();
    let count = pane_count(ctx.requests_shown, ctx.lookups_shown);
    let areas = panes.areas(count, area, |area| layout(area, &optional), fit);
    for (index, at) in areas.into_iter().enumerate() {
        let Some(at) = at else { continue };
        // One pane at a time, its title ends with the way to the others.
        let room = if fit { at.width } else { at.width.saturating_sub(10) };
        let (title, lines, empty) = pane(index, group, &optional, fit, room, theme);
        let title = if fit { title } else { format!("{title} · {}/{count} Tab", index + 1) };
        let focused = index == panes.focus;
        frame.render_widget(scrolled_pane(&title, lines, empty, &panes.scrolls[index], focused && fit, theme, at), at);
    }
}
