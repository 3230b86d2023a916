//! Application protocols in the payload of socket reads and writes: HTTP/1
//! heads and TLS ClientHellos (parsers of what the kernel copied, the first
//! bytes of one syscall's buffer, bounded and panic-free on any input), and
//! the pairing of requests with their responses.

pub mod exchanges;
pub mod http;
pub mod tls;
