//! The node view: one row per pod (and bare container, and the host), a
//! pod's containers under it where it is expanded; the cursor, the sort, the
//! TCP scope and the filter, their keys, and the table.

use std::cell::Cell;
use std::collections::HashSet;

use ratatui::crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::aggregate::model::{Activity, ContainerRow, Group, GroupKey, NodeModel};
use crate::aggregate::requests::Requests;
use crate::l7::exchanges::Role;
use super::keys::{hint, KeyHint};
use super::Context;
use crate::ui::format::{bytes, container_in, container_title, group_name, latency, percent, rate, sparkline};
use crate::ui::table::{sorted_groups, SortColumn, TcpScope};
use crate::ui::theme::Theme;

/// The footer's keys here, most wanted first; the short forms all fit in 80 columns.
pub const KEYS: &[KeyHint] = &[
    hint("↑↓ move", "↑↓"),
    hint("Enter details", "⏎ open"),
    hint("c sidecar scope", "c scope"),
    hint("Space expand", "␣ fold"),
    hint("s sort", "s sort"),
    hint("t TCP scope", "t tcp"),
    hint("/ filter", "/ filter"),
    hint("e events", "e events"),
];

/// A row of the node view: a group, or one of its containers when expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowRef {
    Group(GroupKey),
    Container(GroupKey, String),
}

/// What the node view shows and where its cursor is.
pub struct NodeView {
    /// The row the cursor is on, by identity: rows re-sort every interval,
    /// and the cursor stays on the pod or container the user chose.
    selection: Option<RowRef>,
    /// Its name when last seen, to say which row left.
    selection_name: String,
    /// Its place in the rows as last drawn, where a row that leaves hands the cursor on.
    pub selected: usize,
    /// Said once in the footer: the selected row left, and where the cursor went.
    pub notice: Option<String>,
    pub expanded: HashSet<GroupKey>,
    pub sort: SortColumn,
    pub reverse: bool,
    /// Which TCP bytes the TX/RX columns count.
    pub tcp: TcpScope,
    pub filter: String,
    pub editing_filter: bool,
    /// The table's inner width when last drawn: `s` moves among the columns
    /// that width shows (0 before the first draw: all of them).
    drawn_width: Cell<u16>,
}

impl Default for NodeView {
    fn default() -> Self {
        NodeView {
            selection: None,
            selection_name: String::new(),
            selected: 0,
            notice: None,
            expanded: HashSet::new(),
            sort: SortColumn::Execs,
            reverse: false,
            tcp: TcpScope::default(),
            filter: String::new(),
            editing_filter: false,
            drawn_width: Cell::new(0),
        }
    }
}

impl NodeView {
    /// The rows, in display order.
    pub fn rows(&self, model: &NodeModel) -> Vec<RowRef> {
        let mut rows = Vec::new();
        for group in sorted_groups(model, self.sort, self.reverse, self.tcp, &self.filter) {
            rows.push(RowRef::Group(group.key.clone()));
            if self.expanded.contains(&group.key) {
                rows.extend(group.containers.keys().map(|id| RowRef::Container(group.key.clone(), id.clone())));
            }
        }
        rows
    }

    pub fn selected_group(&self, model: &NodeModel) -> Option<GroupKey> {
        let row = self.selection.clone().or_else(|| self.rows(model).get(self.selected).cloned())?;
        match row {
            RowRef::Group(key) | RowRef::Container(key, _) => Some(key),
        }
    }

    /// The cursor keys: up or down the rows, stopping at either end.
    pub fn move_selection(&mut self, model: &NodeModel, by: isize) {
        self.follow_selection(model);
        let rows = self.rows(model);
        if rows.is_empty() {
            return;
        }
        self.selected = (self.selected as isize).saturating_add(by).clamp(0, rows.len() as isize - 1) as usize;
        self.selection_name = row_name(model, &rows[self.selected]);
        self.selection = Some(rows[self.selected].clone());
        self.notice = None;
    }

    /// Finds the selected row again after the rows changed (a re-sort, new
    /// rows, rows that left). A selected row that left hands the cursor to
    /// the row now in its place, and the footer says so.
    pub fn follow_selection(&mut self, model: &NodeModel) {
        let rows = self.rows(model);
        if let Some(at) = self.selection.as_ref().and_then(|s| rows.iter().position(|r| r == s)) {
            self.selected = at;
            self.selection_name = row_name(model, &rows[at]);
            return;
        }
        let left = self.selection.take();
        if rows.is_empty() {
            self.selected = 0;
            return;
        }
        self.selected = self.selected.min(rows.len() - 1);
        let now = rows[self.selected].clone();
        if left.is_some() {
            self.notice = Some(format!("{} left the list; the cursor is on {}", self.selection_name, row_name(model, &now)));
        }
        self.selection_name = row_name(model, &now);
        self.selection = Some(now);
    }

