//! A small NDJSON writer that appends to a reusable buffer: no allocation per
//! event, and strings that are not UTF-8 kept lossless.
//!
//! Linux paths, arguments and command names are arbitrary bytes. A value that
//! is valid UTF-8 is written as is. One that is not is written with each
//! invalid sequence replaced by U+FFFD (readable, valid everywhere), and the
//! exact bytes follow in a sibling field named `<key>_b64` (standard base64).
//! Every JSON parser accepts the result; `jq -r '.file.path_b64 | @base64d'`
//! recovers the bytes.

use std::io::Write;

pub struct ObjectWriter<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        buf.push(b'{');
        ObjectWriter { buf, first: true }
    }

    /// Keys are podtop's own names (fields, kinds, probes, capabilities),
    /// never data: written as they are, as key_with_suffix does. Escaping
    /// them would check and scan, byte by byte, every key of every record,
    /// the hottest path of a busy node's stream, for nothing to escape.
    fn key(&mut self, key: &str) {
        debug_assert!(key.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\'), "a key that needs escaping: {key}");
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    pub fn str(&mut self, key: &str, value: impl AsRef<[u8]>) -> &mut Self {
        self.key(key);
        write_str(self.buf, value.as_ref());
        self
    }

    /// Bytes from the kernel: a string, plus `<key>_b64` when they are not UTF-8.
    pub fn bytes(&mut self, key: &str, value: &[u8]) -> &mut Self {
        self.str(key, value);
        if std::str::from_utf8(value).is_err() {
            self.key_with_suffix(key, "_b64");
            write_base64(self.buf, value);
        }
        self
    }

    pub fn opt_bytes(&mut self, key: &str, value: Option<&[u8]>) -> &mut Self {
        match value {
            Some(v) => self.bytes(key, v),
            None => self.null(key),
        }
    }

    /// An array of kernel byte strings; `<key>_b64` holds all of them when any is not UTF-8.
    pub fn bytes_array<'s>(&mut self, key: &str, values: impl Iterator<Item = &'s [u8]> + Clone) -> &mut Self {
        self.key(key);
        self.buf.push(b'[');
        let mut all_utf8 = true;
        for (i, v) in values.clone().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            all_utf8 &= std::str::from_utf8(v).is_ok();
            write_str(self.buf, v);
        }
        self.buf.push(b']');
        if !all_utf8 {
            self.key_with_suffix(key, "_b64");
            self.buf.push(b'[');
            for (i, v) in values.enumerate() {
                if i > 0 {
                    self.buf.push(b',');
                }
                write_base64(self.buf, v);
            }
            self.buf.push(b']');
        }
        self
    }

    fn key_with_suffix(&mut self, key: &str, suffix: &str) {
        self.buf.extend_from_slice(b",\"");
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(suffix.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    pub fn opt_str(&mut self, key: &str, value: Option<impl AsRef<[u8]>>) -> &mut Self {
        match value {
            Some(v) => self.str(key, v),
            None => self.null(key),
        }
    }

    pub fn u64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        self.buf.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self
    }

    pub fn i64(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        self.buf.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self
    }

    /// A string whose text `fill` writes straight into the line: for values
    /// made of ASCII that needs no escaping (addresses, flag names), without
    /// an intermediate String.
    pub fn ascii_with(&mut self, key: &str, fill: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        self.key(key);
        self.buf.push(b'"');
        fill(self.buf);
        self.buf.push(b'"');
        self
    }

    /// An RFC 3339 timestamp, written in place.
    pub fn time(&mut self, key: &str, unix_ns: u64) -> &mut Self {
        self.key(key);
        write_rfc3339(self.buf, unix_ns);
        self
    }

    /// A float as serde_json writes it (the schema's types read it back the same); null if not finite.
    pub fn opt_f64(&mut self, key: &str, value: Option<f64>) -> &mut Self {
        match value.filter(|v| v.is_finite()) {
            Some(v) => {
                self.key(key);
                serde_json::to_writer(&mut *self.buf, &v).expect("writing to a Vec never fails");
                self
            }
            None => self.null(key),
        }
    }

    pub fn opt_u64(&mut self, key: &str, value: Option<u64>) -> &mut Self {
        match value {
            Some(v) => self.u64(key, v),
            None => self.null(key),
        }
    }

    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.buf.extend_from_slice(if value { b"true" } else { b"false" });
        self
    }

    pub fn null(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.buf.extend_from_slice(b"null");
        self
    }

    /// A value that is already JSON.
    pub fn raw(&mut self, key: &str, json: &[u8]) -> &mut Self {
        self.key(key);
        self.buf.extend_from_slice(json);
        self
    }

    /// Fields that are already JSON (`"a":1,"b":2`), spliced in.
    pub fn raw_fields(&mut self, fields: &[u8]) -> &mut Self {
        if fields.is_empty() {
            return self;
        }
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.extend_from_slice(fields);
        self
    }

    pub fn object(&mut self, key: &str, fill: impl FnOnce(&mut ObjectWriter)) -> &mut Self {
        self.key(key);
        let mut inner = ObjectWriter::new(self.buf);
        fill(&mut inner);
        inner.buf.push(b'}');
        self
    }

    pub fn end(self) {
        self.buf.push(b'}');
    }
}

