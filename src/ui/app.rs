//! The TUI's state: the node model, the screen the user is looking at and
//! each screen's own state; the keys every screen shares, then the screen's.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::panes::{movement, Panes};
use super::screens::header::SelfUsage;
use super::screens::help::Help;
use super::screens::node::NodeView;
use super::screens::{detail, sidecar};
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

impl Screen {
    /// How many panes it shows, each with a scroll of its own; the detail
    /// screen's last two, requests and names, only where they are shown.
    pub fn panes(&self, requests_shown: bool, lookups_shown: bool) -> usize {
        match self {
            Screen::Node => 1,
            Screen::Detail(_) => detail::pane_count(requests_shown, lookups_shown),
            Screen::Sidecar(_) => sidecar::PANES.len(),
        }
    }
}

pub struct App {
    pub model: NodeModel,
    pub run: RunInfo,
    pub usage: Option<SelfUsage>,
    pub screen: Screen,
    /// The node view: its rows, cursor, sort and filter.
    pub node: NodeView,
    /// On the detail and sidecar screens: the pane the scroll keys move (Tab
    /// moves on), and each pane's scroll.
    pub panes: Panes,
    pub help: Help,
    pub show_events: bool,
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
            node: NodeView::default(),
            panes: Panes::default(),
            help: Help::default(),
            show_events: false,
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

    pub fn selected_group(&self) -> Option<GroupKey> {
        self.node.selected_group(&self.model)
    }

    /// Finds the selected row again after the rows changed.
    pub fn follow_selection(&mut self) {
        self.node.follow_selection(&self.model);
    }

    /// Another screen, from its first pane, scrolled to the top.
    fn open(&mut self, screen: Screen) {
        if screen != self.screen {
            self.screen = screen;
            self.panes = Panes::default();
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        self.node.notice = None;
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
        } else if self.node.editing_filter {
            self.node.edit_filter(&self.model, key.code);
        } else if self.help.shown {
            if let Some(quit) = self.help.on_key(key.code) {
                self.quit = quit;
            }
        } else if let Some(lines) = movement(key.code) {
            match self.screen {
                Screen::Node => self.node.move_selection(&self.model, lines),
                // Detail and sidecar screens: the focused pane scrolls; the node list stays put.
                _ => self.panes.scroll(lines),
            }
        } else if !self.node.on_key(&self.model, key.code, self.shows_requests()) {
            self.on_screen_key(key.code);
        }
    }

    /// The keys that open, close and switch screens, and quit.
    fn on_screen_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') | KeyCode::F(1) => self.help.open(),
            KeyCode::Tab => self.panes.next(self.panes()),
            KeyCode::BackTab => self.panes.previous(self.panes()),
            KeyCode::Char('/') => {
                self.node.editing_filter = true;
                self.open(Screen::Node);
            }
            KeyCode::Char('e') => self.show_events = !self.show_events,
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
                } else if !self.node.filter.is_empty() {
                    self.node.filter.clear();
                }
            }
            _ => {}
        }
    }
}