    /// A key while the filter is edited; a new filter starts at the top of what it lets through.
    pub fn edit_filter(&mut self, model: &NodeModel, code: KeyCode) {
        match code {
            KeyCode::Enter => self.editing_filter = false,
            KeyCode::Esc => {
                self.editing_filter = false;
                self.filter.clear();
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(c) => self.filter.push(c),
            _ => {}
        }
        self.selection = None;
        self.selected = 0;
        self.follow_selection(model);
    }

    /// The node view's own keys (they act from every screen): the TCP scope,
    /// the sort, expanding and collapsing. False for any other key.
    pub fn on_key(&mut self, model: &NodeModel, code: KeyCode, requests_shown: bool) -> bool {
        match code {
            KeyCode::Char('t') => self.tcp = self.tcp.toggled(),
            KeyCode::Char('s') => self.sort = self.next_sort(requests_shown),
            KeyCode::Char('r') => self.reverse = !self.reverse,
            KeyCode::Char(' ') | KeyCode::Right | KeyCode::Char('l') => {
                let Some(key) = self.selected_group(model) else { return true };
                if !self.expanded.remove(&key) {
                    self.expanded.insert(key);
                } else {
                    self.selection = Some(RowRef::Group(key)); // off a container row that folds away
                }
            }
            KeyCode::Left | KeyCode::Char('h') => {
                let Some(key) = self.selected_group(model) else { return true };
                self.expanded.remove(&key);
                self.selection = Some(RowRef::Group(key));
            }
            _ => return false,
        }
        self.follow_selection(model);
        true
    }
}

impl NodeView {
    /// The column `s` sorts by next: the next one on screen, never a column
    /// the terminal's width hides.
    fn next_sort(&self, requests_shown: bool) -> SortColumn {
        let width = self.drawn_width.get();
        if width == 0 {
            return self.sort.next(requests_shown);
        }
        let shown = Columns::fit(width, requests_shown, self.sort).visible;
        let mut next = self.sort;
        loop {
            next = next.next(requests_shown);
            let at = SortColumn::ALL.iter().position(|c| *c == next).unwrap_or(0);
            if next == self.sort || shown.contains(&at) {
                return next;
            }
        }
    }
}

/// A row's name, as the node view shows it.
fn row_name(model: &NodeModel, row: &RowRef) -> String {
    let (RowRef::Group(key) | RowRef::Container(key, _)) = row;
    let Some(group) = model.groups.get(key) else { return String::new() };
    let pod = group_name(group);
    match row {
        RowRef::Group(_) => pod,
        RowRef::Container(_, id) => format!("{pod}/{}", container_in(group, id)),
    }
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
const WIDTHS: [u16; 15] = [20, 6, 7, 7, 9, 9, 9, 9, 6, 7, 6, 7, 7, 9, 16];
const ACTIVITY: usize = WIDTHS.len() - 1;
/// Spare width goes to the name up to this many more columns, then to the sparkline.
const NAME_GROWS_BY: u16 = 24;
/// Which columns give way first when the terminal is narrow (the name,
/// SIDECAR% and the column sorted by always stay): the layout never has to
/// squeeze columns. The request columns, there only when asked for, go last.
const DROP_ORDER: [usize; 13] = [ACTIVITY, 1, 8, 5, 4, 3, 7, 6, 2, 11, 10, 12, 9];

/// The columns shown, and each one's width, in `width` columns.
struct Columns {
    visible: Vec<usize>,
    widths: [u16; WIDTHS.len()],
}

impl Columns {
    fn fit(width: u16, requests_shown: bool, sort: SortColumn) -> Columns {
        let sorted = SortColumn::ALL.iter().position(|c| *c == sort);
        let needed = |cols: &[usize]| cols.iter().map(|c| WIDTHS[*c]).sum::<u16>() + cols.len() as u16 - 1;
        let mut visible: Vec<usize> =
            (0..WIDTHS.len()).filter(|c| requests_shown || !SortColumn::ALL.get(*c).is_some_and(|s| s.is_request())).collect();
        for drop in DROP_ORDER.into_iter().filter(|c| Some(*c) != sorted) {
            if needed(&visible) <= width {
                break;
            }
            visible.retain(|c| *c != drop);
        }
        let spare = width.saturating_sub(needed(&visible));
        let mut widths = WIDTHS;
        let spark_shown = visible.contains(&ACTIVITY);
        let to_name = if spark_shown { spare.min(NAME_GROWS_BY) } else { spare };
        widths[0] += to_name;
        if spark_shown {
            widths[ACTIVITY] += spare - to_name;
        }
        Columns { visible, widths }
    }

    /// The cells of the visible columns, of a row's cells for all of them.
    fn pick(&self, cells: Vec<String>) -> Vec<String> {
        self.visible.iter().map(|c| cells[*c].clone()).collect()
    }

    fn constraints(&self) -> Vec<Constraint> {
        self.visible.iter().map(|c| Constraint::Length(self.widths[*c])).collect()
    }
}

/// The column headers, the sort column marked: ▲ ascending (A to Z, least
/// first), ▼ descending; names sort A to Z, numbers most first.
fn header_cells(view: &NodeView) -> Vec<String> {
    let mut cells = vec![SortColumn::Name.header(view.tcp).to_string()];
    for column in &SortColumn::ALL[1..] {
        cells.push(column.header(view.tcp).to_string());
    }
    cells.push("ACTIVITY".to_string());
    if let Some(i) = SortColumn::ALL.iter().position(|c| *c == view.sort) {
        let ascending = (view.sort == SortColumn::Name) != view.reverse;
        cells[i].push(if ascending { '▲' } else { '▼' });
    }
    cells
}

fn group_cells(view: &NodeView, g: &Group, spark_width: usize) -> Vec<String> {
    let marker = if g.containers.is_empty() {
        "  "
    } else if view.expanded.contains(&g.key) {
        "▾ "
    } else {
        "▸ "
    };
    let mut cells = vec![format!("{marker}{}", group_name(g)), g.processes.len().to_string()];
    cells.extend(rate_cells(&g.activity, view.tcp));
    cells.push(g.open_connections().to_string());
    cells.extend(request_cells(&g.requests));
    cells.push(if g.is_pod() { percent(g.sidecar_percent()) } else { "-".into() });
    cells.push(sparkline(g.history.iter().copied(), spark_width));
    cells
}

/// `name_width`: the name column's; the runtime is named where it fits whole,
/// never cut to `proxy (container`.
fn container_cells(view: &NodeView, g: &Group, c: &ContainerRow, name_width: usize) -> Vec<String> {
    let title = format!("   └ {}", container_title(c));
    let with_runtime = c.runtime.map(|r| format!("{title} ({r})")).filter(|t| t.chars().count() <= name_width);
    let procs = g.processes.values().filter(|p| p.container_id.as_deref() == Some(c.id.as_str())).count();
    let mut cells = vec![with_runtime.unwrap_or(title), procs.to_string()];
    cells.extend(rate_cells(&c.activity, view.tcp));
    cells.push(String::new());
    // Requests are the pod's (a container's alone would count its hops to the others).
    cells.extend(std::iter::repeat_n(String::new(), 4));
    cells.push(percent(c.activity.sidecar_percent()));
    cells.push(String::new());
    cells
}

pub fn draw(frame: &mut Frame, ctx: &Context, view: &NodeView, theme: &Theme, area: Rect) {
    let inner_width = area.width.saturating_sub(2);
    view.drawn_width.set(inner_width);
    let columns = Columns::fit(inner_width, ctx.requests_shown, view.sort);
    let header = Row::new(columns.pick(header_cells(view))).style(theme.accent());
    let spark_width = columns.widths[ACTIVITY] as usize;
    let rows: Vec<Row> = view
        .rows(ctx.model)
        .iter()
        .filter_map(|row| match row {
            RowRef::Group(key) => {
                let g = ctx.model.groups.get(key)?;
                Some(Row::new(columns.pick(group_cells(view, g, spark_width))))
            }
            RowRef::Container(key, id) => {
                let g = ctx.model.groups.get(key)?;
                let c = g.containers.get(id)?;
                Some(Row::new(columns.pick(container_cells(view, g, c, columns.widths[0] as usize))).style(theme.dim()))
            }
        })
        .collect();
    let empty = rows.is_empty();
    let mut title = format!(" node · {} (t) ", view.tcp.described());
    if !view.filter.is_empty() {
        title.push_str(&format!("· filter: {} ", view.filter));
    }
    let table = Table::new(rows, columns.constraints())
        .header(header)
        .block(Block::bordered().title(title))
        .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(Some(view.selected));
    frame.render_stateful_widget(table, area, &mut state);
    if empty {
        let inner = Rect { x: area.x + 2, y: area.y + 2, width: area.width.saturating_sub(4), height: 1 };
        frame.render_widget(Paragraph::new("waiting for activity…").style(theme.dim()), inner);
    }
}
