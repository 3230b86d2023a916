//! The JSON sink: `--json` and `--record` write one JSON object per line
//! (`JsonSink`), through a writer thread (`writer`), into a file created
//! safely (`recording`); and the formatting of the fields it writes.

pub mod json;
mod json_sink;
pub mod metrics;
pub mod recording;
pub mod schema;
pub mod writer;

use std::net::IpAddr;

pub use json_sink::{is_closed_output, JsonSink};

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

/// An errno's name, as strace writes it (`ENOENT`); `E<number>` when unknown.
pub fn errno_name(errno: i64) -> String {
    use nix::errno::Errno;
    match i32::try_from(errno).map(Errno::from_raw) {
        Ok(Errno::UnknownErrno) | Err(_) => format!("E{errno}"),
        Ok(known) => format!("{known:?}"),
    }
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
