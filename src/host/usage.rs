//! podtop's own CPU and memory, measured from /proc/self as a sidecar's are
//! from its cgroup: the TUI's header and the `sidecars` record read the same meter.

use std::time::Instant;

use super::Host;

/// What this process cost since the last sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OwnUsage {
    /// All threads, user and system time, in cores; None on the first sample.
    pub cpu_cores: Option<f64>,
    pub rss_bytes: Option<u64>,
}

pub struct UsageMeter {
    host: Host,
    last: Option<(Instant, u64)>,
    ticks_per_second: f64,
    page_size: u64,
}

impl UsageMeter {
    pub fn new(host: Host) -> UsageMeter {
        UsageMeter { host, last: None, ticks_per_second: procfs::ticks_per_second().max(1) as f64, page_size: procfs::page_size().max(1) }
    }

    pub fn sample(&mut self) -> OwnUsage {
        let me = self.host.myself();
        let now = Instant::now();
        let ticks = me.cpu_ticks();
        let cpu_cores = match (ticks, self.last) {
            (Some(ticks), Some((then, before))) if now > then => {
                Some(ticks.saturating_sub(before) as f64 / self.ticks_per_second / now.duration_since(then).as_secs_f64())
            }
            _ => None,
        };
        if let Some(ticks) = ticks {
            self.last = Some((now, ticks));
        }
        OwnUsage { cpu_cores, rss_bytes: me.resident_pages().map(|pages| pages * self.page_size) }
    }
}
