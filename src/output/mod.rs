//! Enriched records and their sinks: `--json` writes one JSON object per
//! line (`JsonSink`); the TUI turns the same records into its model.

pub mod json;
mod json_sink;
pub mod recording;
pub mod writer;

use std::borrow::Cow;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use crate::aggregate::deltas::Counters;
use crate::enrich::Attribution;
use crate::events::{CgroupCounters, Event, Kind, ProcessIdentity};

pub use json_sink::{is_closed_output, JsonSink};

/// Where the pipeline's records go. Every method sees one record, borrowed.
pub trait Sink {
    fn event(&mut self, r: &EventRecord) -> io::Result<()>;
    fn file_io(&mut self, r: &FileIoRecord) -> io::Result<()>;
    fn udp(&mut self, r: &UdpRecord) -> io::Result<()>;
    fn counters(&mut self, r: &CountersRecord) -> io::Result<()>;
    fn stats(&mut self, unix_ns: u64, stats: &Stats) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
}

/// An optional sink (`--record` without a file): records go nowhere.
impl<S: Sink> Sink for Option<S> {
    fn event(&mut self, r: &EventRecord) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.event(r))
    }
    fn file_io(&mut self, r: &FileIoRecord) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.file_io(r))
    }
    fn udp(&mut self, r: &UdpRecord) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.udp(r))
    }
    fn counters(&mut self, r: &CountersRecord) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.counters(r))
    }
    fn stats(&mut self, unix_ns: u64, stats: &Stats) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.stats(unix_ns, stats))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |s| s.flush())
    }
}

/// What one cgroup did during one interval, counted in the kernel.
pub struct CountersRecord<'a> {
    pub unix_ns: u64,
    pub owner: &'a Arc<Attribution>,
    pub delta: CgroupCounters,
}

/// Addresses of a socket, decoded from the kernel's byte arrays.
#[derive(Debug, Clone, Copy)]
pub struct NetView {
    pub proto: &'static str,
    pub saddr: IpAddr,
    pub sport: u16,
    /// None for an unconnected UDP socket.
    pub daddr: Option<IpAddr>,
    pub dport: u16,
}

/// Records borrow the pipeline's shared attributions: a sink that keeps one
/// (the TUI's model) clones the `Arc`, not the attribution.
pub struct EventRecord<'a> {
    pub event: Event<'a>,
    pub unix_ns: u64,
    pub who: &'a ProcessIdentity,
    pub owner: &'a Arc<Attribution>,
    pub net: Option<NetView>,
    pub peer: Option<&'a Arc<Attribution>>,
    pub sidecar_visible: bool,
    /// An exec's arguments as the sinks show them: secrets masked unless --no-redact.
    pub args: Vec<Cow<'a, [u8]>>,
    /// Whether any argument was masked.
    pub args_redacted: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FileIoDelta {
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub reads: u64,
    pub writes: u64,
}

impl Counters for FileIoDelta {
    fn since(self, e: Self) -> Self {
        FileIoDelta {
            read_bytes: self.read_bytes.saturating_sub(e.read_bytes),
            write_bytes: self.write_bytes.saturating_sub(e.write_bytes),
            reads: self.reads.saturating_sub(e.reads),
            writes: self.writes.saturating_sub(e.writes),
        }
    }
}

pub struct FileIoRecord<'a> {
    pub unix_ns: u64,
    pub who: &'a ProcessIdentity,
    pub owner: &'a Arc<Attribution>,
    pub dev: u32,
    pub ino: u64,
    pub path: Option<&'a [u8]>,
    pub delta: FileIoDelta,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UdpDelta {
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub tx_datagrams: u64,
    pub rx_datagrams: u64,
}

impl Counters for UdpDelta {
    fn since(self, e: Self) -> Self {
        UdpDelta {
            tx_bytes: self.tx_bytes.saturating_sub(e.tx_bytes),
            rx_bytes: self.rx_bytes.saturating_sub(e.rx_bytes),
            tx_datagrams: self.tx_datagrams.saturating_sub(e.tx_datagrams),
            rx_datagrams: self.rx_datagrams.saturating_sub(e.rx_datagrams),
        }
    }
}

