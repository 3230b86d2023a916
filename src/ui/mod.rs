//! The TUI: a source of observations (live collection, or a recording) feeds
//! the model on the UI thread; input and drawing never hold up collection.

pub mod app;
pub mod format;
pub mod input;
pub mod liveness;
pub mod render;
pub mod safe_backend;
pub mod sink;
pub mod table;

use std::fs::File;
use std::io::{self, Stdout};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::crossterm::event;
use ratatui::crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::crossterm::{cursor, execute};
use ratatui::Terminal;

use crate::aggregate::model::NodeModel;
use crate::aggregate::observation::Observation;
use crate::collect::{collect, CollectOptions};
use crate::host::{Host, UsageMeter};
use crate::output::writer::{BackgroundWriter, OutputHandle};
use crate::output::metrics::MetricsOutput;
use crate::output::JsonSink;
use crate::shutdown::{CleanupGuard, Shutdown};
use input::{Input, TerminalInput};
use safe_backend::SafeBackend;
use crate::records::run::RunInfo;
use app::{App, SelfUsage};
use crate::records::Tee;
use sink::ObservationSink;

/// Redraws are at most this frequent; data changes arrive once per interval.
const FRAME: Duration = Duration::from_millis(50);

/// Batches of observations waiting for the UI thread, at most: a few seconds' worth.
const LIVE_BATCHES: usize = 256;

/// Where observations come from, and the thread producing them.
pub struct Source {
    pub run: RunInfo,
    observations: Receiver<Vec<Observation>>,
    worker: JoinHandle<Result<()>>,
    /// The `--record` file's writer, to wait for at the end.
    recording: Option<OutputHandle>,
}


impl Source {
    /// Live collection on a thread of its own; returns once every probe is
    /// attached, or with the error that stopped it (before the terminal changes).
    pub fn live(opts: CollectOptions, record: Option<File>, metrics: Option<MetricsOutput>, shutdown: Shutdown) -> Result<Source> {
        let (to_ui, observations) = mpsc::sync_channel(LIVE_BATCHES);
        let (started_tx, started_rx) = mpsc::channel();
        let recording_writer = record.map(|file| BackgroundWriter::to_file(file, shutdown.clone())).transpose()?;
        let recording_handle = recording_writer.as_ref().map(BackgroundWriter::handle);
        let worker = std::thread::Builder::new()
            .name("podtop-collect".into())
            .spawn(move || -> Result<()> {
                collect(&opts, &shutdown, |start| {
                    let run = RunInfo::live(start, recording_writer.is_some());
                    let recording = match recording_writer {
                        Some(writer) => {
                            let mut json = JsonSink::new(writer, start.node.clone());
                            json.start(start)?;
                            Some(json)
                        }
                        None => None,
                    };
                    let _ = started_tx.send(run);
                    let metrics = metrics.as_ref().map(|m| m.sink(start.node.clone()));
                    Ok(Tee(Tee(ObservationSink::new(to_ui), recording), metrics))
                })?;
                Ok(())
            })
            .context("starting the collection thread")?;
        match started_rx.recv() {
            Ok(run) => Ok(Source { run, observations, worker, recording: recording_handle }),
            Err(_) => Err(join(worker).err().unwrap_or_else(|| anyhow!("collection ended before it started"))),
        }
    }

    /// A recording played back on a thread of its own.
    pub fn replay(path: PathBuf, speed: f64, stop: Arc<AtomicBool>) -> Result<Source> {
        let (run, reader) = crate::replay::open(&path)?;
        // Bounded: a recording is read only as fast as the UI takes it.
        let (to_ui, observations) = mpsc::sync_channel(64);
        let worker = std::thread::Builder::new()
            .name("podtop-replay".into())
            .spawn(move || crate::replay::play(reader, speed, to_ui, &stop))
            .context("starting the replay thread")?;
        Ok(Source { run, observations, worker, recording: None })
    }

    /// Applies what has arrived; false once the source has ended and is drained.
    fn drain_into(&self, model: &mut NodeModel) -> (bool, bool) {
        let mut changed = false;
        loop {
            match self.observations.try_recv() {
                Ok(batch) => {
                    changed = true;
                    for o in batch {
                        model.apply(o);
                    }
                }
                Err(TryRecvError::Empty) => return (changed, true),
                Err(TryRecvError::Disconnected) => return (changed, false),
            }
        }
    }

    fn finish(self) -> Result<()> {
        // Dropping the receiver first ends a producer waiting for room in it.
        drop(self.observations);
        let result = join(self.worker);
        if let Some(recording) = &self.recording {
            if let Some(error) = recording.finish(|| {}) {
                eprintln!("podtop: the recording ended early: {}", std::io::Error::from(error));
            }
            if recording.dropped_records() > 0 {
                eprintln!("podtop: {} records were not written to the recording in time", recording.dropped_records());
            }
        }
        result
    }
}

fn join(worker: JoinHandle<Result<()>>) -> Result<()> {
    worker.join().map_err(|_| anyhow!("the collection thread panicked"))?
}

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
pub fn run_terminal(source: Source, interval: Duration, shutdown: &Shutdown) -> Result<()> {
    let mut app = App::new(NodeModel::new(interval.as_secs_f64()), source.run.clone());
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
            let (changed, still_live) = source.drain_into(&mut app.model);
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
    source.finish()?;
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

/// Without a terminal: takes everything the source sends, then renders the
/// last screen as text (`--dump-screen COLSxROWS`), for scripts, tests and docs.
pub fn dump_screen(source: Source, interval: Duration, cols: u16, rows: u16, keys: &str) -> Result<String> {
    let mut app = App::new(NodeModel::new(interval.as_secs_f64()), source.run.clone());
    app.color = false;
    while let Ok(batch) = source.observations.recv() {
        for o in batch {
            app.model.apply(o);
        }
    }
    if app.run.is_replay() {
        app.ended = true; // everything was read
    } else {
        liveness::forget_exited(&mut app.model, &Host::live());
    }
    source.finish()?;
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
