//! Kernel timestamps (CLOCK_BOOTTIME) to wall-clock time.

fn read(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// realtime - boottime, refreshed so wall-clock steps are followed.
    offset_ns: i128,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

impl Clock {
    pub fn new() -> Self {
        let mut clock = Clock { offset_ns: 0 };
        clock.refresh();
        clock
    }

    pub fn refresh(&mut self) {
        let boot = read(libc::CLOCK_BOOTTIME);
        let real = read(libc::CLOCK_REALTIME);
        self.offset_ns = i128::from(real) - i128::from(boot);
    }

    pub fn unix_ns(&self, boot_ns: u64) -> u64 {
        (i128::from(boot_ns) + self.offset_ns).max(0) as u64
    }

    pub fn now_unix_ns(&self) -> u64 {
        read(libc::CLOCK_REALTIME)
    }

    /// Now, on the kernel's clock (what records' boot_ns are on).
    pub fn now_boot_ns(&self) -> u64 {
        read(libc::CLOCK_BOOTTIME)
    }
}
