//! The server name (SNI) and version a TLS client asks for, from the
//! ClientHello at the start of its first write (RFC 8446 4.1.2, RFC 6066 3).
//! Nothing is decrypted: this is the one cleartext message podtop reads.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    pub sni: Option<String>,
    /// The highest version offered: "1.3" when supported_versions offers it, else the legacy field's.
    pub version: &'static str,
}

const HANDSHAKE: u8 = 22;
const CLIENT_HELLO: u8 = 1;
const SERVER_NAME: u16 = 0;
const SUPPORTED_VERSIONS: u16 = 43;

/// Whether `bytes` could start a ClientHello (the kernel's test, in spirit).
pub fn looks_like_client_hello(bytes: &[u8]) -> bool {
    matches!(bytes, [HANDSHAKE, 3, 0..=4, _, _, CLIENT_HELLO, ..])
}

fn version_name(v: u16) -> Option<&'static str> {
    Some(match v {
        0x0300 => "SSL3.0",
        0x0301 => "1.0",
        0x0302 => "1.1",
        0x0303 => "1.2",
        0x0304 => "1.3",
        _ => return None,
    })
}

/// A reader that fails (None) instead of running past its bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    /// A vector whose length takes `len_bytes` bytes.
    fn vector(&mut self, len_bytes: usize) -> Option<Reader<'a>> {
        let len = self.take(len_bytes)?.iter().fold(0usize, |n, &b| n << 8 | usize::from(b));
        Some(Reader(self.take(len)?))
    }
}

/// The ClientHello at the start of `bytes` (one TLS record, as much of it as
/// was captured: the SNI comes early, but a hello cut before it has none).
pub fn parse_client_hello(bytes: &[u8]) -> Option<ClientHello> {
    if !looks_like_client_hello(bytes) {
        return None;
    }
    parse_client_hello_message(bytes.get(5..)?)
}

/// The same from the handshake message alone: what a server read after the
/// record's 5-byte header, which it read first.
pub fn parse_client_hello_message(bytes: &[u8]) -> Option<ClientHello> {
    if bytes.first() != Some(&CLIENT_HELLO) {
        return None;
    }
    // The handshake header (4); the body may be cut short.
    let mut r = Reader(bytes.get(4..)?);
    let legacy = r.u16()?;
    let mut hello = ClientHello { sni: None, version: version_name(legacy)? };
    r.take(32)?; // random
    r.vector(1)?; // session id
    r.vector(2)?; // cipher suites
    r.vector(1)?; // compression methods
    let Some(len) = r.u16() else { return Some(hello) };
    // Cut by the capture: the extensions that are whole are read.
    let mut extensions = Reader(r.0.get(..usize::from(len)).unwrap_or(r.0));
    while let (Some(kind), Some(mut body)) = (extensions.u16(), extensions.vector(2)) {
        match kind {
            SERVER_NAME => {
                let mut names = body.vector(2)?;
                while let (Some(name_type), Some(name)) = (names.u8(), names.vector(2)) {
                    if name_type == 0 {
                        let name = name.0;
                        if !name.is_empty() && name.iter().all(|b| b.is_ascii_graphic()) {
                            hello.sni = Some(String::from_utf8_lossy(name).to_ascii_lowercase());
                        }
                        break;
                    }
                }
            }
            SUPPORTED_VERSIONS => {
                let mut versions = body.vector(1)?;
                while let Some(v) = versions.u16() {
                    if let Some(name) = version_name(v) {
                        if v > 0x0303 {
                            hello.version = name;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Some(hello)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A ClientHello as a TLS 1.3 client sends it, naming `sni`.
    pub fn client_hello(sni: &str, tls13: bool) -> Vec<u8> {
        let mut ext = Vec::new();
        let name = sni.as_bytes();
        let list_len = 3 + name.len();
        ext.extend_from_slice(&[0, 0]);
        ext.extend_from_slice(&((list_len + 2) as u16).to_be_bytes());
        ext.extend_from_slice(&(list_len as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
        ext.extend_from_slice(name);
        if tls13 {
            ext.extend_from_slice(&[0, 43, 0, 5, 4, 0x03, 0x04, 0x03, 0x03]);
        }
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 4, 0x13, 0x01, 0xc0, 0x2f, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![CLIENT_HELLO, 0, (body.len() >> 8) as u8, body.len() as u8];
        hs.extend_from_slice(&body);
        let mut record = vec![HANDSHAKE, 3, 1, (hs.len() >> 8) as u8, hs.len() as u8];
        record.extend_from_slice(&hs);
        record
    }

    #[test]
    fn sni_and_version() {
        assert_eq!(parse_client_hello(&client_hello("Shop.Example.TEST", true)), Some(ClientHello { sni: Some("shop.example.test".into()), version: "1.3" }));
        assert_eq!(parse_client_hello(&client_hello("a.test", false)).unwrap().version, "1.2");
        // Read in two, as openssl's servers do: the message after its record's header.
        let hello = client_hello("Shop.Example.TEST", true);
        assert_eq!(parse_client_hello_message(&hello[5..]).unwrap().sni.as_deref(), Some("shop.example.test"));
        assert_eq!(parse_client_hello_message(&hello), None, "the record header is not a message");
    }

    #[test]
    fn cut_or_foreign_bytes_never_panic() {
        let full = client_hello("shop.example.test", true);
        for end in 0..full.len() {
            let parsed = parse_client_hello(&full[..end]);
            if let Some(hello) = parsed {
                assert!(hello.sni.is_none() || hello.sni.as_deref() == Some("shop.example.test"), "{end}: {hello:?}");
            }
        }
        assert_eq!(parse_client_hello(b"GET / HTTP/1.1\r\n"), None);
        assert_eq!(parse_client_hello(&[22, 3, 1, 0, 5, 2, 0, 0, 1, 3]), None, "a ServerHello");
    }
}
