//! Processes that left without a word: when the kernel lost events (a burst
//! larger than the ring buffer, podtop stopped for a while), some exits
//! never arrive, and their processes would stay listed for ever. Live, the
//! list is checked against /proc: a pid that is gone, or that now belongs to
//! a process started after podtop first saw it (the pid was reused), leaves.

use std::time::Duration;

use crate::aggregate::model::NodeModel;

/// Slack for the start time's resolution (clock ticks) and the clocks apart.
const SLACK_NS: u64 = 1_000_000_000;

/// When the processes are checked even without new losses.
pub const CHECK_EVERY: Duration = Duration::from_secs(30);

/// Boot time (Unix ns) and clock ticks per second, to read /proc/PID/stat.
struct Clock {
    boot_unix_ns: u64,
    ticks_per_second: u64,
}

impl Clock {
    fn read() -> Option<Clock> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let btime: u64 = stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()?;
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Some(Clock { boot_unix_ns: btime * 1_000_000_000, ticks_per_second: u64::try_from(ticks).ok().filter(|t| *t > 0)? })
    }

    /// When process `pid` started (Unix ns), None if there is no such process.
    fn started(&self, pid: u32) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the parenthesised comm: state is field 3, starttime 22.
        let rest = &stat[stat.rfind(')')? + 2..];
        let ticks: u64 = rest.split_whitespace().nth(19)?.parse().ok()?;
        Some(self.boot_unix_ns + ticks * (1_000_000_000 / self.ticks_per_second))
    }
}

/// Removes listed processes that no longer run; returns how many.
pub fn forget_exited(model: &mut NodeModel) -> usize {
    let Some(clock) = Clock::read() else { return 0 };
    model.forget_processes(|pid, first_seen_ns| match clock.started(pid) {
        None => true,
        Some(started) => started > first_seen_ns + SLACK_NS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_started_before_now_and_a_free_pid_is_gone() {
        let clock = Clock::read().unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
        let started = clock.started(std::process::id()).unwrap();
        assert!(started <= now + SLACK_NS && started + 3600 * 1_000_000_000 > now, "{started} vs {now}");
        assert_eq!(clock.started(u32::MAX - 1), None);
    }
}