/// Writes `bytes` as a JSON string, invalid UTF-8 replaced by U+FFFD.
pub fn write_str(buf: &mut Vec<u8>, mut bytes: &[u8]) {
    buf.push(b'"');
    loop {
        match std::str::from_utf8(bytes) {
            Ok(valid) => {
                escape_valid(buf, valid);
                break;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                // SAFETY: from_utf8 vouched for this prefix.
                escape_valid(buf, unsafe { std::str::from_utf8_unchecked(valid) });
                buf.extend_from_slice("\u{fffd}".as_bytes());
                bytes = &rest[e.error_len().unwrap_or(rest.len())..];
            }
        }
    }
    buf.push(b'"');
}

/// Standard base64 with padding, quoted.
pub fn write_base64(buf: &mut Vec<u8>, bytes: &[u8]) {
    use base64::Engine;
    buf.push(b'"');
    let start = buf.len();
    buf.resize(start + base64::encoded_len(bytes.len(), true).unwrap_or(0), 0);
    let written = base64::engine::general_purpose::STANDARD.encode_slice(bytes, &mut buf[start..]).unwrap_or(0);
    buf.truncate(start + written);
    buf.push(b'"');
}

/// The characters written as `\uXXXX` beyond what JSON requires: C1 control
/// characters (U+009B is a terminal's CSI, as ESC [ is) and the bidirectional
/// controls and line separators that make text display other than it reads
/// (U+202E turns "txt.exe" into what looks like another name). A JSON string
/// read by a person, or pasted into a terminal, shows them as what they are.
/// The set is `enrich::printable::is_disguising`'s, less the C0 controls and
/// DEL, which `escape_valid` escapes anyway (a test holds the two together).
/// Returns the code point and its UTF-8 length when `bytes` starts with one.
fn disguising_char(bytes: &[u8]) -> Option<(u32, usize)> {
    match *bytes {
        [0xc2, b, ..] if (0x80..=0x9f).contains(&b) => Some((u32::from(b), 2)),
        [0xd8, 0x9c, ..] => Some((0x061c, 2)),
        [0xe2, 0x80, b, ..] if matches!(b, 0x8e | 0x8f | 0xa8..=0xae) => Some((0x2000 | u32::from(b - 0x80), 3)),
        [0xe2, 0x81, b, ..] if (0xa6..=0xa9).contains(&b) => Some((0x2040 | u32::from(b - 0x80), 3)),
        _ => None,
    }
}

