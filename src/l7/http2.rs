//! HTTP/2 streams paired into exchanges, per connection end, from the pieces
//! of its frames the kernel ships (http2.h): every frame header, and the
//! payloads of the frames that carry header blocks or end streams, each at
//! its position in its direction's byte stream.
//!
//! Each direction has its own HPACK decoder (the other end's encoder fills
//! its dynamic table as the connection goes on), so a header block is only
//! read right if every block before it in that direction was. Where a
//! direction's frames were lost (a record dropped, a walk past the kernel's
//! bounds), or a block could not be decoded, the streams that follow are
//! reported with what is known (bytes, status where the static table gives
//! it, how they ended) and `heads_lost`, never with another stream's path.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use super::exchanges::{Exchange, Role};
use super::grpc::GrpcCall;
use super::http::{RequestHead, ResponseHead, MAX_PATH, METHODS};
use crate::events::{H2Piece, PayloadEvent};
use crate::skeleton::types::{h2_limits, h2_piece_kind};

/// Connections followed at once; the least recently active is forgotten first.
const MAX_CONNECTIONS: usize = 16_384;
/// Streams open at once on one connection; past it the oldest is reported as it stands.
const MAX_OPEN_STREAMS: usize = 256;
/// A header block (HEADERS and its CONTINUATIONs) longer than this is not decoded.
const MAX_BLOCK: usize = 64 * 1024;

const FRAME_HEADER_LEN: u64 = 9;
const PIECE_LEN: usize = std::mem::size_of::<H2Piece>();

mod frame {
    pub const DATA: u8 = 0;
    pub const HEADERS: u8 = 1;
    pub const RST_STREAM: u8 = 3;
    pub const PUSH_PROMISE: u8 = 5;
    pub const GOAWAY: u8 = 7;
    pub const CONTINUATION: u8 = 9;

    pub const END_STREAM: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;
    pub const PRIORITY: u8 = 0x20;
}

/// An error code's name (RFC 9113, section 7).
pub fn error_name(code: u32) -> &'static str {
    const NAMES: [&str; 14] = [
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    ];
    NAMES.get(code as usize).copied().unwrap_or("UNKNOWN_ERROR")
}

/// One piece of a record's data, as http2.h wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Header { position: u64, bytes: &'a [u8] },
    Payload { position: u64, bytes: &'a [u8] },
    Lost,
}

/// The pieces of one record's data; a piece that runs past the data ends them.
pub fn pieces(mut data: &[u8]) -> impl Iterator<Item = Piece<'_>> {
    std::iter::from_fn(move || {
        // struct h2_piece, read field by field: the data need not be aligned for it
        let head = data.get(..PIECE_LEN)?;
        let position = u64::from_le_bytes(head[..8].try_into().ok()?);
        let len = usize::from(u16::from_le_bytes([head[8], head[9]]));
        let kind = u32::from(head[10]);
        let bytes = data.get(PIECE_LEN..PIECE_LEN + len)?;
        data = &data[PIECE_LEN + len..];
        Some(if kind == h2_piece_kind::H2_PIECE_HEADER.0 && bytes.len() == FRAME_HEADER_LEN as usize {
            Piece::Header { position, bytes }
        } else if kind == h2_piece_kind::H2_PIECE_PAYLOAD.0 {
            Piece::Payload { position, bytes }
        } else {
            Piece::Lost
        })
    })
}

#[derive(Debug, Clone, Copy)]
struct FrameHeader {
    len: u32,
    kind: u8,
    flags: u8,
    stream: u32,
}

