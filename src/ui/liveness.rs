//! Processes that left without a word: when the kernel lost events (a burst
//! larger than the ring buffer, podtop stopped for a while), some exits
//! never arrive, and their processes would stay listed for ever. Live, the
//! list is checked against /proc: a pid that is gone, or that now belongs to
//! a process started after podtop first saw it (the pid was reused), leaves.

use std::time::Duration;

use crate::aggregate::model::NodeModel;
use crate::host::Host;

/// Slack for the start time's resolution (clock ticks) and the clocks apart.
const SLACK_NS: u64 = 1_000_000_000;

/// When the processes are checked even without new losses.
pub const CHECK_EVERY: Duration = Duration::from_secs(30);

/// Boot time (Unix ns) and clock ticks per second, to read a process's start time.
struct Clock {
    boot_unix_ns: u64,
    ns_per_tick: u64,
}

impl Clock {
    fn read(host: &Host) -> Option<Clock> {
        let ticks = procfs::ticks_per_second();
        Some(Clock { boot_unix_ns: host.boot_time_unix_ns()?, ns_per_tick: 1_000_000_000 / ticks.clamp(1, 1_000_000_000) })
    }

    /// When process `pid` started (Unix ns), None if there is no such process.
    fn started(&self, host: &Host, pid: u32) -> Option<u64> {
        Some(self.boot_unix_ns + host.process(pid).start_ticks()? * self.ns_per_tick)
    }
}

/// Removes listed processes that no longer run on `host`; returns how many.
pub fn forget_exited(model: &mut NodeModel, host: &Host) -> usize {
    let Some(clock) = Clock::read(host) else { return 0 };
    model.forget_processes(|pid, first_seen_ns| match clock.started(host, pid) {
        None => true,
        Some(started) => started > first_seen_ns + SLACK_NS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_started_before_now_and_a_free_pid_is_gone() {
        let host = Host::live();
        let clock = Clock::read(&host).unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
        let started = clock.started(&host, std::process::id()).unwrap();
        assert!(started <= now + SLACK_NS && started + 3600 * 1_000_000_000 > now, "{started} vs {now}");
        assert_eq!(clock.started(&host, u32::MAX - 1), None);
    }

    #[test]
    fn start_times_from_a_fixture_host() {
        let fixture = crate::host::fixture::Fixture::new();
        fixture.write("proc/stat", "cpu  1 0 1 1 0 0 0 0 0 0\nctxt 5\nbtime 1000\nprocesses 9\nprocs_running 1\nprocs_blocked 0\n");
        let ticks = procfs::ticks_per_second();
        fixture.process(7).stat("worker", 3 * ticks, 0);
        let host = fixture.host();
        let clock = Clock::read(&host).unwrap();
        assert_eq!(clock.started(&host, 7), Some(1003 * 1_000_000_000));
        assert_eq!(clock.started(&host, 8), None, "no such process");
    }
}