fn escape_valid(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (escape, len): (Option<&[u8]>, usize) = match b {
            b'"' => (Some(b"\\\""), 1),
            b'\\' => (Some(b"\\\\"), 1),
            b'\n' => (Some(b"\\n"), 1),
            b'\r' => (Some(b"\\r"), 1),
            b'\t' => (Some(b"\\t"), 1),
            0..=0x1f | 0x7f => (None, 1),
            0xc2 | 0xd8 | 0xe2 => match disguising_char(&bytes[i..]) {
                Some((_, len)) => (None, len),
                None => {
                    i += 1;
                    continue;
                }
            },
            _ => {
                i += 1;
                continue;
            }
        };
        buf.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => buf.extend_from_slice(e),
            None => {
                let code = disguising_char(&bytes[i..]).map_or(u32::from(b), |(c, _)| c);
                let _ = write!(buf, "\\u{code:04x}");
            }
        }
        i += len;
        start = i;
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// Nanoseconds since the Unix epoch as RFC 3339 UTC with nanoseconds, quoted
/// ("2026-11-26T03:45:32.123456789Z"), by jiff: a small share of what a
/// record costs, where a calendar of our own would save little of it.
pub fn write_rfc3339(buf: &mut Vec<u8>, unix_ns: u64) {
    use std::io::Write;
    match jiff::Timestamp::from_nanosecond(i128::from(unix_ns)) {
        Ok(t) => {
            let _ = write!(buf, "\"{t:.9}\"");
        }
        Err(_) => buf.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(bytes: &[u8]) -> String {
        let mut buf = Vec::new();
        write_str(&mut buf, bytes);
        String::from_utf8(buf).expect("the writer only emits UTF-8")
    }

    #[test]
    fn escapes_quotes_controls_and_keeps_unicode() {
        assert_eq!(json_of(b"plain"), r#""plain""#);
        assert_eq!(json_of(b"a\"b\\c\nd\te\x01\x7f"), r#""a\"b\\c\nd\te\u0001\u007f""#);
        assert_eq!(json_of("caf\u{e9} \u{1F600}".as_bytes()), "\"caf\u{e9} \u{1F600}\"");
        let parsed: String = serde_json::from_str(&json_of(b"x\"\\\n\x00y")).unwrap();
        assert_eq!(parsed, "x\"\\\n\0y");
    }

    #[test]
    fn characters_that_disguise_text_are_escaped() {
        // C1 CSI, right-to-left override, isolates, line separator: escaped, and read back as themselves.
        let text = "a\u{9b}31mb\u{202e}exe.txt\u{2066}x\u{2069}\u{2028}\u{200f}";
        let json = json_of(text.as_bytes());
        assert_eq!(json, r#""a\u009b31mb\u202eexe.txt\u2066x\u2069\u2028\u200f""#);
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), text);
        // Neighbours of those ranges are ordinary text.
        for ok in ["\u{a0}", "\u{2010}", "\u{2030}", "\u{2070}", "\u{e9}"] {
            assert_eq!(json_of(ok.as_bytes()), format!("\"{ok}\""));
        }
    }

    /// Every character that steers a terminal or turns text around, and no
    /// other (beyond `"` and `\`), is written as an escape, and reads back as
    /// itself: the JSON shows what the runtime's state or a process held, losslessly.
    #[test]
    fn exactly_the_disguising_characters_are_escaped_and_read_back() {
        use crate::enrich::printable::is_disguising;
        for c in (0..=0x10ffff).filter_map(char::from_u32).filter(|c| !matches!(c, '"' | '\\')) {
            let text = format!("a{c}b");
            let json = json_of(text.as_bytes());
            let escaped = json != format!("\"{text}\"");
            assert_eq!(escaped, is_disguising(c), "U+{:04X}: {json}", c as u32);
            if is_disguising(c) {
                assert!(!json.chars().any(is_disguising), "U+{:04X}: {json:?}", c as u32);
                assert_eq!(serde_json::from_str::<String>(&json).unwrap(), text, "U+{:04X}", c as u32);
            }
        }
    }

    #[test]
    fn invalid_utf8_is_readable_and_lossless_in_b64() {
        let raw: &[u8] = b"/tmp/caf\xe9/\xff\xfe";
        assert_eq!(json_of(raw), "\"/tmp/caf\u{fffd}/\u{fffd}\u{fffd}\"");
        let mut buf = Vec::new();
        let mut o = ObjectWriter::new(&mut buf);
        o.bytes("path", raw).bytes("ok", b"fine").bytes_array("args", [&b"ls"[..], b"\xff"].into_iter());
        o.end();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["path_b64"], "L3RtcC9jYWbpL//+");
        assert_eq!(v["ok"], "fine");
        assert!(v.get("ok_b64").is_none());
        assert_eq!(v["args"], serde_json::json!(["ls", "\u{fffd}"]));
        assert_eq!(v["args_b64"], serde_json::json!(["bHM=", "/w=="]));
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
            let mut buf = Vec::new();
            write_base64(&mut buf, input.as_bytes());
            assert_eq!(String::from_utf8(buf).unwrap(), format!("\"{want}\""));
        }
    }

    #[test]
    fn objects_and_arrays() {
        let mut buf = Vec::new();
        let mut o = ObjectWriter::new(&mut buf);
        o.str("type", "exec").u64("n", 7).i64("ret", -2).bool("ok", true).null("pod");
        o.object("process", |p| {
            p.u64("pid", 1).opt_str("name", None::<&str>);
        });
        o.bytes_array("args", [&b"ls"[..], b"-l"].into_iter());
        o.end();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"exec","n":7,"ret":-2,"ok":true,"pod":null,
                "process":{"pid":1,"name":null},"args":["ls","-l"]})
        );
    }

    #[test]
    fn rfc3339_with_nanoseconds() {
        for (ns, text) in [
            (0, "1970-01-01T00:00:00.000000000Z"),
            (951_782_400_000_000_000, "2000-02-29T00:00:00.000000000Z"),
            (1_795_664_732_123_456_789, "2026-11-26T03:45:32.123456789Z"),
            (4_102_444_799_999_999_999, "2099-12-31T23:59:59.999999999Z"),
        ] {
            let mut buf = Vec::new();
            write_rfc3339(&mut buf, ns);
            assert_eq!(String::from_utf8(buf).unwrap(), format!("\"{text}\""));
            let back: jiff::Timestamp = text.parse().unwrap();
            assert_eq!(back.as_nanosecond(), i128::from(ns), "read back as written");
        }
    }
}
