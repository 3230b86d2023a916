//! Application protocols in the payload of socket reads and writes: HTTP/1
//! heads, TLS ClientHellos and DNS messages (parsers of what the kernel copied, the first
//! bytes of one syscall's buffer, bounded and panic-free on any input), and
//! the pairing of requests with their responses and of queries with their answers.

pub mod dns;
pub mod exchanges;
pub mod grpc;
pub mod http;
pub mod http2;
pub mod lookups;
pub mod tls;
