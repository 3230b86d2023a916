//! Drawing the app: header, the current screen, the event pane, the footer.

use std::collections::BTreeMap;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::app::{App, RowRef, Screen, Scroll, DETAIL_PANES, SIDECAR_PANES};
use crate::records::run::Source;
use super::format::{bytes, container_in, cores, latency, container_title, count, duration, rate, event_text, events_with, peer_title, percent, remote, remote_in, sparkline, time_of_day, truncate};
use super::table::{SortColumn, TcpScope};
use crate::aggregate::lookups::{Lookups, NameTally};
use crate::aggregate::model::{activity, sidecar_visible, Activity, Group};
use crate::aggregate::requests::Requests;
use crate::l7::exchanges::Role;

/// Below this the screens do not fit; a message says so instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

struct Theme {
    color: bool,
}

impl Theme {
    fn accent(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    fn visible(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Green)
        } else {
            Style::new()
        }
    }
    fn missed(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Yellow)
        } else {
            Style::new()
        }
    }
    fn warn(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }
}

pub fn render(frame: &mut Frame, app: &App) {
    let theme = Theme { color: app.color };
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!("terminal too small: {}x{}, podtop needs {MIN_WIDTH}x{MIN_HEIGHT}\n(q quits)", area.width, area.height);
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let event_rows = if app.show_events { (area.height / 3).max(5) } else { 0 };
    let [header, body, events, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(5),
        Constraint::Length(event_rows),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(frame, app, &theme, header);
    if app.show_help {
        // In place of the screen, not over it: no box runs into another.
        render_help(frame, app, &theme, body.union(events));
        render_footer(frame, app, &theme, footer);
        return;
    }
    match &app.screen {
        Screen::Node => render_node(frame, app, &theme, body),
        Screen::Detail(key) => match app.model.groups.get(key) {
            Some(group) => render_detail(frame, app, group, &theme, body),
            None => frame.render_widget(Paragraph::new("this group is gone"), body),
        },
        Screen::Sidecar(key) => match app.model.groups.get(key) {
            Some(group) => render_sidecar(frame, app, group, &theme, body),
            None => frame.render_widget(Paragraph::new("this group is gone"), body),
        },
    }
    if app.show_events {
        render_events(frame, app, &theme, events);
    }
    render_footer(frame, app, &theme, footer);
}

fn source_text(app: &App) -> String {
    match &app.run.source {
        Source::Live { recording: false } => "live".to_string(),
        Source::Live { recording: true } => "live, recording".to_string(),
        Source::Replay { path } => {
            let span = match (app.model.first_tick_ns, app.model.last_tick_ns) {
                (Some(first), Some(last)) => format!(
                    " · {}–{} UTC ({})",
                    time_of_day(first),
                    time_of_day(last),
                    duration(last.saturating_sub(first))
                ),
                _ => String::new(),
            };
            let state = if app.ended { "ended" } else { "playing" };
            // The file's name: a long path would push the state and span off the line.
            let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
            format!("replay {name} · {state}{span}")
        }
    }
}

/// Below this width the header drops its labels and keeps its numbers.
const WIDE_HEADER: u16 = 110;

fn render_header(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let m = &app.model;
    let run = &app.run;
    let wide = area.width >= WIDE_HEADER;
    let first = Line::from(vec![
        Span::styled("podtop ", theme.accent()),
        Span::raw(if wide {
            format!(
                "node {} · kernel {} · probes {} attached, {} skipped · {}",
                run.node,
                run.kernel,
                run.probes_attached,
                run.probes_skipped,
                source_text(app)
            )
        } else {
            format!(
                "{} · {} · probes {}/{} · {}",
                run.node,
                run.kernel,
                run.probes_attached,
                run.probes_attached + run.probes_skipped,
                source_text(app)
            )
        }),
    ]);
    let lost_style = if m.totals.lost + m.totals.dropped > 0 { theme.warn() } else { Style::new() };
    let mut second = vec![
        Span::raw(format!("events/s {} · ", count(m.events_per_sec))),
        Span::styled(format!("lost {} · dropped {}", m.totals.lost, m.totals.dropped), lost_style),
    ];
    if let Some(usage) = app.usage {
        let own = if wide { "podtop CPU" } else { "CPU" };
        second.push(Span::raw(format!(" · {own} {:.1}% RSS {}", usage.cpu_percent, bytes(usage.rss_bytes))));
    }
    if m.sidecars.bill.sidecars > 0 && wide {
        second.push(Span::raw(format!(
            " · sidecars {}: CPU {} RSS {}",
            m.sidecars.bill.sidecars,
            cores(m.sidecars.bill.cpu_cores),
            bytes(m.sidecars.bill.rss_bytes)
        )));
    } else if m.sidecars.bill.sidecars > 0 {
        second.push(Span::raw(format!(" · sidecars {}", m.sidecars.bill.sidecars)));
    }
    let room = (area.width as usize).saturating_sub(Line::from(second.clone()).width());
    match m.bpf_cpu_percent {
        Some(bpf) if wide => second.push(Span::raw(format!(" · BPF {bpf:.2}% of a CPU"))),
        Some(bpf) => second.push(Span::raw(format!(" · BPF {bpf:.2}%"))),
        // A hint, where it fits whole.
        None if app.run.is_replay() || !wide || room < 25 => {}
        None => second.push(Span::styled(" · BPF time: --bpf-stats", theme.dim())),
    }
    frame.render_widget(Paragraph::new(vec![first, Line::from(second)]), area);
}

fn rate_cells(a: &Activity, tcp: TcpScope) -> Vec<String> {
    let bytes_per_second = |per_second: f64| bytes(per_second.round() as u64);
    vec![
        rate(a.per_second(|c| c.execs)),
        rate(a.per_second(|c| c.opens)),
        bytes_per_second(a.per_second(|c| c.file_read_bytes)),
        bytes_per_second(a.per_second(|c| c.file_write_bytes)),
        bytes_per_second(a.per_second(|c| tcp.bytes(c).0)),
        bytes_per_second(a.per_second(|c| tcp.bytes(c).1)),
    ]
}

/// The request columns' cells: served requests, or (marked →) made ones
/// where the pod served none over the rate span; 0 and dashes where it did neither.
fn request_cells(r: &Requests) -> Vec<String> {
    let Some(f) = r.figures() else { return vec!["0".into(), "-".into(), "-".into(), "-".into()] };
    let made = if f.role == Role::Client { "→" } else { "" };
    vec![
        format!("{made}{}", rate(f.per_second)),
        percent(f.tally.error_percent()),
        f.tally.p50().map_or("-".into(), latency),
        f.tally.p99().map_or("-".into(), latency),
    ]
}

/// Widths of the node view's columns: the name, the `SortColumn`s after it, ACTIVITY.
/// Each is wide enough for its header and the sort arrow beside it.
const NODE_WIDTHS: [u16; 15] = [20, 6, 7, 7, 9, 9, 9, 9, 6, 7, 6, 7, 7, 9, 16];
const ACTIVITY: usize = NODE_WIDTHS.len() - 1;
/// Spare width goes to the name up to this many more columns, then to the sparkline.
const NAME_GROWS_BY: u16 = 24;
/// Which columns give way first when the terminal is narrow (the name and
/// SIDECAR% always stay): the layout never has to squeeze columns. The
/// request columns, there only when asked for, go last.
const DROP_ORDER: [usize; 13] = [ACTIVITY, 1, 8, 5, 4, 3, 7, 6, 2, 11, 10, 12, 9];

fn visible_columns(width: u16, requests_shown: bool) -> Vec<usize> {
    let mut visible: Vec<usize> =
        (0..NODE_WIDTHS.len()).filter(|c| requests_shown || !SortColumn::ALL.get(*c).is_some_and(|s| s.is_request())).collect();
    let needed = |cols: &[usize]| cols.iter().map(|c| NODE_WIDTHS[*c]).sum::<u16>() + cols.len() as u16 - 1;
    for drop in DROP_ORDER {
        if needed(&visible) <= width {
            break;
        }
        visible.retain(|c| *c != drop);
    }
    visible
}

fn render_node(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let inner = area.width.saturating_sub(2);
    let visible = visible_columns(inner, app.shows_requests());
    let needed = visible.iter().map(|c| NODE_WIDTHS[*c]).sum::<u16>() + visible.len() as u16 - 1;
    let spare = inner.saturating_sub(needed);
    let mut widths_now = NODE_WIDTHS;
    let spark_shown = visible.contains(&ACTIVITY);
    let to_name = if spark_shown { spare.min(NAME_GROWS_BY) } else { spare };
    widths_now[0] += to_name;
    if spark_shown {
        widths_now[ACTIVITY] += spare - to_name;
    }
    let pick = |cells: Vec<String>| -> Vec<String> { visible.iter().map(|c| cells[*c].clone()).collect() };
    let mut header_cells = vec![SortColumn::Name.header(app.tcp).to_string()];
    for column in &SortColumn::ALL[1..] {
        header_cells.push(column.header(app.tcp).to_string());
    }
    header_cells.push("ACTIVITY".to_string());
    if let Some(i) = SortColumn::ALL.iter().position(|c| *c == app.sort) {
        // ▲ ascending (A to Z, least first), ▼ descending; names sort A to Z, numbers most first.
        let ascending = (app.sort == SortColumn::Name) != app.reverse;
        header_cells[i].push(if ascending { '▲' } else { '▼' });
    }
    let header = Row::new(pick(header_cells)).style(theme.accent());
    let spark_width = widths_now[ACTIVITY] as usize;
    let rows: Vec<Row> = app
        .rows()
        .iter()
        .filter_map(|row| match row {
            RowRef::Group(key) => {
                let g = app.model.groups.get(key)?;
                let marker = if g.containers.is_empty() {
                    "  "
                } else if app.expanded.contains(key) {
                    "▾ "
                } else {
                    "▸ "
                };
                let name = match &g.namespace {
                    Some(ns) => format!("{marker}{ns}/{}", g.title),
                    None => format!("{marker}{}", g.title),
                };
                let mut cells = vec![name, g.processes.len().to_string()];
                cells.extend(rate_cells(&g.activity, app.tcp));
                cells.push(g.open_connections().to_string());
                cells.extend(request_cells(&g.requests));
                cells.push(if g.is_pod() { percent(g.sidecar_percent()) } else { "-".into() });
                cells.push(sparkline(g.history.iter().copied(), spark_width));
                Some(Row::new(pick(cells)))
            }
            RowRef::Container(key, id) => {
                let g = app.model.groups.get(key)?;
                let c = g.containers.get(id)?;
                let runtime = c.runtime.map(|r| format!(" ({r})")).unwrap_or_default();
                let procs = g.processes.values().filter(|p| p.container_id.as_deref() == Some(c.id.as_str())).count();
                let mut cells = vec![format!("   └ {}{runtime}", container_title(c)), procs.to_string()];
                cells.extend(rate_cells(&c.activity, app.tcp));
                cells.push(String::new());
                // Requests are the pod's (a container's alone would count its hops to the others).
                cells.extend(std::iter::repeat_n(String::new(), 4));
                cells.push(percent(c.activity.sidecar_percent()));
                cells.push(String::new());
                Some(Row::new(pick(cells)).style(theme.dim()))
            }
        })
        .collect();
    let empty = rows.is_empty();
    let widths: Vec<Constraint> = visible
        .iter()
        .map(|c| Constraint::Length(widths_now[*c]))
        .collect();
    let mut title = format!(" node · {} (t) ", app.tcp.described());
    if !app.filter.is_empty() {
        title.push_str(&format!("· filter: {} ", app.filter));
    }
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::bordered().title(title))
        .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(Some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
    if empty {
        let inner = Rect { x: area.x + 2, y: area.y + 2, width: area.width.saturating_sub(4), height: 1 };
        frame.render_widget(Paragraph::new("waiting for activity…").style(theme.dim()), inner);
    }
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

/// A pane of lines that scrolls: its title says which lines show where not
/// all fit, and marks the pane the scroll keys move.
fn scrolled_pane<'a>(title: &str, lines: Vec<Line<'a>>, empty: &'a str, scroll: &Scroll, focused: bool, theme: &Theme, area: Rect) -> Paragraph<'a> {
    let height = area.height.saturating_sub(2) as usize;
    let len = lines.len();
    let first = scroll.first_line(len, height);
    let title = if focused { format!(" ▶ {title} ") } else { format!(" {title} ") };
    let lines = if lines.is_empty() { vec![Line::styled(empty, theme.dim())] } else { lines.into_iter().skip(first).collect() };
    let mut block = Block::bordered().title(title);
    if len > height {
        // On the bottom border, where a long title cannot push it out.
        block = block.title_bottom(Line::from(format!(" {}–{} of {} ", first + 1, (first + height).min(len), len)).right_aligned());
    }
    let block = if focused { block.border_style(theme.accent()) } else { block };
    Paragraph::new(lines).block(block)
}

/// The panes of a screen: all of them where they fit, else only the focused
/// one, the others a Tab away (a narrow terminal drops panes, not numbers).
fn pane_areas(app: &App, area: Rect, all: impl FnOnce(Rect) -> Vec<Rect>, fit: bool) -> Vec<Option<Rect>> {
    let panes = app.panes();
    if fit {
        all(area).into_iter().map(Some).collect()
    } else {
        (0..panes).map(|i| (i == app.focus).then_some(area)).collect()
    }
}

/// The widest a name in place of a remote address gets in a column; longer
/// ones are cut before their port.
const REMOTE_MAX: usize = 32;

/// A column of remote ends: as wide as the longest, from `least` to `REMOTE_MAX`.
fn remote_width<'a>(rows: impl Iterator<Item = &'a crate::aggregate::model::ConnRow>, least: usize) -> usize {
    rows.map(|c| remote(c.connection.remote, c.connection.dname.as_deref()).chars().count()).max().unwrap_or(0).clamp(least, REMOTE_MAX)
}

/// Below these, the detail screen shows one pane at a time.
const DETAIL_MIN: (u16, u16) = (80, 20);
/// Below this width, the sidecar scope shows one pane at a time: the flows
/// without the local address want 52 columns, the numbers of what it misses 33.
const SIDECAR_MIN_WIDTH: u16 = 90;

/// A pod's endpoints, most requests first: which end it was (in: served,
/// out: made), count, 5xx, p50, p99 since start, then method and path (the
/// numbers near the left, where a narrow pane keeps them). Green where a
/// proxy in the pod sees them; `across` keeps only those.
fn request_lines<'a>(requests: &Requests, theme: &Theme, across: bool) -> Vec<Line<'a>> {
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

/// Where requests are not shown, how to have them.
fn requests_hint(app: &App) -> String {
    if app.run.is_replay() {
        "no request in this recording (recorded without --events http)".to_string()
    } else {
        format!("requests are not watched: podtop {}", events_with(app.run.classes, "http"))
    }
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

/// The drill-down's panes after the connections, in Tab order: those shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Extra {
    Requests,
    Names,
}

fn render_detail(frame: &mut Frame, app: &App, group: &Group, theme: &Theme, area: Rect) {
    let fit = area.width >= DETAIL_MIN.0 && area.height >= DETAIL_MIN.1;
    let extras: Vec<Extra> = [(app.shows_requests(), Extra::Requests), (app.shows_lookups(), Extra::Names)]
        .into_iter()
        .filter_map(|(shown, extra)| shown.then_some(extra))
        .collect();
    let areas = pane_areas(
        app,
        area,
        |area| {
            // With requests or names, a third row between the others, the
            // whole width for paths and names (side by side where both show).
            let (top, middle, bottom) = if extras.is_empty() {
                let [top, bottom] = Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
                (top, None, bottom)
            } else {
                let [top, middle, bottom] =
                    Layout::vertical([Constraint::Percentage(30), Constraint::Percentage(35), Constraint::Percentage(35)]).areas(area);
                (top, Some(middle), bottom)
            };
            let [procs, execs] = Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(top);
            let [files, conns] = Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(bottom);
            let mut areas = vec![procs, execs, files, conns];
            match (middle, extras.len()) {
                (Some(middle), 2) => {
                    let [requests, names] = Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(middle);
                    areas.extend([requests, names]);
                }
                (middle, _) => areas.extend(middle),
            }
            areas
        },
        fit,
    );
    let panes = app.panes();
    let name = group_name(group);
    let proc_lines = || -> Vec<Line> { process_lines(group).into_iter().map(Line::from).collect() };
    let exec_lines = || -> Vec<Line> {
        group
            .execs
            .iter()
            .rev()
            .map(|e| {
                let container = e.container_id.as_deref().map(|c| format!("[{}] ", container_in(group, c))).unwrap_or_default();
                Line::from(format!("{} {:>7} {container}{}", time_of_day(e.unix_ns), e.pid, e.args))
            })
            .collect()
    };
    let file_lines = || -> Vec<Line> {
        group
            .top_files()
            .into_iter()
            .map(|(path, f)| Line::from(format!("{:>6} {:>6}  {path}", bytes(f.read_bytes), bytes(f.write_bytes))))
            .collect()
    };
    let conn_lines = || -> Vec<Line> {
        // Names where the pod looked the address up: the column as wide as the longest, within bounds.
        let width = remote_width(group.connections.iter(), 21);
        group
            .connections
            .iter()
            .rev()
            .map(|c| {
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
            })
            .collect()
    };
    for (pane, at) in areas.into_iter().enumerate() {
        let Some(at) = at else { continue };
        let (title, lines, empty) = match pane {
            0 => (format!("{name}: {}", DETAIL_PANES[0]), proc_lines(), "none seen yet"),
            1 => (DETAIL_PANES[1].to_string(), exec_lines(), "no exec yet"),
            2 => (DETAIL_PANES[2].to_string(), file_lines(), "no file I/O yet"),
            3 => (format!("{}: peer, TX, RX (green: a sidecar sees it)", DETAIL_PANES[3]), conn_lines(), "no TCP connection yet"),
            // Its first line names the columns; a narrow title keeps room for the way to the others.
            _ => match (extras.get(pane - 4), fit) {
                (Some(Extra::Requests), true) => {
                    (format!("{} since start (green: a sidecar sees them)", DETAIL_PANES[4]), request_lines(&group.requests, theme, false), "no HTTP request yet")
                }
                (Some(Extra::Requests), false) => (format!("{} since start", DETAIL_PANES[4]), request_lines(&group.requests, theme, false), "no HTTP request yet"),
                (_, true) => (format!("{} it resolved since start", DETAIL_PANES[5]), lookup_lines(&group.lookups, theme), "no DNS lookup yet"),
                (_, false) => (format!("{} since start", DETAIL_PANES[5]), lookup_lines(&group.lookups, theme), "no DNS lookup yet"),
            },
        };
        let title = if fit { title } else { format!("{title} · {}/{panes} Tab", pane + 1) };
        let focused = pane == app.focus;
        frame.render_widget(scrolled_pane(&title, lines, empty, &app.panes[pane], focused && fit, theme, at), at);
    }
}

fn group_name(group: &Group) -> String {
    match &group.namespace {
        Some(ns) => format!("{ns}/{}", group.title),
        None => group.title.clone(),
    }
}

/// The flows a sidecar sees, as a table whose least telling column (the
/// pod's own address) gives way first on a narrow pane.
fn sidecar_flow_lines<'a>(app: &App, group: &Group, theme: &Theme, width: u16) -> Vec<Line<'a>> {
    let with_local = width >= 74;
    let seen = || group.connections.iter().rev().filter(|c| c.connection.sidecar_visible);
    let remote_width = remote_width(seen(), 22);
    let row = |dir: &str, local: &str, remote: &str, tx: &str, rx: &str, state: &str| {
        if with_local {
            format!("{dir:<4} {local:<22} {remote:<remote_width$} {tx:>7} {rx:>7} {state}")
        } else {
            format!("{dir:<4} {remote:<remote_width$} {tx:>7} {rx:>7} {state}")
        }
    };
    let mut flows = vec![Line::styled(row("DIR", "LOCAL", "REMOTE", "TX", "RX", "STATE"), theme.accent())];
    if !group.is_pod() {
        flows.push(Line::styled("not a pod: no sidecar here", theme.dim()));
    }
    for c in seen() {
        let dir = match c.outbound {
            Some(true) => "out",
            Some(false) => "in",
            None => "?",
        };
        flows.push(Line::styled(
            row(
                dir,
                &c.connection.local.to_string(),
                &remote_in(c.connection.remote, c.connection.dname.as_deref(), remote_width),
                &bytes(c.connection.tx_bytes),
                &bytes(c.connection.rx_bytes),
                if c.open { "open" } else { "closed" },
            ),
            theme.visible(),
        ));
    }
    if flows.len() == 1 && group.is_pod() {
        flows.push(Line::styled("no TCP flow across the pod's boundary yet", theme.dim()));
    }
    flows.push(Line::raw(""));
    flows.push(Line::styled("A proxy sees sockets, not programs: no pid, no exec.", theme.dim()));
    if group.is_pod() && !app.shows_requests() {
        flows.push(Line::raw(""));
        flows.push(Line::styled(requests_hint(app), theme.dim()));
    } else if group.is_pod() {
        // First what a proxy in HTTP mode shows, as a mesh's dashboards do: its requests.
        let mut lines = sidecar_request_lines(group, theme);
        lines.push(Line::raw(""));
        lines.extend(flows);
        return lines;
    }
    flows
}

/// The requests a proxy in HTTP mode in this pod sees: exactly those that
/// cross its boundary.
fn sidecar_request_lines<'a>(group: &Group, theme: &Theme) -> Vec<Line<'a>> {
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
fn sidecar_miss_lines<'a>(app: &App, group: &Group, theme: &Theme, width: u16) -> Vec<Line<'a>> {
    const NUMBERS: usize = 17; // " {:>8} {:>6.1}%"
    let label_width = (width as usize).saturating_sub(NUMBERS).clamp(6, 22);
    let label = |text: &str| format!("{:<label_width$}", truncate(text, label_width));
    let t = &group.activity.totals;
    let all = activity(t).max(1);
    let share = |n: u64| format!("{:>8} {:>6.1}%", count(n), 100.0 * n as f64 / all as f64);
    let (other_pods, host) = app.model.activity_elsewhere(&group.key);
    let sees = group.sidecar_sees();
    // The app's hops to its own proxy are the proxy's input, not a blind spot.
    let loopback_missed = t.tcp_local_connections.saturating_sub(sees - sidecar_visible(t));
    // Bytes of those hops: each relayed byte is sent by one end and received by the other.
    let loopback_bytes = t.tcp_local_tx_bytes + t.tcp_local_rx_bytes;
    let hop_bytes = group.sidecar.as_ref().map_or(0, |s| 2 * (s.totals.tx_bytes + s.totals.rx_bytes)).min(loopback_bytes);
    let mut lines = sidecar_bill_lines(app, group, theme, &label);
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
    if app.shows_requests() {
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
        lines.push(Line::styled(requests_hint(app), theme.dim()));
    }
    if !group.is_pod() {
        lines.truncate(1);
    }
    lines
}

/// The pod's sidecar and what it costs, over the last interval; for a pod
/// without one, a line that says the scope is hypothetical.
fn sidecar_bill_lines<'a>(app: &App, group: &Group, theme: &Theme, label: &dyn Fn(&str) -> String) -> Vec<Line<'a>> {
    if !group.is_pod() {
        return Vec::new();
    }
    let Some(sidecar) = &group.sidecar else {
        return vec![Line::styled("no container here relays: what a sidecar would see", theme.dim()), Line::raw("")];
    };
    let bill = &sidecar.last;
    let name = sidecar.container_id.as_deref().map(|id| container_in(group, id)).unwrap_or_else(|| "?".into());
    let hint = bill.hint.map(|h| format!(" ({h})")).unwrap_or_default();
    let podtop = &app.model.sidecars.podtop;
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

fn render_sidecar(frame: &mut Frame, app: &App, group: &Group, theme: &Theme, area: Rect) {
    let fit = area.width >= SIDECAR_MIN_WIDTH;
    let areas = pane_areas(
        app,
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
            0 => sidecar_flow_lines(app, group, theme, inner_width),
            _ => sidecar_miss_lines(app, group, theme, inner_width),
        };
        let title = match (pane, fit) {
            (0, true) if group.sidecar.is_some() || !group.is_pod() => format!("sidecar scope: {name} — {}", SIDECAR_PANES[0]),
            (0, true) => format!("sidecar scope: {name} — what a proxy would see here (none relays)"),
            (_, true) => format!("{name}: {}", SIDECAR_PANES[1]),
            // One pane at a time: short titles, so that the way to the other one shows.
            (0, false) => format!("{name}: a sidecar sees · 1/2 Tab"),
            (_, false) => format!("{name}: bill, misses · 2/2 Tab"),
        };
        let focused = pane == app.focus;
        frame.render_widget(scrolled_pane(&title, lines, "", &app.panes[pane], focused && fit, theme, at), at);
    }
}

fn render_events(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let needle = app.filter.to_lowercase();
    let visible = area.height.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = app
        .model
        .events
        .iter()
        .rev()
        .filter(|e| needle.is_empty() || e.group.to_lowercase().contains(&needle) || event_text(e).to_lowercase().contains(&needle))
        .take(visible)
        .map(|e| {
            Line::from(vec![
                Span::styled(format!("{} {:<16} ", time_of_day(e.unix_ns), truncate(&e.group, 16)), theme.dim()),
                Span::raw(event_text(e)),
            ])
        })
        .collect();
    lines.reverse();
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" events ")), area);
}