impl FrameHeader {
    fn parse(b: &[u8]) -> FrameHeader {
        FrameHeader {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The frame's bytes on the wire, its header's included.
    fn bytes(&self) -> u64 {
        FRAME_HEADER_LEN + u64::from(self.len)
    }

    /// Whether the kernel ships this frame's payload (http2.h's h2_copied).
    fn payload_shipped(&self) -> bool {
        matches!(self.kind, frame::HEADERS | frame::CONTINUATION | frame::PUSH_PROMISE | frame::RST_STREAM | frame::GOAWAY)
    }
}

/// A frame whose payload is being gathered from the pieces that follow its header.
struct Gathering {
    header: FrameHeader,
    /// Where its next payload byte is.
    next: u64,
    /// What the kernel ships of it: the payload, up to H2_BLOCK_MAX.
    want: usize,
    payload: Vec<u8>,
}

/// A header block begun by HEADERS (or PUSH_PROMISE) awaiting its CONTINUATIONs.
struct Block {
    stream: u32,
    end_stream: bool,
    push: bool,
    fragment: Vec<u8>,
    /// A piece of it is missing: it cannot be decoded.
    cut: bool,
    /// Of its frames, headers included.
    bytes: u64,
}

/// One direction of the connection, as this end sent (tx) or received it.
struct Direction {
    hpack: loona_hpack::Decoder<'static>,
    /// Where its next frame header is, once one was seen.
    next_header: Option<u64>,
    gathering: Option<Gathering>,
    block: Option<Block>,
    /// Its frames are no longer followed.
    lost: bool,
    /// Its header compression state is no longer known: blocks are not decoded.
    hpack_lost: bool,
}

impl Default for Direction {
    fn default() -> Self {
        Direction { hpack: loona_hpack::Decoder::new(), next_header: None, gathering: None, block: None, lost: false, hpack_lost: false }
    }
}

/// What one frame said, once whole.
enum Said {
    /// A header block's fields (None: it could not be decoded).
    Heads { stream: u32, end_stream: bool, fields: Option<Fields>, bytes: u64 },
    Data { stream: u32, end_stream: bool, bytes: u64 },
    Reset { stream: u32, code: u32 },
    GoAway { last_stream: u32 },
}

/// The fields of a header block this tracker reads.
#[derive(Debug, Default, Clone)]
struct Fields {
    method: Option<String>,
    path: Option<String>,
    authority: Option<String>,
    status: Option<u16>,
    content_type: Option<String>,
    grpc_status: Option<u32>,
}

impl Fields {
    fn take(&mut self, name: &[u8], value: Cow<[u8]>) {
        let text = || String::from_utf8_lossy(&value).into_owned();
        match name {
            b":method" => self.method = Some(text()),
            b":path" => self.path = Some(text()),
            b":authority" => self.authority = Some(text()),
            b":status" => self.status = std::str::from_utf8(&value).ok().and_then(|s| s.parse().ok()),
            b"content-type" => self.content_type = Some(text()),
            b"grpc-status" => self.grpc_status = std::str::from_utf8(&value).ok().and_then(|s| s.parse().ok()),
            _ => {}
        }
    }
}

impl Direction {
    /// One piece of this direction: what a frame it completes said goes to `said`.
    fn piece(&mut self, piece: Piece, said: &mut Vec<Said>) {
        if self.lost {
            return;
        }
        match piece {
            Piece::Lost => self.lose(),
            Piece::Header { position, bytes } => {
                if self.next_header.is_some_and(|next| next != position) || self.gathering.is_some() {
                    // A piece between was dropped, or a payload the kernel ships never came.
                    return self.lose();
                }
                let header = FrameHeader::parse(bytes);
                let payload_at = position + FRAME_HEADER_LEN;
                self.next_header = Some(payload_at + u64::from(header.len));
                if header.payload_shipped() && header.len > 0 {
                    let want = (header.len as usize).min(h2_limits::H2_BLOCK_MAX.0 as usize);
                    self.gathering = Some(Gathering { header, next: payload_at, want, payload: Vec::with_capacity(want) });
                } else {
                    self.frame(header, &[], said);
                }
            }
            Piece::Payload { position, bytes } => {
                let Some(g) = self.gathering.as_mut() else { return self.lose() };
                if position != g.next || g.payload.len() + bytes.len() > g.want {
                    return self.lose();
                }
                g.payload.extend_from_slice(bytes);
                g.next += bytes.len() as u64;
                if g.payload.len() == g.want {
                    let g = self.gathering.take().expect("gathering");
                    if g.want < g.header.len as usize {
                        // Cut by the kernel's bound: its header block cannot be decoded.
                        self.cut(g.header, said);
                    } else {
                        self.frame(g.header, &g.payload, said);
                    }
                }
            }
        }
    }

    fn lose(&mut self) {
        self.lost = true;
        self.hpack_lost = true;
        self.gathering = None;
        self.block = None;
    }

    /// A frame whose payload was shipped only in part.
    fn cut(&mut self, header: FrameHeader, said: &mut Vec<Said>) {
        match header.kind {
            frame::HEADERS | frame::PUSH_PROMISE => {
                self.block = Some(Block {
                    stream: header.stream,
                    end_stream: header.has(frame::END_STREAM),
                    push: header.kind == frame::PUSH_PROMISE,
                    fragment: Vec::new(),
                    cut: true,
                    bytes: header.bytes(),
                });
                if header.has(frame::END_HEADERS) {
                    self.end_block(said);
                }
            }
            frame::CONTINUATION => {
                if let Some(block) = self.block.as_mut() {
                    block.cut = true;
                    block.bytes += header.bytes();
                }
                if header.has(frame::END_HEADERS) {
                    self.end_block(said);
                }
            }
            _ => self.frame(header, &[], said),
        }
    }

    /// A whole frame (its payload as shipped: empty for DATA and the frames not shipped).
    fn frame(&mut self, header: FrameHeader, payload: &[u8], said: &mut Vec<Said>) {
        let stream = header.stream;
        match header.kind {
            frame::DATA => said.push(Said::Data { stream, end_stream: header.has(frame::END_STREAM), bytes: header.bytes() }),
            frame::HEADERS | frame::PUSH_PROMISE => {
                let push = header.kind == frame::PUSH_PROMISE;
                let fragment = fragment(&header, payload);
                self.block = Some(Block {
                    stream,
                    end_stream: header.has(frame::END_STREAM),
                    push,
                    cut: fragment.is_none(),
                    fragment: fragment.map(<[u8]>::to_vec).unwrap_or_default(),
                    bytes: header.bytes(),
                });
                if header.has(frame::END_HEADERS) {
                    self.end_block(said);
                }
            }
            frame::CONTINUATION => {
                let Some(block) = self.block.as_mut() else { return self.lose() };
                block.bytes += header.bytes();
                if block.fragment.len() + payload.len() > MAX_BLOCK {
                    block.cut = true;
                } else {
                    block.fragment.extend_from_slice(payload);
                }
                if header.has(frame::END_HEADERS) {
                    self.end_block(said);
                }
            }
            frame::RST_STREAM if payload.len() >= 4 => {
                said.push(Said::Reset { stream, code: u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]) })
            }
            frame::GOAWAY if payload.len() >= 4 => {
                let last_stream = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]) & 0x7fff_ffff;
                said.push(Said::GoAway { last_stream });
            }
            _ => {}
        }
    }

    /// A header block is whole: decoded, if its direction's compression state is still known.
    fn end_block(&mut self, said: &mut Vec<Said>) {
        let Some(block) = self.block.take() else { return };
        if block.cut {
            // The dynamic table may have changed in the part not seen.
            self.hpack_lost = true;
        }
        let fields = if self.hpack_lost {
            None
        } else {
            let mut fields = Fields::default();
            match self.hpack.decode_with_cb(&block.fragment, |name, value| fields.take(&name, value)) {
                Ok(()) => Some(fields),
                Err(_) => {
                    self.hpack_lost = true;
                    None
                }
            }
        };
        if !block.push {
            said.push(Said::Heads { stream: block.stream, end_stream: block.end_stream, fields, bytes: block.bytes });
        }
    }
}

