//! Typed records from the kernel, and the one decoder of ring-buffer bytes.
//!
//! The structs are the skeleton's generated `types::*` (from `src/bpf/events.h`);
//! this module only adds `Plain` and a size-checked dispatch on the header's kind.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::skeleton::types;

pub use types::{
    cgroup_counters as CgroupCounters, cgroup_event as CgroupEvent, conn_event as ConnEvent, event_header as EventHeader,
    exec_event as ExecEvent, exit_event as ExitEvent, file_io_key as FileIoKey,
    file_io_value as FileIoValue, kind_counters as KindCounters, open_event as OpenEvent,
    h2_piece as H2Piece, payload_event as PayloadEvent, process_identity as ProcessIdentity, udp_key as UdpKey,
    udp_value as UdpValue,
};

// SAFETY: all of these are #[repr(C)] structs of integers and integer arrays,
// valid for every bit pattern.
unsafe impl plain::Plain for types::event_header {}
unsafe impl plain::Plain for types::exec_event {}
unsafe impl plain::Plain for types::exit_event {}
unsafe impl plain::Plain for types::open_event {}
unsafe impl plain::Plain for types::conn_event {}
unsafe impl plain::Plain for types::payload_event {}
unsafe impl plain::Plain for types::h2_piece {}
unsafe impl plain::Plain for types::cgroup_event {}
unsafe impl plain::Plain for types::file_io_key {}
unsafe impl plain::Plain for types::file_io_value {}
unsafe impl plain::Plain for types::udp_key {}
unsafe impl plain::Plain for types::udp_value {}
unsafe impl plain::Plain for types::kind_counters {}
unsafe impl plain::Plain for types::cgroup_counters {}
unsafe impl plain::Plain for types::listener_key {}
unsafe impl plain::Plain for types::listener_value {}

/// Names every field of `struct cgroup_counters` once, for the JSON record,
/// the replay parser and the delta arithmetic.
macro_rules! with_cgroup_counter_fields {
    ($apply:ident) => {
        $apply! {
            execs, exits, opens, open_errors, file_reads, file_writes, file_read_bytes, file_write_bytes,
            tcp_connects, tcp_accepts, tcp_closes, tcp_tx_bytes, tcp_rx_bytes, tcp_local_connections,
            tcp_local_tx_bytes, tcp_local_rx_bytes, udp_tx_datagrams, udp_rx_datagrams, udp_tx_bytes, udp_rx_bytes
        }
    };
}

macro_rules! cgroup_counter_methods {
    ($($field:ident),*) => {
        impl CgroupCounters {
            /// (name, value) of every counter, in the kernel struct's order.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($field), self.$field)),*]
            }

            /// Sets a counter by name; false for an unknown name.
            pub fn set(&mut self, name: &str, value: u64) -> bool {
                match name {
                    $(stringify!($field) => self.$field = value,)*
                    _ => return false,
                }
                true
            }

            /// Field by field sum, for totals over cgroups.
            pub fn add(&mut self, other: &CgroupCounters) {
                $(self.$field += other.$field;)*
            }
        }

        impl PartialEq for CgroupCounters {
            fn eq(&self, other: &Self) -> bool {
                true $(&& self.$field == other.$field)*
            }
        }

        impl CgroupCounters {
            /// `self - earlier`, field by field (never below zero).
            pub fn since(self, earlier: Self) -> Self {
                CgroupCounters { $($field: self.$field.saturating_sub(earlier.$field)),* }
            }
        }
    };
}
with_cgroup_counter_fields!(cgroup_counter_methods);

use types::{event_class as C, event_kind as K};

/// `enum event_kind` of events.h, its values taken from the skeleton.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Kind {
    Exec = K::EVENT_EXEC.0,
    Exit = K::EVENT_EXIT.0,
    Open = K::EVENT_OPEN.0,
    Connect = K::EVENT_CONNECT.0,
    Accept = K::EVENT_ACCEPT.0,
    Close = K::EVENT_CLOSE.0,
    Listen = K::EVENT_LISTEN.0,
    CgroupMkdir = K::EVENT_CGROUP_MKDIR.0,
    CgroupRmdir = K::EVENT_CGROUP_RMDIR.0,
    Payload = K::EVENT_PAYLOAD.0,
    Progress = K::EVENT_PROGRESS.0,
}

// Every kind of the C enum has a Rust twin: a kind added there fails the build here.
const _: () = assert!(Kind::ALL.len() as u32 + 1 == K::EVENT_KIND_COUNT.0);