fn render_footer(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    if let Some(notice) = &app.notice {
        frame.render_widget(Paragraph::new(notice.as_str()).style(theme.warn()), area);
        return;
    }
    let text = if app.editing_filter {
        format!("filter: {}▏ (Enter keeps, Esc clears)", app.filter)
    } else if app.show_help {
        "↑↓ scroll  any other key closes the help  q quit".to_string()
    } else {
        let keys: &[&str] = match app.screen {
            Screen::Node => &["↑↓ move", "Enter details", "c sidecar scope", "Space expand", "s sort", "t TCP scope", "/ filter", "e events"],
            Screen::Detail(_) => &["Esc back", "Tab pane", "↑↓ scroll", "c sidecar scope", "e events"],
            Screen::Sidecar(_) => &["Esc back", "Tab pane", "↑↓ scroll", "c node view", "e events"],
        };
        // As many as fit, and always the way to the rest.
        let last = "? help  q quit";
        let room = (area.width as usize).saturating_sub(last.chars().count() + 2);
        let mut text = String::new();
        for key in keys {
            if text.chars().count() + key.chars().count() + 2 > room {
                break;
            }
            text.push_str(key);
            text.push_str("  ");
        }
        text.push_str(last);
        text
    };
    frame.render_widget(Paragraph::new(text).style(theme.dim()), area);
}

