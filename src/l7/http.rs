//! HTTP/1.x message heads, from the first bytes of a socket read or write:
//! a request line (`GET /path HTTP/1.1`) or a status line (`HTTP/1.1 200 OK`).
//! Only what the kernel copied is seen (the first bytes of one syscall's
//! buffer), so a request line cut by that bound is reported with what it has.
//! Anything that is not plainly HTTP/1 is `None`: not HTTP.

/// Methods recognised at the start of a request (RFC 9110, and PATCH), and in HTTP/2's `:method`.
pub(super) const METHODS: [&str; 9] = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE"];

/// The longest path kept: the rest is cut (and said so).
pub const MAX_PATH: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: &'static str,
    /// The request target as sent, query string included (dropped later unless asked for).
    pub target: String,
    /// "1.0" or "1.1"; None when the request line was cut before it.
    pub version: Option<&'static str>,
    /// The target was cut: by the captured bytes, or by MAX_PATH.
    pub target_truncated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    pub version: &'static str,
    pub status: u16,
}

/// Whether `bytes` could start an HTTP/1 request or response: the cheap test
/// the tracker uses before parsing (and the kernel's own, in spirit).
pub fn looks_like_head(bytes: &[u8]) -> bool {
    bytes.starts_with(b"HTTP/1.") || METHODS.iter().any(|m| bytes.len() > m.len() && bytes.starts_with(m.as_bytes()) && bytes[m.len()] == b' ')
}

/// A request line at the start of `bytes` (`captured_all`: the bytes are the
/// whole buffer, so a line with no end is not cut but malformed).
pub fn parse_request(bytes: &[u8], captured_all: bool) -> Option<RequestHead> {
    let method = *METHODS.iter().find(|m| bytes.len() > m.len() && bytes.starts_with(m.as_bytes()) && bytes[m.len()] == b' ')?;
    let rest = &bytes[method.len() + 1..];
    let line_end = rest.iter().position(|&b| b == b'\r' || b == b'\n');
    let line = &rest[..line_end.unwrap_or(rest.len())];
    let (target, version, cut) = match line.iter().rposition(|&b| b == b' ') {
        Some(space) => {
            let version = match &line[space + 1..] {
                b"HTTP/1.1" => "1.1",
                b"HTTP/1.0" => "1.0",
                _ => return None, // HTTP/2's "PRI * HTTP/2.0", or not HTTP at all
            };
            (&line[..space], Some(version), false)
        }
        // No version: the line was cut by the capture, or this is not HTTP/1.
        None if line_end.is_none() && !captured_all => (line, None, true),
        None => return None,
    };
    if target.is_empty() || target.contains(&b' ') || !target.iter().all(|&b| b.is_ascii_graphic() || b >= 0x80) {
        return None;
    }
    // Not a request for a path, an absolute URL (a forward proxy's), an authority (CONNECT) or `*`: not HTTP.
    if !(target[0] == b'/' || target == b"*" || method == "CONNECT" || target.starts_with(b"http://") || target.starts_with(b"https://")) {
        return None;
    }
    let kept = &target[..target.len().min(MAX_PATH)];
    Some(RequestHead {
        method,
        target: String::from_utf8_lossy(kept).into_owned(),
        version,
        target_truncated: cut || target.len() > MAX_PATH,
    })
}

/// A status line at the start of `bytes`: `HTTP/1.x NNN`.
pub fn parse_response(bytes: &[u8]) -> Option<ResponseHead> {
    let version = match bytes.get(..9)? {
        b"HTTP/1.1 " => "1.1",
        b"HTTP/1.0 " => "1.0",
        _ => return None,
    };
    let code = bytes.get(9..12)?;
    if !code.iter().all(u8::is_ascii_digit) || !matches!(bytes.get(12), None | Some(b' ' | b'\r' | b'\n')) {
        return None;
    }
    let status = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    (100..=599).contains(&status).then_some(ResponseHead { version, status })
}