/// An address as the kernel's records carry it: 16 bytes, IPv4 in the first 4.
pub fn ip_of(bytes: &[u8; 16], family: u16) -> IpAddr {
    if family == libc::AF_INET6 as u16 {
        IpAddr::V6(Ipv6Addr::from(*bytes))
    } else {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    }
}

impl ConnEvent {
    /// Whether this end connected (`enum sock_role` of events.h); else it accepted.
    pub fn connected(&self) -> bool {
        u32::from(self.role) == types::sock_role::ROLE_CONNECT.0
    }

    /// "client" for the end that connected, "server" for the end that accepted.
    pub fn role_name(&self) -> Option<&'static str> {
        match u32::from(self.role) {
            r if r == types::sock_role::ROLE_CONNECT.0 => Some("client"),
            r if r == types::sock_role::ROLE_ACCEPT.0 => Some("server"),
            _ => None,
        }
    }
}

/// What a payload record carries (`enum payload_protocol` of events.h).
pub struct PayloadProtocol;

impl PayloadProtocol {
    pub const HTTP: u32 = types::payload_protocol::PAYLOAD_HTTP.0;
    pub const TLS: u32 = types::payload_protocol::PAYLOAD_TLS.0;
    pub const DNS: u32 = types::payload_protocol::PAYLOAD_DNS.0;
    pub const TLS_HANDSHAKE: u32 = types::payload_protocol::PAYLOAD_TLS_HANDSHAKE.0;
    pub const HTTP2: u32 = types::payload_protocol::PAYLOAD_HTTP2.0;
}

/// Event classes chosen with `--events`, as the kernel's `events_mask` bits
/// (`enum event_class` of events.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventClasses(pub u32);

impl EventClasses {
    pub const EXEC: u32 = C::CLASS_EXEC.0;
    pub const FILE: u32 = C::CLASS_FILE.0;
    pub const NET: u32 = C::CLASS_NET.0;
    pub const HTTP: u32 = C::CLASS_HTTP.0;
    pub const DNS: u32 = C::CLASS_DNS.0;
    /// The classes traced when --events is not given.
    pub const ALL: EventClasses = EventClasses(Self::EXEC | Self::FILE | Self::NET);

    pub fn contains(self, class: u32) -> bool {
        self.0 & class != 0
    }
}

impl Kind {
    /// Every kind, in the order of the kernel's counter arrays.
    pub const ALL: [Kind; 11] = [
        Kind::Exec,
        Kind::Exit,
        Kind::Open,
        Kind::Connect,
        Kind::Accept,
        Kind::Close,
        Kind::Listen,
        Kind::CgroupMkdir,
        Kind::CgroupRmdir,
        Kind::Payload,
        Kind::Progress,
    ];

    pub fn from_raw(raw: u32) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u32 == raw)
    }

    /// The `type` of the JSON record.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Exec => "exec",
            Kind::Exit => "exit",
            Kind::Open => "open",
            Kind::Connect => "connect",
            Kind::Accept => "accept",
            Kind::Close => "close",
            Kind::Listen => "listen",
            Kind::CgroupMkdir => "cgroup_mkdir",
            Kind::CgroupRmdir => "cgroup_rmdir",
            Kind::Payload => "payload",
            Kind::Progress => "progress",
        }
    }
}

