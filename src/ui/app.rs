//! The TUI's state: the node model plus what the user is looking at, and the keys.

use std::cell::Cell;
use std::collections::HashSet;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::table::{sorted_groups, SortColumn, TcpScope};
use crate::aggregate::model::{GroupKey, NodeModel};
use crate::records::run::RunInfo;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Node,
    /// Drill-down into one group: processes, execs, files, connections.
    Detail(GroupKey),
    /// One pod through its sidecar proxy's eyes, beside what it misses.
    Sidecar(GroupKey),
}


/// podtop's own cost, measured from /proc/self.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SelfUsage {
    pub cpu_percent: f64,
    pub rss_bytes: u64,
}

impl Screen {
    /// How many panes it shows, each with a scroll of its own; the detail
    /// screen's last two, requests and names, only where they are shown.
    pub fn panes(&self, requests_shown: bool, lookups_shown: bool) -> usize {
        match self {
            Screen::Node => 1,
            Screen::Detail(_) => DETAIL_PANES.len() - 2 + usize::from(requests_shown) + usize::from(lookups_shown),
            Screen::Sidecar(_) => SIDECAR_PANES.len(),
        }
    }
}

/// The detail screen's panes, in Tab order (requests and names where shown).
pub const DETAIL_PANES: [&str; 6] = ["processes", "recent execs", "top files (read write)", "connections", "requests", "DNS names"];
/// The sidecar scope's panes, in Tab order.
pub const SIDECAR_PANES: [&str; 2] = ["what a proxy in this pod sees", "its bill, and what it misses"];

/// A list that holds more than its pane shows: the first line shown, and how
/// far it can go as last drawn (only drawing knows the list's length and the
/// pane's height; the keys stop there).
#[derive(Debug, Default)]
pub struct Scroll {
    offset: usize,
    limit: Cell<usize>,
}

impl Scroll {
    pub fn by(&mut self, lines: isize) {
        self.offset = (self.offset as isize).saturating_add(lines).clamp(0, self.limit.get() as isize) as usize;
    }

    /// For drawing: the first of `len` lines to show in `height` rows.
    pub fn first_line(&self, len: usize, height: usize) -> usize {
        let limit = len.saturating_sub(height);
        self.limit.set(limit);
        self.offset.min(limit)
    }
}

/// A row of the node view: a group, or one of its containers when expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowRef {
    Group(GroupKey),
    Container(GroupKey, String),
}

pub struct App {
    pub model: NodeModel,
    pub run: RunInfo,
    pub usage: Option<SelfUsage>,
    pub screen: Screen,
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
    /// On the detail and sidecar screens: the pane the scroll keys move (Tab
    /// moves on), and each pane's scroll.
    pub focus: usize,
    pub panes: [Scroll; DETAIL_PANES.len()],
    pub help_scroll: Scroll,
    pub filter: String,
    pub editing_filter: bool,
    pub show_events: bool,
    pub show_help: bool,
    pub color: bool,
    pub quit: bool,
    /// A replay that reached the end of its recording.
    pub ended: bool,
}

impl App {
    pub fn new(model: NodeModel, run: RunInfo) -> App {
        App {
            model,
            run,
            usage: None,
            screen: Screen::Node,
            selection: None,
            selection_name: String::new(),
            selected: 0,
            notice: None,
            expanded: HashSet::new(),
            sort: SortColumn::Execs,
            reverse: false,
            tcp: TcpScope::default(),
            focus: 0,
            panes: Default::default(),
            help_scroll: Scroll::default(),
            filter: String::new(),
            editing_filter: false,
            show_events: false,
            show_help: false,
            // https://no-color.org: any non-empty value turns colour off
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            quit: false,
            ended: false,
        }
    }

    /// Whether the screens show requests: this run watches them, or the
    /// recording it plays has some.
    pub fn shows_requests(&self) -> bool {
        self.run.watches_http() || self.model.requests_seen
    }

    /// Whether the screens show DNS lookups and the names they gave: this
    /// run watches them, or the recording it plays has some.
    pub fn shows_lookups(&self) -> bool {
        self.run.watches_dns() || self.model.lookups_seen
    }

    /// How many panes the current screen shows.
    pub fn panes(&self) -> usize {
        self.screen.panes(self.shows_requests(), self.shows_lookups())
    }

    /// The node view's rows, in display order.
    pub fn rows(&self) -> Vec<RowRef> {
        let mut rows = Vec::new();
        for group in sorted_groups(&self.model, self.sort, self.reverse, self.tcp, &self.filter) {
            rows.push(RowRef::Group(group.key.clone()));
            if self.expanded.contains(&group.key) {
                rows.extend(group.containers.keys().map(|id| RowRef::Container(group.key.clone(), id.clone())));
            }
        }
        rows
    }

    pub fn selected_group(&self) -> Option<GroupKey> {
        let row = self.selection.clone().or_else(|| self.rows().get(self.selected).cloned())?;
        match row {
            RowRef::Group(key) | RowRef::Container(key, _) => Some(key),
        }
    }

