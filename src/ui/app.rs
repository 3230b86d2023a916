//! The TUI's state: the node model plus what the user is looking at, and the keys.

use std::collections::HashSet;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::table::{sorted_groups, SortColumn};
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
    pub selected: usize,
    pub expanded: HashSet<GroupKey>,
    pub sort: SortColumn,
    pub reverse: bool,
    pub filter: String,
    pub editing_filter: bool,
    pub show_events: bool,
    pub show_help: bool,
    pub color: bool,
    pub quit: bool,
}

impl App {
    pub fn new(model: NodeModel, run: RunInfo) -> App {
        App {
            model,
            run,
            usage: None,
            screen: Screen::Node,
            selected: 0,
            expanded: HashSet::new(),
            sort: SortColumn::Execs,
            reverse: false,
            filter: String::new(),
            editing_filter: false,
            show_events: false,
            show_help: false,
            // https://no-color.org: any non-empty value turns colour off
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            quit: false,
        }
    }

    /// The node view's rows, in display order.
    pub fn rows(&self) -> Vec<RowRef> {
        let mut rows = Vec::new();
        for group in sorted_groups(&self.model, self.sort, self.reverse, &self.filter) {
            rows.push(RowRef::Group(group.key.clone()));
            if self.expanded.contains(&group.key) {
                rows.extend(group.containers.keys().map(|id| RowRef::Container(group.key.clone(), id.clone())));
            }
        }
        rows
    }

    pub fn selected_group(&self) -> Option<GroupKey> {
        match self.rows().get(self.selected)? {
            RowRef::Group(key) | RowRef::Container(key, _) => Some(key.clone()),
        }
    }

    fn move_selection(&mut self, by: isize) {
        let count = self.rows().len();
        if count == 0 {
            self.selected = 0;
            return;
        }
        self.selected = (self.selected as isize + by).clamp(0, count as isize - 1) as usize;
    }

    /// Keeps the selection on a row after the rows changed.
    pub fn clamp_selection(&mut self) {
        self.move_selection(0);
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
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
            self.selected = 0;
            return;
        }
        if self.show_help {
            self.show_help = false;
            if matches!(key.code, KeyCode::Char('q')) {
                self.quit = true;
            }
            return;
        }
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') | KeyCode::F(1) => self.show_help = true,
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::PageUp => self.move_selection(-10),
            KeyCode::PageDown => self.move_selection(10),
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.move_selection(isize::MAX / 2),
            KeyCode::Char('/') => {
                self.editing_filter = true;
                self.screen = Screen::Node;
            }
            KeyCode::Char('s') => self.sort = self.sort.next(),
            KeyCode::Char('r') => self.reverse = !self.reverse,
            KeyCode::Char('e') => self.show_events = !self.show_events,
            KeyCode::Char(' ') | KeyCode::Right | KeyCode::Char('l') => {
                if let Some(key) = self.selected_group() {
                    if !self.expanded.remove(&key) {
                        self.expanded.insert(key);
                    }
                }
            }
            KeyCode::Left | KeyCode::Char('h') => {
                if let Some(key) = self.selected_group() {
                    self.expanded.remove(&key);
                }
            }
            KeyCode::Enter => {
                if let Some(key) = self.selected_group() {
                    self.screen = Screen::Detail(key);
                }
            }
            KeyCode::Char('c') => {
                let key = match &self.screen {
                    Screen::Detail(key) | Screen::Sidecar(key) => Some(key.clone()),
                    Screen::Node => self.selected_group(),
                };
                if let Some(key) = key {
                    self.screen = if self.screen == Screen::Sidecar(key.clone()) { Screen::Node } else { Screen::Sidecar(key) };
                }
            }
            KeyCode::Esc | KeyCode::Backspace => {
                if self.screen != Screen::Node {
                    self.screen = Screen::Node;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                }
            }
            _ => {}
        }
    }
}