pub const HELP: &[(&str, &str)] = &[
    ("↑ ↓  j k", "move the selection"),
    ("PgUp PgDn g G", "page, first, last"),
    ("Enter", "details: processes, execs, files, connections"),
    ("c", "sidecar scope: what a proxy in this pod sees and misses"),
    ("Space → l / ← h", "expand / collapse a pod into its containers"),
    ("s / r", "sort by the next column / reverse the order"),
    ("t", "TCP columns: across pod boundaries / over loopback"),
    ("Tab", "details and sidecar scope: next pane (↑↓ scroll it)"),
    ("/", "filter pods, containers and events by name"),
    ("e", "show / hide the live event pane"),
    ("Esc", "back to the node view; clear the filter"),
    ("? F1", "this help"),
    ("q Ctrl-C", "quit"),
];

/// Below the keys; every line fits the help box's width unwrapped.
pub const HELP_NOTES: &[&str] = &[
    "SIDECAR%: the share of a pod's events (execs, opens, file reads and",
    "writes, connections, UDP datagrams) that a sidecar proxy could see:",
    "TCP connections across the pod's boundary.",
    "Bytes in B, KiB, MiB; rates per second over the last 10 s.",
    "REQ/s, 5xx ERR%, P50, P99 (--events http): requests served, or made (→)",
];