pub struct UdpRecord<'a> {
    pub unix_ns: u64,
    pub who: &'a ProcessIdentity,
    pub owner: &'a Arc<Attribution>,
    pub net: NetView,
    pub peer: Option<&'a Arc<Attribution>>,
    pub delta: UdpDelta,
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// (kind, seen, lost) as counted in the kernel since start.
    pub per_kind: Vec<(Kind, u64, u64)>,
    /// Counter updates that found the kernel's file_io / udp maps full.
    pub file_io_dropped: u64,
    pub udp_dropped: u64,
    pub cgroup_dropped: u64,
    pub decode_errors: u64,
    /// Time spent in podtop's BPF programs since start, where the kernel reports it.
    pub bpf_run_time_ns: Option<u64>,
    pub bpf_run_count: Option<u64>,
}

impl Stats {
    pub fn lost_total(&self) -> u64 {
        self.per_kind.iter().map(|(_, _, lost)| lost).sum()
    }
    pub fn seen_total(&self) -> u64 {
        self.per_kind.iter().map(|(_, seen, _)| seen).sum()
    }
}

/// The kernel's internal dev_t (major << 20 | minor) as "major:minor".
pub fn write_device(buf: &mut Vec<u8>, dev: u32) {
    let mut n = itoa::Buffer::new();
    buf.extend_from_slice(n.format(dev >> 20).as_bytes());
    buf.push(b':');
    buf.extend_from_slice(n.format(dev & 0xfffff).as_bytes());
}

pub fn write_ip(buf: &mut Vec<u8>, ip: IpAddr) {
    use std::io::Write;
    let _ = write!(buf, "{ip}");
}

/// open(2) flags by name, as strace writes them.
pub fn write_open_flags(buf: &mut Vec<u8>, flags: u64) {
    let access: &[u8] = match flags & 3 {
        0 => b"O_RDONLY",
        1 => b"O_WRONLY",
        2 => b"O_RDWR",
        _ => b"O_ACCMODE",
    };
    // O_TMPFILE includes O_DIRECTORY's bit: it must be matched first.
    const NAMED: &[(u64, &str)] = &[
        (0o20200000, "O_TMPFILE"),
        (0o100, "O_CREAT"),
        (0o200, "O_EXCL"),
        (0o400, "O_NOCTTY"),
        (0o1000, "O_TRUNC"),
        (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"),
        (0o10000, "O_DSYNC"),
        (0o40000, "O_DIRECT"),
        (0o200000, "O_DIRECTORY"),
        (0o400000, "O_NOFOLLOW"),
        (0o1000000, "O_NOATIME"),
        (0o2000000, "O_CLOEXEC"),
        (0o10000000, "O_PATH"),
    ];
    buf.extend_from_slice(access);
    let mut rest = flags & !3 & !0o100000; // O_LARGEFILE is implied on 64-bit
    for (bit, name) in NAMED {
        if rest & bit == *bit {
            buf.push(b'|');
            buf.extend_from_slice(name.as_bytes());
            rest &= !bit;
        }
    }
    if rest != 0 {
        use std::io::Write;
        let _ = write!(buf, "|0x{rest:x}");
    }
}

pub fn errno_name(errno: i64) -> String {
    let name = match errno {
        1 => "EPERM",
        2 => "ENOENT",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        19 => "ENODEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        26 => "ETXTBSY",
        27 => "EFBIG",
        28 => "ENOSPC",
        30 => "EROFS",
        36 => "ENAMETOOLONG",
        40 => "ELOOP",
        75 => "EOVERFLOW",
        95 => "EOPNOTSUPP",
        _ => return format!("E{errno}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_flags_text(flags: u64) -> String {
        let mut buf = Vec::new();
        write_open_flags(&mut buf, flags);
        String::from_utf8(buf).unwrap()
    }

    fn device_text(dev: u32) -> String {
        let mut buf = Vec::new();
        write_device(&mut buf, dev);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn flags_and_errors_read_like_strace() {
        assert_eq!(open_flags_text(0), "O_RDONLY");
        assert_eq!(open_flags_text(0o2000000 | 0o100 | 0o1000 | 1), "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC");
        assert_eq!(open_flags_text(0o100000 | 2), "O_RDWR");
        assert_eq!(open_flags_text(0o20200000 | 2), "O_RDWR|O_TMPFILE");
        assert_eq!(errno_name(2), "ENOENT");
        assert_eq!(errno_name(999), "E999");
        assert_eq!(device_text((8 << 20) | 1), "8:1");
    }
}
