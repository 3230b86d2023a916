//! The TUI: a feed of observations (live collection, or a recording) fills
//! the model on the UI thread; input and drawing never hold up collection.

pub mod app;
pub mod format;
pub mod input;
pub mod liveness;
pub mod panes;
pub mod render;
pub mod safe_backend;
pub mod screens;
pub mod table;
pub mod theme;

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::crossterm::event;
use ratatui::crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::crossterm::{cursor, execute};
use ratatui::Terminal;

use crate::aggregate::feed::Feed;
use crate::aggregate::model::NodeModel;
use crate::host::{Host, UsageMeter};
use crate::shutdown::{CleanupGuard, Shutdown};
use app::App;
use screens::header::SelfUsage;
use input::{Input, TerminalInput};
use safe_backend::SafeBackend;

/// Redraws are at most this frequent; data changes arrive once per interval.
const FRAME: Duration = Duration::from_millis(50);

/// Raw mode and the alternate screen while it lives; restored on drop, also
/// when unwinding from a panic (and by the panic hook before the message),
/// and by the shutdown watchdog when the UI thread is stuck.
struct TerminalGuard {
    terminal: Terminal<SafeBackend<CrosstermBackend<Stdout>>>,
    _emergency: CleanupGuard,
}

fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
}

/// The same, from another thread while the UI thread may be stuck writing
/// to a terminal that stopped taking output: never waits for the terminal.
fn restore_terminal_nonblocking() {
    let _ = disable_raw_mode();
    let mut fd = libc::pollfd { fd: libc::STDOUT_FILENO, events: libc::POLLOUT, revents: 0 };
    // SAFETY: one pollfd we own, no wait.
    if unsafe { libc::poll(&mut fd, 1, 0) } == 1 && fd.revents & libc::POLLOUT != 0 {
        let leave = b"\x1b[?1049l\x1b[?25h";
        // SAFETY: a short write of bytes we own to fd 1; its result does not matter.
        unsafe { libc::write(libc::STDOUT_FILENO, leave.as_ptr().cast(), leave.len()) };
    }
}

impl TerminalGuard {
    fn enter(shutdown: &Shutdown) -> Result<Self> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        enable_raw_mode().context("switching the terminal to raw mode")?;
        let mut stdout = io::stdout();
        if let Err(e) = execute!(stdout, EnterAlternateScreen, cursor::Hide) {
            restore_terminal();
            return Err(e).context("opening the alternate screen");
        }
        let terminal = Terminal::new(SafeBackend::new(CrosstermBackend::new(stdout))).context("setting up the terminal")?;
        Ok(TerminalGuard { terminal, _emergency: shutdown.on_emergency(restore_terminal_nonblocking) })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// The interactive TUI until `q`, a stop request, the loss of the terminal,
/// or the end of a live source.
pub fn run_terminal(feed: Feed, interval: Duration, shutdown: &Shutdown) -> Result<()> {
    let mut app = App::new(NodeModel::new(interval.as_secs_f64()), feed.run.clone());
    let resized = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGWINCH, resized.clone()).context("watching the terminal's size")?;
    let mut input = TerminalInput::open();
    let mut guard = TerminalGuard::enter(shutdown)?;
    let host = Host::live();
    let mut meter = UsageMeter::new(host.clone());
    let mut last_usage = Instant::now() - Duration::from_secs(10);
    let mut last_draw = Instant::now() - FRAME;
    let mut dirty = true;
    let mut live = true;
    let is_replay = app.run.is_replay();
    let mut last_liveness = (Instant::now(), 0u64);
    loop {
        if live {
            let (changed, still_live) = feed.drain_into(&mut app.model);
            dirty |= changed;
            live = still_live;
            if !live && !is_replay {
                break; // collection ended (--duration, or an error reported below)
            }
            if !live {
                app.ended = true; // the recording's end: the screen says so, rates stay as they last were
                dirty = true;
            }
        }
        shutdown.progress();
        if app.quit || shutdown.requested() {
            break;
        }
        dirty |= resized.swap(false, Ordering::Relaxed);
        // Exits lost with other events leave ghosts: live, check what is listed.
        let lost = app.model.totals.lost;
        if !is_replay && (lost > last_liveness.1 || last_liveness.0.elapsed() >= liveness::CHECK_EVERY) {
            dirty |= liveness::forget_exited(&mut app.model, &host) > 0;
            last_liveness = (Instant::now(), lost);
        }
        if last_usage.elapsed() >= Duration::from_secs(1) {
            let own = meter.sample();
            app.usage = own.rss_bytes.map(|rss_bytes| SelfUsage { cpu_percent: 100.0 * own.cpu_cores.unwrap_or(0.0), rss_bytes });
            last_usage = Instant::now();
            dirty = true;
        }
        if dirty && last_draw.elapsed() >= FRAME {
            app.follow_selection();
            guard.terminal.draw(|frame| render::render(frame, &app)).context("drawing")?;
            last_draw = Instant::now();
            dirty = false;
        }
        match input.next(FRAME) {
            Input::Key(key) => {
                app.on_key(key);
                dirty = true;
            }
            Input::Idle => {}
            Input::Closed => break, // the terminal is gone: nobody is looking
        }
    }
    shutdown.request();
    drop(guard);
    feed.finish()?;
    if !is_replay {
        // As the JSON stream does: what was seen and lost, once the screen is gone.
        let t = &app.model.totals;
        eprintln!(
            "podtop: {} events seen, {} lost in the kernel (ring buffer full), {} counter updates dropped (maps full), {} probes detached",
            t.seen, t.lost, t.dropped, app.run.probes_attached
        );
    }
    Ok(())
}

/// Without a terminal: takes everything the feed sends, then renders the
/// last screen as text (`--dump-screen COLSxROWS`), for scripts, tests and docs.
pub fn dump_screen(feed: Feed, interval: Duration, cols: u16, rows: u16, keys: &str) -> Result<String> {
    let mut app = App::new(NodeModel::new(interval.as_secs_f64()), feed.run.clone());
    app.color = false;
    feed.drain_all_into(&mut app.model);
    if app.run.is_replay() {
        app.ended = true; // everything was read
    } else {
        liveness::forget_exited(&mut app.model, &Host::live());
    }
    feed.finish()?;
    for c in keys.chars() {
        let code = match c {
            '\n' => event::KeyCode::Enter,
            '\u{1b}' => event::KeyCode::Esc,
            '\t' => event::KeyCode::Tab,
            c => event::KeyCode::Char(c),
        };
        app.on_key(event::KeyEvent::new(code, event::KeyModifiers::NONE));
    }
    Ok(screen_text(&app, cols, rows))
}

/// The screen of `app` as plain text, one line per row.
pub fn screen_text(app: &App, cols: u16, rows: u16) -> String {
    let mut terminal = Terminal::new(SafeBackend::new(TestBackend::new(cols, rows))).expect("a test backend never fails");
    terminal.draw(|frame| render::render(frame, app)).expect("a test backend never fails");
    let buffer = terminal.backend().inner().buffer();
    let mut text = String::new();
    for y in 0..rows {
        let line: String = (0..cols).map(|x| buffer[(x, y)].symbol().to_string()).collect();
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests;