/// A HEADERS or PUSH_PROMISE frame's header block fragment: its padding,
/// priority and promised stream id taken off (None: a malformed frame).
fn fragment<'a>(header: &FrameHeader, payload: &'a [u8]) -> Option<&'a [u8]> {
    let mut p = payload;
    let mut pad = 0;
    if header.has(frame::PADDED) {
        pad = usize::from(*p.first()?);
        p = &p[1..];
    }
    if header.kind == frame::HEADERS && header.has(frame::PRIORITY) {
        p = p.get(5..)?;
    }
    if header.kind == frame::PUSH_PROMISE {
        p = p.get(4..)?;
    }
    p.get(..p.len().checked_sub(pad)?)
}

/// A stream's request and response as far as they went.
struct Stream {
    first: PayloadEvent,
    request: Option<Fields>,
    response: Option<Fields>,
    /// A block of its could not be read (its request's, when `request` is None).
    heads_lost: bool,
    grpc_status: Option<u32>,
    request_bytes: u64,
    response_bytes: u64,
    last_request_ns: u64,
    first_response_ns: Option<u64>,
    response_ended: bool,
    reset: Option<&'static str>,
}

impl Stream {
    fn finish(self, role: Role) -> Exchange {
        let heads_lost = self.heads_lost;
        let request = self.request.unwrap_or_default();
        let path = request.path.clone().unwrap_or_else(|| "*".to_string());
        let grpc = request.content_type.as_deref().and_then(|ct| GrpcCall::of(ct, &path)).map(|mut call| {
            call.status = self.grpc_status;
            call
        });
        let method = request.method.as_deref().map_or("*", static_method);
        Exchange {
            first: self.first,
            role,
            request: RequestHead {
                method,
                target_truncated: path.len() > MAX_PATH,
                target: truncate(path),
                version: Some("2"),
            },
            response: self.response.as_ref().and_then(|r| r.status).map(|status| ResponseHead { version: "2", status }),
            request_bytes: self.request_bytes,
            response_bytes: self.response_bytes,
            latency_ns: self.first_response_ns.map(|first| first.saturating_sub(self.last_request_ns)),
            authority: request.authority,
            grpc,
            reset: self.reset,
            heads_lost,
        }
    }
}