/// One decoded ring-buffer record, borrowing the ring buffer's bytes.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    Exec(&'a ExecEvent),
    Exit(&'a ExitEvent),
    Open(&'a OpenEvent),
    /// connect, accept, close, listen and progress share one layout.
    Connection(Kind, &'a ConnEvent),
    Cgroup(Kind, &'a CgroupEvent),
    /// A socket read or write's first bytes (`captured` of them, no more).
    Payload(&'a PayloadEvent, &'a [u8]),
}

impl Event<'_> {
    pub fn header(&self) -> &EventHeader {
        match self {
            Event::Exec(e) => &e.hdr,
            Event::Exit(e) => &e.hdr,
            Event::Open(e) => &e.hdr,
            Event::Connection(_, e) => &e.hdr,
            Event::Cgroup(_, e) => &e.hdr,
            Event::Payload(e, _) => &e.hdr,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("record of {got} bytes is shorter than its header")]
    NoHeader { got: usize },
    #[error("unknown record kind {0}")]
    UnknownKind(u32),
    #[error("{kind:?} record of {got} bytes, expected {need}")]
    TooShort { kind: Kind, need: usize, got: usize },
    #[error("record is not aligned for its type")]
    Misaligned,
}

fn cast<T: plain::Plain>(bytes: &[u8], kind: Kind) -> Result<&T, DecodeError> {
    let need = std::mem::size_of::<T>();
    if bytes.len() < need {
        return Err(DecodeError::TooShort { kind, need, got: bytes.len() });
    }
    plain::from_bytes(bytes).map_err(|_| DecodeError::Misaligned)
}

/// Decodes one record. Never panics, whatever the bytes.
pub fn decode(bytes: &[u8]) -> Result<Event<'_>, DecodeError> {
    if bytes.len() < std::mem::size_of::<EventHeader>() {
        return Err(DecodeError::NoHeader { got: bytes.len() });
    }
    let header: &EventHeader = plain::from_bytes(bytes).map_err(|_| DecodeError::Misaligned)?;
    let kind = Kind::from_raw(header.kind).ok_or(DecodeError::UnknownKind(header.kind))?;
    Ok(match kind {
        Kind::Exec => Event::Exec(cast(bytes, kind)?),
        Kind::Exit => Event::Exit(cast(bytes, kind)?),
        Kind::Open => Event::Open(cast(bytes, kind)?),
        Kind::Connect | Kind::Accept | Kind::Close | Kind::Listen | Kind::Progress => {
            Event::Connection(kind, cast(bytes, kind)?)
        }
        Kind::CgroupMkdir | Kind::CgroupRmdir => Event::Cgroup(kind, cast(bytes, kind)?),
        Kind::Payload => {
            let e: &PayloadEvent = cast(bytes, kind)?;
            let data = &bytes[std::mem::size_of::<PayloadEvent>()..];
            let need = std::mem::size_of::<PayloadEvent>() + e.captured as usize;
            let data = data.get(..e.captured as usize).ok_or(DecodeError::TooShort { kind, need, got: bytes.len() })?;
            Event::Payload(e, data)
        }
    })
}

/// A wait status as the kernel keeps it: (exit code, terminating signal, core dumped).
/// Exactly one of code and signal is set.
pub fn exit_status(status: u32) -> (Option<u32>, Option<u32>, bool) {
    let signal = status & 0x7f;
    let code = (signal == 0).then_some((status >> 8) & 0xff);
    (code, (signal != 0).then_some(signal), status & 0x80 != 0)
}

/// The bytes of a C char array up to `len` (clamped to the array), as the kernel wrote them.
pub fn c_bytes(array: &[i8], len: u32) -> &[u8] {
    let len = (len as usize).min(array.len());
    // SAFETY: i8 and u8 have the same size and alignment.
    unsafe { std::slice::from_raw_parts(array.as_ptr().cast::<u8>(), len) }
}

/// The bytes of a NUL-terminated C char array (comm).
pub fn c_str_bytes(array: &[i8]) -> &[u8] {
    let all = c_bytes(array, array.len() as u32);
    let end = all.iter().position(|b| *b == 0).unwrap_or(all.len());
    &all[..end]
}

/// Splits the kernel's NUL-separated argv blob into arguments.
pub fn split_args(blob: &[u8]) -> impl Iterator<Item = &[u8]> + Clone {
    let blob = blob.strip_suffix(&[0]).unwrap_or(blob);
    blob.split(|b| *b == 0).filter(move |_| !blob.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A byte buffer with the alignment the ring buffer guarantees.
    #[repr(C, align(8))]
    struct Aligned<const N: usize>([u8; N]);

    fn record_of<T: Copy>(value: &T) -> Aligned<8192> {
        let mut buf = Aligned([0u8; 8192]);
        let size = std::mem::size_of::<T>();
        // SAFETY: T is a plain C struct; we copy its bytes.
        let src = unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), size) };
        buf.0[..size].copy_from_slice(src);
        buf
    }

    #[test]
    fn decodes_an_exec_record() {
        let mut e = ExecEvent::default();
        e.hdr.kind = Kind::Exec as u32;
        e.hdr.who.pid = 42;
        e.hdr.who.cgroup_id = 7;
        let args = b"/bin/echo\0hello\0world\0";
        for (i, b) in args.iter().enumerate() {
            e.args[i] = *b as i8;
        }
        e.args_len = args.len() as u32;
        let buf = record_of(&e);
        let size = std::mem::size_of::<ExecEvent>();
        match decode(&buf.0[..size]).unwrap() {
            Event::Exec(got) => {
                assert_eq!(got.hdr.who.pid, 42);
                assert_eq!(got.hdr.who.cgroup_id, 7);
                let parsed: Vec<&[u8]> = split_args(c_bytes(&got.args, got.args_len)).collect();
                assert_eq!(parsed, vec![&b"/bin/echo"[..], b"hello", b"world"]);
            }
            other => panic!("decoded {other:?}"),
        }
    }

    #[test]
    fn decodes_connection_kinds_with_one_layout() {
        for kind in [Kind::Connect, Kind::Accept, Kind::Close, Kind::Listen, Kind::Progress] {
            let mut e = ConnEvent::default();
            e.hdr.kind = kind as u32;
            e.tx_bytes = 1_000_000;
            let buf = record_of(&e);
            match decode(&buf.0[..std::mem::size_of::<ConnEvent>()]).unwrap() {
                Event::Connection(k, got) => {
                    assert_eq!(k, kind);
                    assert_eq!(got.tx_bytes, 1_000_000);
                }
                other => panic!("decoded {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_short_unknown_and_headerless_records() {
        let mut e = OpenEvent::default();
        e.hdr.kind = Kind::Open as u32;
        let buf = record_of(&e);
        let header = std::mem::size_of::<EventHeader>();
        assert_eq!(
            decode(&buf.0[..header + 8]).unwrap_err(),
            DecodeError::TooShort { kind: Kind::Open, need: std::mem::size_of::<OpenEvent>(), got: header + 8 }
        );
        assert_eq!(decode(&buf.0[..3]).unwrap_err(), DecodeError::NoHeader { got: 3 });

        let mut bad = EventHeader { kind: 999, ..Default::default() };
        let buf = record_of(&bad);
        assert_eq!(decode(&buf.0[..header]).unwrap_err(), DecodeError::UnknownKind(999));
        bad.kind = 0;
        let buf = record_of(&bad);
        assert_eq!(decode(&buf.0[..header]).unwrap_err(), DecodeError::UnknownKind(0));
    }

    #[test]
    fn decoding_garbage_never_panics() {
        let mut buf = Aligned([0u8; 8192]);
        let mut seed = 0x2545F4914F6CDD1Du64;
        for round in 0..2000 {
            for b in buf.0.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            // Make the kind plausible half of the time.
            if round % 2 == 0 {
                buf.0[8..12].copy_from_slice(&((round % 11) as u32).to_ne_bytes());
            }
            let _ = decode(&buf.0[..(seed as usize) % 8192]);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever the ring buffer hands over, decoding returns; a record it
        /// accepts is at least as long as its kind's struct.
        #[test]
        fn decoding_any_bytes_returns(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..6000), kind in 0u32..13) {
            let mut buf = Aligned([0u8; 8192]);
            buf.0[..bytes.len()].copy_from_slice(&bytes);
            if bytes.len() >= 12 {
                buf.0[8..12].copy_from_slice(&kind.to_ne_bytes());
            }
            if let Ok(event) = decode(&buf.0[..bytes.len()]) {
                let need = match event {
                    Event::Exec(_) => std::mem::size_of::<ExecEvent>(),
                    Event::Exit(_) => std::mem::size_of::<ExitEvent>(),
                    Event::Open(_) => std::mem::size_of::<OpenEvent>(),
                    Event::Connection(..) => std::mem::size_of::<ConnEvent>(),
                    Event::Cgroup(..) => std::mem::size_of::<CgroupEvent>(),
                    Event::Payload(e, data) => {
                        proptest::prop_assert_eq!(data.len(), e.captured as usize, "exactly its captured bytes");
                        std::mem::size_of::<PayloadEvent>() + data.len()
                    }
                };
                proptest::prop_assert!(bytes.len() >= need);
            }
        }
    }

    #[test]
    fn exit_status_is_a_code_or_a_signal() {
        assert_eq!(exit_status(3 << 8), (Some(3), None, false));
        assert_eq!(exit_status(9), (None, Some(9), false));
        assert_eq!(exit_status(0x80 | 11), (None, Some(11), true));
    }

    #[test]
    fn splits_args_without_inventing_empty_ones() {
        assert_eq!(split_args(b"").count(), 0);
        assert_eq!(split_args(b"a\0\0b\0").collect::<Vec<_>>(), vec![&b"a"[..], b"", b"b"]);
        assert_eq!(split_args(b"cut-short").collect::<Vec<_>>(), vec![&b"cut-short"[..]]);
    }
}
