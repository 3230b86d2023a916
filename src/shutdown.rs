//! How podtop ends, in one place.
//!
//! SIGINT, SIGTERM, SIGHUP and the end of `--duration` ask it to stop. The
//! program then ends on its own path: drain the ring buffer, write the last
//! records, detach, restore the terminal, remove the demo. That path reports
//! progress; whatever it gets stuck on (a terminal that stopped taking
//! output, a reader that stopped reading, a filesystem that stopped
//! answering), a watchdog thread ends the process once it has made no
//! progress for 0.7 s (and 3 s after the request at the latest, on a machine
//! so slow that the path is still moving): it runs the emergency cleanups
//! registered here (restore the terminal, remove the demo) and exits; the
//! kernel detaches every BPF link when the process's file descriptors close.
//! A second signal skips the wait.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// How long the program's own path may go without progress once asked to stop.
const GRACE: Duration = Duration::from_millis(700);
/// How long it may take at most, progress or not.
const CAP: Duration = Duration::from_secs(3);
/// How often the watchdog looks at signals and the deadline.
const TICK: Duration = Duration::from_millis(20);

type Cleanup = Box<dyn Fn() + Send + Sync>;

struct State {
    stop: Arc<AtomicBool>,
    finished: AtomicBool,
    /// When the program's path last moved, in ms since `epoch`.
    progress_ms: AtomicU64,
    epoch: Instant,
    cleanups: Mutex<Vec<(u64, Cleanup)>>,
    next_id: Mutex<u64>,
}

/// The stop request every loop watches, and the watchdog behind it.
#[derive(Clone)]
pub struct Shutdown {
    state: Arc<State>,
}

/// Removes its emergency cleanup when dropped: the normal path did the work.
pub struct CleanupGuard {
    state: Arc<State>,
    id: u64,
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        self.state.cleanups.lock().unwrap_or_else(|e| e.into_inner()).retain(|(id, _)| *id != self.id);
    }
}

impl State {
    /// Nothing requested, nothing to clean up, progress counted from now.
    fn new() -> State {
        State {
            stop: Arc::new(AtomicBool::new(false)),
            finished: AtomicBool::new(false),
            progress_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            cleanups: Mutex::new(Vec::new()),
            next_id: Mutex::new(0),
        }
    }
}

impl Shutdown {
    /// Installs the signal handlers and starts the watchdog; `deadline` is
    /// `--duration`, counted from now.
    pub fn install(deadline: Option<Duration>) -> Result<Shutdown> {
        let state = Arc::new(State::new());
        // A hang-up that was ignored when podtop started (nohup) stays ignored.
        let watched_signals: Vec<i32> = [SIGINT, SIGTERM, SIGHUP].into_iter().filter(|s| *s != SIGHUP || !ignored(SIGHUP)).collect();
        let mut signals = Signals::new(watched_signals).context("installing signal handlers")?;
        let watched = state.clone();
        let deadline = deadline.map(|d| Instant::now() + d);
        std::thread::Builder::new()
            .name("podtop-shutdown".into())
            .spawn(move || watchdog(&watched, &mut signals, deadline))
            .context("starting the shutdown watchdog")?;
        Ok(Shutdown { state })
    }

    /// A stop request that ends nothing by itself, for tests and tools.
    pub fn inert() -> Shutdown {
        Shutdown { state: Arc::new(State::new()) }
    }

    /// Set once podtop is asked to stop (signal, deadline, or the program itself).
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.state.stop.clone()
    }

    pub fn requested(&self) -> bool {
        self.state.stop.load(Ordering::Relaxed)
    }

    /// Asks every loop to stop, as a signal would.
    pub fn request(&self) {
        self.state.stop.store(true, Ordering::Relaxed);
    }

    /// Registers what must be undone even when the normal path cannot run
    /// (it is stuck): the cleanup runs only then, on the watchdog's thread.
    pub fn on_emergency(&self, cleanup: impl Fn() + Send + Sync + 'static) -> CleanupGuard {
        let id = {
            let mut next = self.state.next_id.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        self.state.cleanups.lock().unwrap_or_else(|e| e.into_inner()).push((id, Box::new(cleanup)));
        CleanupGuard { state: self.state.clone(), id }
    }

    /// The program's own path moved on (a loop turned, a step ended): while
    /// it does, the watchdog lets it finish, up to its cap.
    pub fn progress(&self) {
        self.state.progress_ms.store(self.state.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// The normal path has ended: the watchdog stands down.
    pub fn finished(&self) {
        self.state.finished.store(true, Ordering::Relaxed);
    }
}

/// Whether `signal` is set to be ignored (inherited from the parent).
fn ignored(signal: i32) -> bool {
    // SAFETY: a query only: a null new action leaves the disposition as it is.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut current) == 0 && current.sa_sigaction == libc::SIG_IGN
    }
}

fn watchdog(state: &State, signals: &mut Signals, deadline: Option<Instant>) {
    let mut asked_at: Option<Instant> = None;
    let mut signalled = 0;
    loop {
        signalled += signals.pending().count();
        let now = Instant::now();
        if asked_at.is_none() && (signalled > 0 || deadline.is_some_and(|d| now >= d) || state.stop.load(Ordering::Relaxed)) {
            state.stop.store(true, Ordering::Relaxed);
            asked_at = Some(now);
        }
        if state.finished.load(Ordering::Relaxed) {
            return;
        }
        if let Some(at) = asked_at {
            let moved = state.epoch + Duration::from_millis(state.progress_ms.load(Ordering::Relaxed));
            let still_since = now.duration_since(at.max(moved));
            if signalled > 1 || still_since >= GRACE || now.duration_since(at) >= CAP {
                emergency_exit(state, signalled > 1);
            }
        }
        std::thread::sleep(TICK);
    }
}

/// Runs the registered cleanups and ends the process now.
fn emergency_exit(state: &State, second_signal: bool) -> ! {
    let cleanups = std::mem::take(&mut *state.cleanups.lock().unwrap_or_else(|e| e.into_inner()));
    for (_, cleanup) in cleanups.iter().rev() {
        cleanup();
    }
    let why = if second_signal { "a second signal" } else { "its own path stopped moving" };
    write_stderr_nonblocking(&format!("podtop: stopped by the watchdog ({why}); every probe is detached as the process exits\n"));
    // SAFETY: _exit ends the process without running destructors, which may be
    // what is stuck; the kernel closes every descriptor, detaching the probes.
    unsafe { libc::_exit(if second_signal { 130 } else { 0 }) }
}

/// A line on stderr if it can be written right now; never waits for it.
pub fn write_stderr_nonblocking(line: &str) {
    let mut fd = libc::pollfd { fd: libc::STDERR_FILENO, events: libc::POLLOUT, revents: 0 };
    // SAFETY: one pollfd we own, no wait.
    if unsafe { libc::poll(&mut fd, 1, 0) } == 1 && fd.revents & libc::POLLOUT != 0 {
        // SAFETY: writing bytes we own to fd 2; a short or failed write is acceptable here.
        unsafe { libc::write(libc::STDERR_FILENO, line.as_ptr().cast(), line.len()) };
    }
}