/// The method as one of HTTP's names (the record's is static); another is `*`.
fn static_method(method: &str) -> &'static str {
    METHODS.iter().find(|m| **m == method).copied().unwrap_or("*")
}

fn truncate(mut path: String) -> String {
    if path.len() > MAX_PATH {
        let mut end = MAX_PATH;
        while !path.is_char_boundary(end) {
            end -= 1;
        }
        path.truncate(end);
    }
    path
}

#[derive(Default)]
struct Connection {
    role: Option<Role>,
    /// [0]: what this end sent; [1]: what it received.
    directions: [Direction; 2],
    streams: BTreeMap<u32, Stream>,
}

impl Connection {
    /// What a frame of `tx`'s direction said, at the time of its record.
    fn said(&mut self, e: &PayloadEvent, tx: bool, said: Said, done: &mut Vec<Exchange>) {
        let now = e.hdr.boot_ns;
        match said {
            Said::Heads { stream, end_stream, fields, bytes: frame_bytes } => {
                let role = match self.role {
                    Some(role) => role,
                    // The first stream's first block comes from its client.
                    None if stream % 2 == 1 && !self.streams.contains_key(&stream) => {
                        *self.role.get_or_insert(if tx { Role::Client } else { Role::Server })
                    }
                    None => return,
                };
                let request_way = (role == Role::Client) == tx;
                if request_way && !self.streams.contains_key(&stream) {
                    if self.streams.len() >= MAX_OPEN_STREAMS {
                        if let Some((_, oldest)) = self.streams.pop_first() {
                            done.push(oldest.finish(role));
                        }
                    }
                    self.streams.insert(stream, Stream {
                        first: *e,
                        heads_lost: fields.is_none(),
                        request: fields,
                        response: None,
                        grpc_status: None,
                        request_bytes: frame_bytes,
                        response_bytes: 0,
                        last_request_ns: now,
                        first_response_ns: None,
                        response_ended: false,
                        reset: None,
                    });
                    return;
                }
                let Some(s) = self.streams.get_mut(&stream) else { return };
                if fields.is_none() {
                    s.heads_lost = true;
                }
                if request_way {
                    s.request_bytes += frame_bytes; // trailers of the request
                    if s.first_response_ns.is_none() {
                        s.last_request_ns = now;
                    }
                    return;
                }
                s.response_bytes += frame_bytes;
                let interim = fields.as_ref().and_then(|f| f.status).is_some_and(|status| status < 200);
                if !interim {
                    s.first_response_ns.get_or_insert(now);
                    if let Some(grpc_status) = fields.as_ref().and_then(|f| f.grpc_status) {
                        s.grpc_status = Some(grpc_status);
                    }
                    if s.response.is_none() {
                        s.response = fields.or(Some(Fields::default()));
                    }
                }
                s.response_ended |= end_stream;
                if s.response_ended {
                    let s = self.streams.remove(&stream).expect("stream");
                    done.push(s.finish(role));
                }
            }
            Said::Data { stream, end_stream, bytes: frame_bytes } => {
                let Some(role) = self.role else { return };
                let Some(s) = self.streams.get_mut(&stream) else { return };
                if (role == Role::Client) == tx {
                    s.request_bytes += frame_bytes;
                    if s.first_response_ns.is_none() {
                        s.last_request_ns = now;
                    }
                } else {
                    s.response_bytes += frame_bytes;
                    s.first_response_ns.get_or_insert(now);
                    if end_stream {
                        let s = self.streams.remove(&stream).expect("stream");
                        done.push(s.finish(role));
                    }
                }
            }
            Said::Reset { stream, code } => {
                let Some(role) = self.role else { return };
                if let Some(mut s) = self.streams.remove(&stream) {
                    s.reset = Some(error_name(code));
                    done.push(s.finish(role));
                }
            }
            Said::GoAway { last_stream } => {
                let Some(role) = self.role else { return };
                // Streams past the last one the sender took were refused.
                let refused = self.streams.split_off(&(last_stream + 1));
                for (_, mut s) in refused {
                    s.reset = Some("GOAWAY");
                    done.push(s.finish(role));
                }
            }
        }
    }

