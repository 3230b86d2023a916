//! Sinks of enriched records. `--json` writes one JSON object per line.

pub mod json;

use std::io::{self, Write};
use std::net::IpAddr;

use crate::aggregate::deltas::Counters;
use crate::enrich::Attribution;
use crate::events::{c_bytes, c_str_bytes, split_args, Event, Kind, ProcessIdentity};
use json::{write_rfc3339, ObjectWriter};

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

pub struct EventRecord<'a> {
    pub event: Event<'a>,
    pub unix_ns: u64,
    pub who: &'a ProcessIdentity,
    pub owner: &'a Attribution,
    pub net: Option<NetView>,
    pub peer: Option<&'a Attribution>,
    pub sidecar_visible: bool,
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
    pub owner: &'a Attribution,
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
    pub owner: &'a Attribution,
    pub net: NetView,
    pub peer: Option<&'a Attribution>,
    pub delta: UdpDelta,
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// (kind, seen, lost) as counted in the kernel since start.
    pub per_kind: Vec<(Kind, u64, u64)>,
    /// Counter updates that found the kernel's file_io / udp maps full.
    pub file_io_dropped: u64,
    pub udp_dropped: u64,
    pub decode_errors: u64,
}

impl Stats {
    pub fn lost_total(&self) -> u64 {
        self.per_kind.iter().map(|(_, _, lost)| lost).sum()
    }
    pub fn seen_total(&self) -> u64 {
        self.per_kind.iter().map(|(_, seen, _)| seen).sum()
    }
}

/// Writes NDJSON to any writer (stdout in practice), through one reused buffer.
pub struct JsonSink<W: Write> {
    out: W,
    line: Vec<u8>,
    node: String,
}