    /// A row's name, as the node view shows it.
    fn row_name(&self, row: &RowRef) -> String {
        let (RowRef::Group(key) | RowRef::Container(key, _)) = row;
        let Some(group) = self.model.groups.get(key) else { return String::new() };
        let pod = match &group.namespace {
            Some(ns) => format!("{ns}/{}", group.title),
            None => group.title.clone(),
        };
        match row {
            RowRef::Group(_) => pod,
            RowRef::Container(_, id) => format!("{pod}/{}", super::format::container_in(group, id)),
        }
    }

    fn move_selection(&mut self, by: isize) {
        self.follow_selection();
        let rows = self.rows();
        if rows.is_empty() {
            return;
        }
        self.selected = (self.selected as isize).saturating_add(by).clamp(0, rows.len() as isize - 1) as usize;
        self.selection_name = self.row_name(&rows[self.selected]);
        self.selection = Some(rows[self.selected].clone());
        self.notice = None;
    }

    /// Finds the selected row again after the rows changed (a re-sort, new
    /// rows, rows that left). A selected row that left hands the cursor to
    /// the row now in its place, and the footer says so.
    pub fn follow_selection(&mut self) {
        let rows = self.rows();
        if let Some(at) = self.selection.as_ref().and_then(|s| rows.iter().position(|r| r == s)) {
            self.selected = at;
            self.selection_name = self.row_name(&rows[at]);
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
            self.notice = Some(format!("{} left the list; the cursor is on {}", self.selection_name, self.row_name(&now)));
        }
        self.selection_name = self.row_name(&now);
        self.selection = Some(now);
    }

    /// Another screen, from its first pane, scrolled to the top.
    fn open(&mut self, screen: Screen) {
        if screen != self.screen {
            self.screen = screen;
            self.focus = 0;
            self.panes = Default::default();
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        self.notice = None;
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if self.editing_filter {
            match key.code {
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
            // A new filter starts at the top of what it lets through.
            self.selection = None;
            self.selected = 0;
            self.follow_selection();
            return;
        }
        if self.show_help {
            // The scroll keys read on where the help does not fit; any other key closes it.
            match movement(key.code) {
                Some(lines) => self.help_scroll.by(lines),
                None => {
                    self.show_help = false;
                    self.quit = key.code == KeyCode::Char('q');
                }
            }
            return;
        }
        if let Some(lines) = movement(key.code) {
            match self.screen {
                Screen::Node => self.move_selection(lines),
                // Detail and sidecar screens: the focused pane scrolls; the node list stays put.
                _ => self.panes[self.focus].by(lines),
            }
            return;
        }
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') | KeyCode::F(1) => {
                self.show_help = true;
                self.help_scroll = Scroll::default();
            }
            KeyCode::Tab => self.focus = (self.focus + 1) % self.panes(),
            KeyCode::BackTab => self.focus = (self.focus + self.panes() - 1) % self.panes(),
            KeyCode::Char('t') => {
                self.tcp = self.tcp.toggled();
                self.follow_selection();
            }
            KeyCode::Char('/') => {
                self.editing_filter = true;
                self.open(Screen::Node);
            }
            KeyCode::Char('s') => {
                self.sort = self.sort.next(self.shows_requests());
                self.follow_selection();
            }
            KeyCode::Char('r') => {
                self.reverse = !self.reverse;
                self.follow_selection();
            }
            KeyCode::Char('e') => self.show_events = !self.show_events,
            KeyCode::Char(' ') | KeyCode::Right | KeyCode::Char('l') => {
                if let Some(key) = self.selected_group() {
                    if !self.expanded.remove(&key) {
                        self.expanded.insert(key);
                    } else {
                        self.selection = Some(RowRef::Group(key)); // off a container row that folds away
                    }
                    self.follow_selection();
                }
            }
            KeyCode::Left | KeyCode::Char('h') => {
                if let Some(key) = self.selected_group() {
                    self.expanded.remove(&key);
                    self.selection = Some(RowRef::Group(key));
                    self.follow_selection();
                }
            }
            KeyCode::Enter => {
                if let Some(key) = self.selected_group() {
                    self.open(Screen::Detail(key));
                }
            }
            KeyCode::Char('c') => {
                let key = match &self.screen {
                    Screen::Detail(key) | Screen::Sidecar(key) => Some(key.clone()),
                    Screen::Node => self.selected_group(),
                };
                if let Some(key) = key {
                    self.open(if self.screen == Screen::Sidecar(key.clone()) { Screen::Node } else { Screen::Sidecar(key) });
                }
            }
            KeyCode::Esc | KeyCode::Backspace => {
                if self.screen != Screen::Node {
                    self.open(Screen::Node);
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                }
            }
            _ => {}
        }
    }
}

/// Lines a scroll or cursor key moves by, for the keys that move.
fn movement(code: KeyCode) -> Option<isize> {
    match code {
        KeyCode::Up | KeyCode::Char('k') => Some(-1),
        KeyCode::Down | KeyCode::Char('j') => Some(1),
        KeyCode::PageUp => Some(-10),
        KeyCode::PageDown => Some(10),
        KeyCode::Home | KeyCode::Char('g') => Some(isize::MIN / 2),
        KeyCode::End | KeyCode::Char('G') => Some(isize::MAX / 2),
        _ => None,
    }
}