    /// The connection is gone: its open streams end as far as they went.
    fn close(mut self, done: &mut Vec<Exchange>) {
        let Some(role) = self.role else { return };
        let lost = self.directions.iter().any(|d| d.lost);
        for (_, mut s) in std::mem::take(&mut self.streams) {
            s.heads_lost |= lost && s.response.is_none();
            done.push(s.finish(role));
        }
    }
}

pub struct Http2Tracker {
    connections: crate::bounded::Table<u64, Connection>,
}

impl Default for Http2Tracker {
    fn default() -> Self {
        Http2Tracker::following(NonZeroUsize::new(MAX_CONNECTIONS).expect("not zero"))
    }
}

impl Http2Tracker {
    pub fn size(&self) -> crate::bounded::TableSize {
        self.connections.size()
    }

    fn following(connections: NonZeroUsize) -> Self {
        Http2Tracker { connections: crate::bounded::Table::new("http2_connections", connections.get()) }
    }

    /// One record of a connection's frames; finished streams go to `done`.
    pub fn payload(&mut self, e: &PayloadEvent, data: &[u8], done: &mut Vec<Exchange>) {
        let tx = e.tx != 0;
        if !self.connections.contains(&e.cookie) && self.connections.len() == self.connections.cap().get() {
            if let Some((_, conn)) = self.connections.evict_lru() {
                conn.close(done);
            }
        }
        let conn = self.connections.get_or_insert_mut(e.cookie, Connection::default);
        let mut said = Vec::new();
        for piece in pieces(data) {
            conn.directions[usize::from(!tx)].piece(piece, &mut said);
            for s in said.drain(..) {
                conn.said(e, tx, s, done);
            }
        }
    }