/// A write failed because the reader went away (`| head`): not an error to report.
pub fn is_closed_output(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

impl<W: Write> JsonSink<W> {
    pub fn new(out: W, node: String) -> Self {
        JsonSink { out, line: Vec::with_capacity(8192), node }
    }

    fn begin(&mut self, kind: &str, unix_ns: u64) -> ObjectWriter<'_> {
        self.line.clear();
        let mut o = ObjectWriter::new(&mut self.line);
        o.str("type", kind);
        let mut time = Vec::with_capacity(32);
        write_rfc3339(&mut time, unix_ns);
        o.raw("time", &time);
        o.str("node", &self.node);
        o
    }

    fn finish(&mut self) -> io::Result<()> {
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Any JSON line made by the caller (start record).
    pub fn write_raw_line(&mut self, fill: impl FnOnce(&mut ObjectWriter), kind: &str, unix_ns: u64) -> io::Result<()> {
        let mut o = self.begin(kind, unix_ns);
        fill(&mut o);
        o.end();
        self.finish()
    }

    pub fn event(&mut self, r: &EventRecord) -> io::Result<()> {
        let kind = match r.event {
            Event::Exec(_) => Kind::Exec,
            Event::Exit(_) => Kind::Exit,
            Event::Open(_) => Kind::Open,
            Event::Connection(k, _) => k,
            Event::Cgroup(k, _) => k,
        };
        let mut o = self.begin(kind.name(), r.unix_ns);
        write_identity(&mut o, r.who, r.owner);
        o.bool("sidecar_visible", r.sidecar_visible);
        match r.event {
            Event::Exec(e) => {
                o.object("exec", |x| {
                    x.bytes("filename", c_bytes(&e.filename, e.filename_len))
                        .bool("filename_truncated", e.filename_truncated != 0)
                        .bytes_array("args", split_args(c_bytes(&e.args, e.args_len)))
                        .bool("args_truncated", e.args_truncated != 0);
                });
            }
            Event::Exit(e) => {
                let status = e.exit_code;
                let signal = status & 0x7f;
                o.object("exit", |x| {
                    x.opt_u64("code", (signal == 0).then_some(u64::from((status >> 8) & 0xff)))
                        .opt_u64("signal", (signal != 0).then_some(u64::from(signal)))
                        .bool("core_dumped", status & 0x80 != 0)
                        .u64("duration_ns", e.duration_ns);
                });
            }
            Event::Open(e) => {
                o.object("file", |x| {
                    x.bytes("path", c_bytes(&e.path, e.path_len))
                        .bool("path_truncated", e.path_truncated != 0)
                        .u64("flags", e.flags)
                        .str("flags_text", open_flags_text(e.flags))
                        .i64("ret", e.ret)
                        .opt_str("error", (e.ret < 0).then(|| errno_name(-e.ret)));
                    if e.ret >= 0 {
                        x.str("dev", device_text(e.dev)).u64("ino", e.ino);
                    }
                });
            }
            Event::Connection(_, e) => {
                if let Some(net) = r.net {
                    o.object("net", |x| {
                        write_net(x, &net);
                        x.u64("tx_bytes", e.tx_bytes)
                            .u64("rx_bytes", e.rx_bytes)
                            .u64("duration_ns", e.duration_ns)
                            .u64("cookie", e.cookie);
                    });
                }
                write_peer(&mut o, r.peer);
            }
            Event::Cgroup(_, e) => {
                o.u64("id", e.id).bytes("path", c_bytes(&e.path, e.path_len));
            }
        }
        o.end();
        self.finish()
    }

    pub fn file_io(&mut self, r: &FileIoRecord) -> io::Result<()> {
        let mut o = self.begin("file_io", r.unix_ns);
        write_identity(&mut o, r.who, r.owner);
        o.bool("sidecar_visible", false);
        o.object("file", |x| {
            x.opt_bytes("path", r.path)
                .str("dev", device_text(r.dev))
                .u64("ino", r.ino)
                .u64("read_bytes", r.delta.read_bytes)
                .u64("write_bytes", r.delta.write_bytes)
                .u64("reads", r.delta.reads)
                .u64("writes", r.delta.writes);
        });
        o.end();
        self.finish()
    }

    pub fn udp(&mut self, r: &UdpRecord) -> io::Result<()> {
        let mut o = self.begin("udp", r.unix_ns);
        write_identity(&mut o, r.who, r.owner);
        o.bool("sidecar_visible", false);
        o.object("net", |x| {
            write_net(x, &r.net);
            x.u64("tx_bytes", r.delta.tx_bytes)
                .u64("rx_bytes", r.delta.rx_bytes)
                .u64("tx_datagrams", r.delta.tx_datagrams)
                .u64("rx_datagrams", r.delta.rx_datagrams);
        });
        write_peer(&mut o, r.peer);
        o.end();
        self.finish()
    }

    pub fn stats(&mut self, unix_ns: u64, stats: &Stats) -> io::Result<()> {
        let mut o = self.begin("stats", unix_ns);
        o.object("events", |x| {
            for (kind, seen, lost) in &stats.per_kind {
                x.object(kind.name(), |k| {
                    k.u64("seen", *seen).u64("lost", *lost);
                });
            }
        });
        o.u64("seen_total", stats.seen_total())
            .u64("lost_total", stats.lost_total())
            .object("counters_dropped", |d| {
                d.u64("file_io", stats.file_io_dropped).u64("udp", stats.udp_dropped);
            })
            .u64("decode_errors", stats.decode_errors);
        o.end();
        self.finish()
    }
}

fn write_identity(o: &mut ObjectWriter, who: &ProcessIdentity, owner: &Attribution) {
    o.object("process", |p| {
        p.u64("pid", who.pid.into())
            .u64("tid", who.tid.into())
            .u64("ppid", who.ppid.into())
            .u64("uid", who.uid.into())
            .u64("gid", who.gid.into())
            .bytes("comm", c_str_bytes(&who.comm));
    });
    o.raw_fields(owner.rendered.get_or_init(|| render_attribution(owner)).as_bytes());
    o.u64("netns", who.netns.into()).u64("mntns", who.mntns.into());
}

/// `"cgroup":{..},"container":..,"pod":..`, rendered once per attribution.
fn render_attribution(a: &Attribution) -> String {
    let mut buf = Vec::with_capacity(256);
    let mut o = ObjectWriter::new(&mut buf);
    o.object("cgroup", |c| {
        c.u64("id", a.cgroup_id).opt_str("path", a.cgroup_path.as_deref());
    });
    write_container_and_pod(&mut o, a);
    o.end();
    // Strip the braces: these are fields to splice into the record.
    String::from_utf8_lossy(&buf[1..buf.len() - 1]).into_owned()
}

fn write_container_and_pod(o: &mut ObjectWriter, a: &Attribution) {
    match &a.container {
        Some(c) => o.object("container", |x| {
            x.str("id", &c.id).opt_str("runtime", c.runtime.map(|r| r.name())).opt_str("name", c.name.as_deref());
        }),
        None => o.null("container"),
    };
    match &a.pod {
        Some(p) => o.object("pod", |x| {
            x.str("uid", &p.uid)
                .opt_str("name", p.name.as_deref())
                .opt_str("namespace", p.namespace.as_deref())
                .str("qos", p.qos.name());
        }),
        None => o.null("pod"),
    };
}

fn write_peer(o: &mut ObjectWriter, peer: Option<&Attribution>) {
    match peer {
        Some(p) => o.object("peer", |x| write_container_and_pod(x, p)),
        None => o.null("peer"),
    };
}

fn write_net(x: &mut ObjectWriter, net: &NetView) {
    let family = if net.saddr.is_ipv4() { "ipv4" } else { "ipv6" };
    x.str("proto", net.proto)
        .str("family", family)
        .str("saddr", net.saddr.to_string())
        .u64("sport", net.sport.into())
        .opt_str("daddr", net.daddr.map(|a| a.to_string()))
        .u64("dport", net.dport.into());
}

/// The kernel's internal dev_t (major << 20 | minor) as "major:minor".
pub fn device_text(dev: u32) -> String {
    format!("{}:{}", dev >> 20, dev & 0xfffff)
}

pub fn open_flags_text(flags: u64) -> String {
    let access = match flags & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
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
    let mut text = String::from(access);
    let mut rest = flags & !3 & !0o100000; // O_LARGEFILE is implied on 64-bit
    for (bit, name) in NAMED {
        if rest & bit == *bit {
            text.push('|');
            text.push_str(name);
            rest &= !bit;
        }
    }
    if rest != 0 {
        text.push_str(&format!("|0x{rest:x}"));
    }
    text
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