/// The path without its query string (which carries tokens: `--http-query` keeps it).
pub fn without_query(target: &str) -> &str {
    target.split_once('?').map_or(target, |(path, _)| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        let get = parse_request(b"GET /api/items?id=7&token=s3cret HTTP/1.1\r\nHost: x\r\n\r\n", true).unwrap();
        assert_eq!((get.method, get.target.as_str(), get.version, get.target_truncated), ("GET", "/api/items?id=7&token=s3cret", Some("1.1"), false));
        assert_eq!(without_query(&get.target), "/api/items");
        let post = parse_request(b"POST /submit HTTP/1.0\r\n", true).unwrap();
        assert_eq!((post.method, post.version), ("POST", Some("1.0")));
        assert_eq!(parse_request(b"OPTIONS * HTTP/1.1\r\n", true).unwrap().target, "*");
        assert_eq!(parse_request(b"CONNECT shop.example:443 HTTP/1.1\r\n", true).unwrap().target, "shop.example:443");
        assert_eq!(parse_request(b"GET http://x/y HTTP/1.1\r\n", true).unwrap().target, "http://x/y");
    }

    #[test]
    fn a_request_line_cut_by_the_capture_keeps_what_it_has() {
        let cut = parse_request(b"GET /a/very/long/path/that/goes/on", false).unwrap();
        assert_eq!((cut.target.as_str(), cut.version, cut.target_truncated), ("/a/very/long/path/that/goes/on", None, true));
        // The whole buffer, and still no version: not HTTP.
        assert_eq!(parse_request(b"GET /a/very/long/path", true), None);
        let long = format!("GET /{} HTTP/1.1\r\n", "x".repeat(2000));
        let head = parse_request(long.as_bytes(), true).unwrap();
        assert_eq!((head.target.len(), head.target_truncated), (MAX_PATH, true));
    }

    #[test]
    fn what_is_not_http1_is_none() {
        for bytes in [
            &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..],
            b"GET  HTTP/1.1\r\n",
            b"GET /x HTTP/1.1x\r\n",
            b"GETX /x HTTP/1.1\r\n",
            b"get /x HTTP/1.1\r\n",
            b"GET x HTTP/1.1\r\n",
            b"GET /a b HTTP/1.1\r\n",
            b"GET /a\tb HTTP/1.1\r\n",
            b"\x16\x03\x01\x02\x00\x01",
            b"",
            b"GET",
            b"GET ",
        ] {
            assert_eq!(parse_request(bytes, true), None, "{:?}", String::from_utf8_lossy(bytes));
        }
        assert!(!looks_like_head(b"\x00\x01GET / HTTP/1.1"));
        assert!(looks_like_head(b"DELETE /x HTTP/1.1"));
        assert!(looks_like_head(b"HTTP/1.1 200 OK"));
    }

    #[test]
    fn non_utf8_paths_are_kept_lossily() {
        let head = parse_request(b"GET /caf\xe9 HTTP/1.1\r\n", true).unwrap();
        assert_eq!(head.target, "/caf\u{fffd}");
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\n"), Some(ResponseHead { version: "1.1", status: 200 }));
        assert_eq!(parse_response(b"HTTP/1.0 404 Not Found\r\n"), Some(ResponseHead { version: "1.0", status: 404 }));
        assert_eq!(parse_response(b"HTTP/1.1 500\r\n").map(|h| h.status), Some(500));
        assert_eq!(parse_response(b"HTTP/1.1 204"), Some(ResponseHead { version: "1.1", status: 204 }));
        for bytes in [&b"HTTP/1.1 20 OK"[..], b"HTTP/1.1 2000 OK", b"HTTP/1.1 abc", b"HTTP/2 200", b"HTTP/1.1 099 x", b"HTTP/1.1 600 x", b"HTTP/1.1"] {
            assert_eq!(parse_response(bytes), None, "{:?}", String::from_utf8_lossy(bytes));
        }
    }
}