    /// The connection closed: its open streams end as far as they went.
    pub fn closed(&mut self, cookie: u64, done: &mut Vec<Exchange>) {
        if let Some(conn) = self.connections.pop(&cookie) {
            conn.close(done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One direction's bytes as a peer writes them, and the pieces the kernel ships of them.
    #[derive(Default)]
    struct Wire {
        position: u64,
        hpack: loona_hpack::Encoder<'static>,
    }

    fn piece(kind: u32, position: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&position.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        out.push(kind as u8);
        out.extend_from_slice(&[0; 5]);
        out.extend_from_slice(bytes);
        out
    }

    impl Wire {
        /// A frame, as the kernel ships it: its header, and its payload if shipped (up to the bound).
        fn frame(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
            let len = payload.len() as u32;
            let mut header = len.to_be_bytes()[1..].to_vec();
            header.push(kind);
            header.push(flags);
            header.extend_from_slice(&stream.to_be_bytes());
            let mut out = piece(h2_piece_kind::H2_PIECE_HEADER.0, self.position, &header);
            let shipped = FrameHeader::parse(&header).payload_shipped();
            if shipped && !payload.is_empty() {
                let n = payload.len().min(h2_limits::H2_BLOCK_MAX.0 as usize);
                out.extend(piece(h2_piece_kind::H2_PIECE_PAYLOAD.0, self.position + 9, &payload[..n]));
            }
            self.position += 9 + payload.len() as u64;
            out
        }

        fn headers(&mut self, stream: u32, end_stream: bool, fields: &[(&[u8], &[u8])]) -> Vec<u8> {
            let block = self.hpack.encode(fields.iter().copied());
            self.frame(frame::HEADERS, frame::END_HEADERS | if end_stream { frame::END_STREAM } else { 0 }, stream, &block)
        }
    }

    fn record(cookie: u64, tx: bool, at_ms: u64, data: &[u8], bytes: u64) -> PayloadEvent {
        let mut e = PayloadEvent { cookie, tx: tx as u8, bytes, captured: data.len() as u32, ..Default::default() };
        e.hdr.boot_ns = at_ms * 1_000_000;
        e
    }

    fn feed(t: &mut Http2Tracker, cookie: u64, tx: bool, at_ms: u64, data: &[u8], done: &mut Vec<Exchange>) {
        t.payload(&record(cookie, tx, at_ms, data, 0), data, done);
    }

    fn grpc_request(path: &str) -> Vec<(&'static [u8], Vec<u8>)> {
        vec![
            (b":method", b"POST".to_vec()),
            (b":scheme", b"http".to_vec()),
            (b":path", path.as_bytes().to_vec()),
            (b":authority", b"echo:50051".to_vec()),
            (b"content-type", b"application/grpc".to_vec()),
            (b"te", b"trailers".to_vec()),
        ]
    }

    fn fields<'a>(v: &'a [(&'static [u8], Vec<u8>)]) -> Vec<(&'static [u8], &'a [u8])> {
        v.iter().map(|(n, v)| (*n, v.as_slice())).collect()
    }

    #[test]
    fn a_grpc_client_with_two_calls_on_one_connection() {
        let (mut out, mut back) = (Wire { position: 24, ..Default::default() }, Wire::default());
        let mut t = Http2Tracker::default();
        let mut done = Vec::new();
        let say = grpc_request("/demo.Echo/Say");
        let mut call = out.headers(1, false, &fields(&say));
        call.extend(out.frame(frame::DATA, frame::END_STREAM, 1, &[0, 0, 0, 0, 2, b'h', b'i']));
        feed(&mut t, 1, true, 0, &call, &mut done);
        let mut answer = back.headers(1, false, &[(b":status", b"200"), (b"content-type", b"application/grpc")]);
        answer.extend(back.frame(frame::DATA, 0, 1, &[0, 0, 0, 0, 4, b'p', b'o', b'n', b'g']));
        answer.extend(back.headers(1, true, &[(b"grpc-status", b"0")]));
        feed(&mut t, 1, false, 3, &answer, &mut done);
        // The second call's path comes from the dynamic table the first filled.
        let call = out.headers(3, true, &fields(&grpc_request("/demo.Echo/Find")));
        feed(&mut t, 1, true, 10, &call, &mut done);
        let answer = back.headers(3, true, &[(b":status", b"200"), (b"content-type", b"application/grpc"), (b"grpc-status", b"5"), (b"grpc-message", b"no such thing")]);
        feed(&mut t, 1, false, 12, &answer, &mut done);
        assert_eq!(done.len(), 2);
        let (say, find) = (&done[0], &done[1]);
        assert_eq!((say.role, say.request.method, say.request.target.as_str(), say.request.version), (Role::Client, "POST", "/demo.Echo/Say", Some("2")));
        assert_eq!((say.response.map(|r| r.status), say.latency_ns, say.authority.as_deref()), (Some(200), Some(3_000_000), Some("echo:50051")));
        assert_eq!(say.grpc, Some(GrpcCall { service: "demo.Echo".into(), method: "Say".into(), status: Some(0) }));
        assert_eq!(say.request_bytes, call_bytes(&fields(&say_fields())), "{say:?}");
        assert_eq!(find.grpc.as_ref().map(|g| (g.method.as_str(), g.status)), Some(("Find", Some(5))));
        assert!(!say.heads_lost && !find.heads_lost && find.reset.is_none());
    }

    fn say_fields() -> Vec<(&'static [u8], Vec<u8>)> {
        grpc_request("/demo.Echo/Say")
    }

    /// The request bytes of the first call: its HEADERS frame and its 7-byte DATA frame, headers included.
    fn call_bytes(f: &[(&'static [u8], &[u8])]) -> u64 {
        let block = loona_hpack::Encoder::new().encode(f.iter().copied());
        9 + block.len() as u64 + 9 + 7
    }

    #[test]
    fn a_server_sees_the_same_calls_the_other_way() {
        let (mut req, mut resp) = (Wire { position: 24, ..Default::default() }, Wire::default());
        let mut t = Http2Tracker::default();
        let mut done = Vec::new();
        feed(&mut t, 2, false, 0, &req.headers(1, true, &[(b":method", b"GET"), (b":path", b"/items?x=1"), (b":scheme", b"http")]), &mut done);
        feed(&mut t, 2, false, 1, &req.headers(3, true, &[(b":method", b"GET"), (b":path", b"/other"), (b":scheme", b"http")]), &mut done);
        // Answered out of order, as streams may be.
        feed(&mut t, 2, true, 5, &resp.headers(3, true, &[(b":status", b"404")]), &mut done);
        feed(&mut t, 2, true, 7, &resp.headers(1, true, &[(b":status", b"200")]), &mut done);
        let got: Vec<_> = done.iter().map(|x| (x.role, x.request.target.as_str(), x.response.map(|r| r.status), x.latency_ns, x.grpc.is_some())).collect();
        assert_eq!(got, vec![(Role::Server, "/other", Some(404), Some(4_000_000), false), (Role::Server, "/items?x=1", Some(200), Some(7_000_000), false)]);
    }

    #[test]
    fn a_frame_split_across_records_and_a_header_completed_later() {
        let mut out = Wire { position: 24, ..Default::default() };
        let mut back = Wire::default();
        let mut t = Http2Tracker::default();
        let mut done = Vec::new();
        // The kernel ships a header whole when the second call completes it, and a payload in two pieces.
        let frame = out.headers(1, true, &[(b":method", b"GET"), (b":path", b"/split"), (b":scheme", b"http")]);
        let header = &frame[..PIECE_LEN + 9];
        let payload = &frame[PIECE_LEN + 9..];
        let body = &payload[PIECE_LEN..];
        let position = u64::from_le_bytes(payload[..8].try_into().unwrap());
        let (a, b) = body.split_at(3);
        feed(&mut t, 3, true, 0, &[header, &piece(2, position, a)].concat(), &mut done);
        feed(&mut t, 3, true, 1, &piece(2, position + 3, b), &mut done);
        feed(&mut t, 3, false, 2, &back.headers(1, true, &[(b":status", b"204")]), &mut done);
        assert_eq!(done.iter().map(|x| (x.request.target.as_str(), x.response.map(|r| r.status))).collect::<Vec<_>>(), vec![("/split", Some(204))]);
    }

    #[test]
    fn a_lost_piece_is_never_another_streams_path() {
        let mut out = Wire { position: 24, ..Default::default() };
        let mut back = Wire::default();
        let mut t = Http2Tracker::default();
        let mut done = Vec::new();
        feed(&mut t, 4, true, 0, &out.headers(1, true, &[(b":method", b"GET"), (b":path", b"/one"), (b":scheme", b"http")]), &mut done);
        // A record of the request direction dropped: its frames are gone, and the next one is not where it should be.
        let _dropped = out.headers(3, true, &[(b":method", b"GET"), (b":path", b"/two"), (b":scheme", b"http")]);
        feed(&mut t, 4, true, 2, &out.headers(5, true, &[(b":method", b"GET"), (b":path", b"/three"), (b":scheme", b"http")]), &mut done);
        feed(&mut t, 4, false, 3, &back.headers(1, true, &[(b":status", b"200")]), &mut done);
        t.closed(4, &mut done);
        assert_eq!(done.len(), 1, "{done:?}");
        assert_eq!((done[0].request.target.as_str(), done[0].heads_lost), ("/one", false));
    }

    #[test]
    fn a_reset_stream_and_a_goaway_end_their_streams_marked() {
        let mut out = Wire { position: 24, ..Default::default() };
        let mut back = Wire::default();
        let mut t = Http2Tracker::default();
        let mut done = Vec::new();
        feed(&mut t, 5, true, 0, &out.headers(1, true, &[(b":method", b"GET"), (b":path", b"/slow"), (b":scheme", b"http")]), &mut done);
        feed(&mut t, 5, true, 1, &out.headers(3, true, &[(b":method", b"GET"), (b":path", b"/late"), (b":scheme", b"http")]), &mut done);
        feed(&mut t, 5, true, 2, &out.frame(frame::RST_STREAM, 0, 1, &8u32.to_be_bytes()), &mut done);
        let mut goaway = 1u32.to_be_bytes().to_vec();
        goaway.extend_from_slice(&0u32.to_be_bytes());
        feed(&mut t, 5, false, 3, &back.frame(frame::GOAWAY, 0, 0, &goaway), &mut done);
        let got: Vec<_> = done.iter().map(|x| (x.request.target.as_str(), x.reset, x.response.is_none())).collect();
        assert_eq!(got, vec![("/slow", Some("CANCEL"), true), ("/late", Some("GOAWAY"), true)]);
    }

    #[test]
    fn a_header_block_past_the_kernels_bound_loses_the_heads_after_it_not_the_streams() {
        let mut out = Wire { position: 24, ..Default::default() };
        let mut back = Wire::default();
        let mut t = Http2Tracker::default();
        let mut done = Vec::new();
        let big = vec![b'x'; 3000];
        feed(&mut t, 6, true, 0, &out.headers(1, true, &[(b":method", b"GET"), (b":path", b"/big"), (b":scheme", b"http"), (b"cookie", &big)]), &mut done);
        feed(&mut t, 6, false, 1, &back.headers(1, true, &[(b":status", b"200")]), &mut done);
        feed(&mut t, 6, true, 2, &out.headers(3, true, &[(b":method", b"GET"), (b":path", b"/after"), (b":scheme", b"http")]), &mut done);
        feed(&mut t, 6, false, 3, &back.headers(3, true, &[(b":status", b"503")]), &mut done);
        let got: Vec<_> = done.iter().map(|x| (x.request.method, x.request.target.as_str(), x.heads_lost, x.response.map(|r| r.status))).collect();
        assert_eq!(got, vec![("*", "*", true, Some(200)), ("*", "*", true, Some(503))]);
    }

    #[test]
    fn odd_input_never_panics() {
        let mut t = Http2Tracker::default();
        let mut done = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..2000u64 {
            let mut data = Vec::new();
            for _ in 0..(seed % 5) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let len = (seed % 40) as usize;
                let bytes: Vec<u8> = (0..len).map(|i| (seed >> (i % 8 * 8)) as u8).collect();
                data.extend(piece((seed % 4) as u32, seed % 64, &bytes));
            }
            if round % 3 == 0 {
                data.truncate((seed % 50) as usize);
            }
            feed(&mut t, round % 7, round % 2 == 0, round, &data, &mut done);
        }
        for cookie in 0..7 {
            t.closed(cookie, &mut done);
        }
    }
}