fn render_help(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let width = area.width.min(76);
    let inner = width.saturating_sub(2) as usize;
    const KEYS: usize = 17;
    let longest = HELP.iter().map(|(_, what)| what.chars().count()).max().unwrap_or(0);
    let mut lines: Vec<Line> = Vec::new();
    for (keys, what) in HELP {
        if KEYS + longest <= inner {
            lines.push(Line::from(vec![Span::styled(format!("{keys:<KEYS$}"), theme.accent()), Span::raw(*what)]));
        } else {
            // Narrow: the keys on a line of their own, what they do under them.
            lines.push(Line::styled(*keys, theme.accent()));
            lines.push(Line::raw(format!("  {what}")));
        }
    }
    lines.push(Line::raw(""));
    lines.extend(HELP_NOTES.iter().map(|note| Line::raw(*note)));
    // Rows the lines take once wrapped to the box's width.
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner.max(1)).max(1)).sum();
    let height = (rows as u16 + 2).min(area.height);
    let popup = Rect { x: area.x + (area.width - width) / 2, y: area.y, width, height };
    let first = app.help_scroll.first_line(rows, height.saturating_sub(2) as usize);
    let title = if rows + 2 > height as usize { " keys · ↑↓ for more " } else { " keys " };
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).scroll((first as u16, 0)).block(Block::bordered().title(title)),
        popup,
    );
}
