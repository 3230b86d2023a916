//! The HTTP side of `--metrics`: /metrics and /healthz for any client that
//! can reach the node's port (a DaemonSet's port is open to every pod), so
//! nothing a client sends or withholds may end, block or grow podtop.
//!
//! hyper's HTTP/1 on a tokio runtime of the server's own thread, where an
//! idle connection costs a task and a socket, not a thread. Every connection
//! lives within `Bounds`: its request head is bounded in bytes, headers and
//! time; a body is never read (a request that declares one is answered 413
//! and its connection closed); a response the client stops reading is given
//! up after `write_stall`; and past `max_connections` the quietest connection
//! is closed to make room (`Connections::victim`), so a flood of idle
//! connections cannot lock out a scraper that asks. Accept errors (the file
//! limit reached) are counted and waited out, never fatal. What was refused
//! and why is counted (`ServerCounters`) and exported with podtop's own
//! metrics.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

use super::tls::TlsFiles;
use super::Metrics;
use crate::shutdown::Shutdown;

/// What every connection lives within.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// The request line and headers together, in bytes (hyper's read buffer;
    /// it takes no less than 8 KiB).
    pub max_head_bytes: usize,
    pub max_headers: usize,
    /// From the first byte awaited to the head's end; also how long an idle
    /// keep-alive connection is kept.
    pub head_timeout: Duration,
    /// A response write (or a TLS handshake's) that makes no progress for this long ends the connection.
    pub write_stall: Duration,
    pub handshake_timeout: Duration,
    pub max_connections: usize,
    /// Scrapes within this long of each other share one encoding of the metrics.
    pub exposition_reuse: Duration,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds {
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            head_timeout: Duration::from_secs(5),
            write_stall: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(5),
            max_connections: 256,
            exposition_reuse: Duration::from_millis(500),
        }
    }
}

/// Connections the server closed or refused, by reason, and those open now:
/// podtop's own metrics export them (`podtop_metrics_connections*`).
#[derive(Default)]
pub struct ServerCounters {
    pub open: AtomicU64,
    /// Closed to make room at `max_connections`, or to free a descriptor at the file limit.
    pub evicted: AtomicU64,
    /// A head not finished within `head_timeout`, or a write stalled past `write_stall`.
    pub timed_out: AtomicU64,
    /// A head too large or malformed, a body declared, a method other than GET or HEAD.
    pub bad_request: AtomicU64,
    /// A TLS handshake that failed or did not finish (a client certificate the CA did not sign among them).
    pub tls_failed: AtomicU64,
    /// A scrape without a client certificate where --metrics-client-ca asks for one.
    pub unauthenticated: AtomicU64,
    /// accept(2) failures, the file limit among them.
    pub accept_errors: AtomicU64,
}

impl ServerCounters {
    /// (reason, count) of every connection the server dropped.
    pub fn dropped(&self) -> [(&'static str, u64); 6] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("evicted", get(&self.evicted)),
            ("timeout", get(&self.timed_out)),
            ("bad_request", get(&self.bad_request)),
            ("tls", get(&self.tls_failed)),
            ("unauthenticated", get(&self.unauthenticated)),
            ("accept_error", get(&self.accept_errors)),
        ]
    }
}

/// The open connections, to pick one to close when there are too many.
#[derive(Default)]
struct Connections {
    next_id: u64,
    open: HashMap<u64, Slot>,
}

struct Slot {
    accepted: Instant,
    last_request: Option<Instant>,
    abort: AbortHandle,
}

impl Connections {
    /// The connection to close for a new one: the oldest of those that never
    /// asked for anything (idle or half-sent: what a flood of connections
    /// looks like), else the one that asked least recently. A scraper that
    /// asks every interval is the last to go.
    fn victim(&self) -> Option<u64> {
        let silent = self.open.iter().filter(|(_, s)| s.last_request.is_none()).min_by_key(|(_, s)| s.accepted);
        silent.or_else(|| self.open.iter().min_by_key(|(_, s)| s.last_request)).map(|(id, _)| *id)
    }

    fn evict(&mut self, counters: &ServerCounters) -> bool {
        let Some(id) = self.victim() else { return false };
        if let Some(slot) = self.open.remove(&id) {
            slot.abort.abort();
            counters.evicted.fetch_add(1, Ordering::Relaxed);
            counters.open.fetch_sub(1, Ordering::Relaxed);
        }
        true
    }
}

/// What the connections' tasks share.
struct Shared {
    metrics: Arc<Metrics>,
    stale_after: Duration,
    bounds: Bounds,
    connections: Mutex<Connections>,
    /// The last encoding of the metrics and when it was made.
    exposition: Mutex<Option<(Instant, Bytes)>>,
}

impl Shared {
    fn connections(&self) -> std::sync::MutexGuard<'_, Connections> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn counters(&self) -> &ServerCounters {
        &self.metrics.server
    }

    /// The metrics' text, encoded at most once per `exposition_reuse`
    /// whatever the number of scrapers: scrapes cost podtop bounded CPU, and
    /// responses waiting on slow readers share one buffer.
    fn exposition(&self) -> Bytes {
        let mut cached = self.exposition.lock().unwrap_or_else(|e| e.into_inner());
        match &*cached {
            Some((at, body)) if at.elapsed() < self.bounds.exposition_reuse => body.clone(),
            _ => {
                let body = Bytes::from(self.metrics.encode());
                *cached = Some((Instant::now(), body.clone()));
                body
            }
        }
    }
}

/// Removes its connection from the table when the connection's task ends,
/// whether it finished or was aborted.
struct Registered {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if self.shared.connections().open.remove(&self.id).is_some() {
            self.shared.counters().open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Binds `addr` (an error now, not later, when the port is taken) and serves
/// from a thread of its own until podtop stops.
pub fn serve(
    addr: SocketAddr,
    tls: Option<TlsFiles>,
    metrics: Arc<Metrics>,
    stale_after: Duration,
    bounds: Bounds,
    shutdown: Shutdown,
) -> Result<JoinHandle<()>> {
    let listener = std::net::TcpListener::bind(addr).with_context(|| format!("--metrics {addr}"))?;
    listener.set_nonblocking(true)?;
    // Certificates are read now: a bad file is a clear error at start.
    let tls = tls.map(|files| files.acceptor()).transpose()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
    let shared = Arc::new(Shared {
        metrics,
        stale_after,
        bounds,
        connections: Mutex::default(),
        exposition: Mutex::default(),
    });
    let handle = std::thread::Builder::new().name("podtop-metrics".into()).spawn(move || {
        runtime.block_on(async move {
            let Ok(listener) = TcpListener::from_std(listener) else { return };
            accept_loop(listener, tls, shared, shutdown).await;
        });
        // Dropping the runtime here aborts every connection's task.
    })?;
    Ok(handle)
}

async fn accept_loop(listener: TcpListener, mut tls: Option<super::tls::Acceptor>, shared: Arc<Shared>, shutdown: Shutdown) {
    const BACKOFF_MIN: Duration = Duration::from_millis(5);
    const BACKOFF_MAX: Duration = Duration::from_secs(1);
    let mut backoff = BACKOFF_MIN;
    while !shutdown.requested() {
        // A short wait: podtop ends within a second of being asked.
        let accepted = match tokio::time::timeout(Duration::from_millis(100), listener.accept()).await {
            Err(_) => continue,
            Ok(accepted) => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                backoff = BACKOFF_MIN;
                stream
            }
            Err(e) => {
                shared.counters().accept_errors.fetch_add(1, Ordering::Relaxed);
                // Out of descriptors: the quietest connection gives one back
                // (what is waiting in the backlog is taken after the pause).
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
                    shared.connections().evict(shared.counters());
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let acceptor = tls.as_mut().map(|t| (t.current(), t.requires_client_certificate()));
        let mut connections = shared.connections();
        while connections.open.len() >= shared.bounds.max_connections && connections.evict(shared.counters()) {}
        let id = connections.next_id;
        connections.next_id += 1;
        let registered = Registered { shared: shared.clone(), id };
        // On this one-thread runtime the task cannot run (nor end) before
        // its slot is in the table: the lock is released first.
        let task = tokio::spawn(async move {
            let shared = registered.shared.clone();
            let stream = Stalled::new(stream, shared.bounds.write_stall);
            match acceptor {
                None => serve_connection(stream, &shared, id, Scrapes::Allowed).await,
                Some((acceptor, required)) => match tokio::time::timeout(shared.bounds.handshake_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        // The verifier checked any certificate presented; none may have been.
                        let presented = stream.get_ref().1.peer_certificates().is_some_and(|chain| !chain.is_empty());
                        let scrapes = if required && !presented { Scrapes::Refused } else { Scrapes::Allowed };
                        serve_connection(stream, &shared, id, scrapes).await
                    }
                    Ok(Err(_)) | Err(_) => {
                        shared.counters().tls_failed.fetch_add(1, Ordering::Relaxed);
                    }
                },
            }
            drop(registered);
        });
        connections.open.insert(id, Slot { accepted: Instant::now(), last_request: None, abort: task.abort_handle() });
        shared.counters().open.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether a connection may have /metrics: not without the client
/// certificate that --metrics-client-ca asks for (/healthz it may).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scrapes {
    Allowed,
    Refused,
}

/// One connection's requests, until it closes, breaks a bound or is evicted.
async fn serve_connection<S>(stream: S, shared: &Arc<Shared>, id: u64, scrapes: Scrapes)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let shared = shared.clone();
        hyper::service::service_fn(move |request: Request<Incoming>| {
            if let Some(slot) = shared.connections().open.get_mut(&id) {
                slot.last_request = Some(Instant::now());
            }
            let response = respond(&request, &shared, scrapes);
            async move { Ok::<_, Infallible>(response) }
        })
    };
    let bounds = shared.bounds;
    let result = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(bounds.head_timeout)
        .max_buf_size(bounds.max_head_bytes)
        .max_headers(bounds.max_headers)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    let Err(e) = result else { return };
    let counters = shared.counters();
    let stalled = std::error::Error::source(&e)
        .and_then(|s| s.downcast_ref::<io::Error>())
        .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut);
    if e.is_timeout() || stalled {
        counters.timed_out.fetch_add(1, Ordering::Relaxed);
    } else if e.is_parse() || e.is_parse_too_large() {
        counters.bad_request.fetch_add(1, Ordering::Relaxed);
    }
    // Anything else is the client going away: its own business.
}

/// The response to one request. Bodies are never read: a request that
/// declares one is refused and its connection closed, before a byte of the
/// body is taken.
fn respond(request: &Request<Incoming>, shared: &Shared, scrapes: Scrapes) -> Response<Full<Bytes>> {
    let headers = request.headers();
    let declares_body = headers.contains_key(TRANSFER_ENCODING)
        || headers.get(CONTENT_LENGTH).is_some_and(|length| length.as_bytes() != b"0");
    if declares_body {
        shared.counters().bad_request.fetch_add(1, Ordering::Relaxed);
        return closing(StatusCode::PAYLOAD_TOO_LARGE, "podtop: a request to podtop carries no body\n");
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        shared.counters().bad_request.fetch_add(1, Ordering::Relaxed);
        let mut response = closing(StatusCode::METHOD_NOT_ALLOWED, "podtop: GET or HEAD\n");
        response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let path = request.uri().path();
    if path == "/metrics" && scrapes == Scrapes::Refused {
        shared.counters().unauthenticated.fetch_add(1, Ordering::Relaxed);
        return closing(StatusCode::FORBIDDEN, "podtop: /metrics needs a client certificate\n");
    }
    let (status, content_type, body) = answer(path, shared);
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

const TEXT: &str = "text/plain; charset=utf-8";

/// A short answer after which the connection closes.
fn closing(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(TEXT));
    response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The answer to a request for `path`: status, content type, body.
/// /healthz is what a liveness probe asks: 200 while the collection loop
/// ends its intervals, 503 once it has not for `stale_after` (stuck or dead:
/// the metrics would be frozen, so the pod is better restarted).
fn answer(path: &str, shared: &Shared) -> (StatusCode, &'static str, Bytes) {
    match path {
        "/metrics" => (StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", shared.exposition()),
        "/healthz" => match shared.metrics.since_beat() {
            quiet if quiet < shared.stale_after => (StatusCode::OK, TEXT, Bytes::from_static(b"ok\n")),
            quiet => (
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT,
                Bytes::from(format!("podtop: no interval has ended for {} s\n", quiet.as_secs())),
            ),
        },
        _ => (StatusCode::NOT_FOUND, TEXT, Bytes::from_static(b"podtop: /metrics or /healthz\n")),
    }
}

/// A socket whose writes fail with `TimedOut` once one has made no progress
/// for `stall`: a client that stops reading its response (a full receive
/// window) lets go of its connection, and of the response's memory, after
/// that long. Reads are bounded by hyper's head timeout and by TLS's
/// handshake timeout above it.
struct Stalled<S> {
    inner: S,
    stall: Duration,
    since: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> Stalled<S> {
    fn new(inner: S, stall: Duration) -> Stalled<S> {
        Stalled { inner, stall, since: None }
    }

    /// Pending with the stall's clock running, or its end as an error.
    fn pending<T>(&mut self, cx: &mut TaskContext<'_>) -> Poll<io::Result<T>> {
        let stall = self.stall;
        let since = self.since.get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        match since.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading"))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progress<T>(&mut self, ready: Poll<io::Result<T>>, cx: &mut TaskContext<'_>) -> Poll<io::Result<T>> {
        match ready {
            Poll::Ready(result) => {
                self.since = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.pending(cx),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Stalled<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Stalled<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let ready = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progress(ready, cx)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let ready = Pin::new(&mut self.inner).poll_flush(cx);
        self.progress(ready, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let ready = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.progress(ready, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(stale_after: Duration) -> Shared {
        Shared {
            metrics: Arc::new(Metrics::new().unwrap()),
            stale_after,
            bounds: Bounds::default(),
            connections: Mutex::default(),
            exposition: Mutex::default(),
        }
    }

    #[test]
    fn healthz_fails_once_intervals_stop_ending() {
        let shared = shared(Duration::from_millis(50));
        assert_eq!(answer("/healthz", &shared).0, 200, "alive from the start");
        std::thread::sleep(Duration::from_millis(60));
        let (status, _, body) = answer("/healthz", &shared);
        assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
        shared.metrics.beat();
        assert_eq!(answer("/healthz", &shared).0, 200, "an interval ended");
        assert_eq!(answer("/metrics", &shared).0, 200);
        assert_eq!(answer("/", &shared).0, 404);
        assert_eq!(answer("/metricsx", &shared).0, 404);
    }

    #[test]
    fn the_quietest_connection_is_the_one_closed_for_a_new_one() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            let idle = || tokio::spawn(std::future::pending::<()>()).abort_handle();
            let t0 = Instant::now();
            let at = |ms: u64| t0 + Duration::from_millis(ms);
            let mut c = Connections::default();
            // A scraper that asked long ago, one that asked just now, and two that never asked.
            c.open.insert(1, Slot { accepted: at(0), last_request: Some(at(10)), abort: idle() });
            c.open.insert(2, Slot { accepted: at(1), last_request: Some(at(900)), abort: idle() });
            c.open.insert(3, Slot { accepted: at(500), last_request: None, abort: idle() });
            c.open.insert(4, Slot { accepted: at(200), last_request: None, abort: idle() });
            let counters = ServerCounters::default();
            counters.open.store(4, Ordering::Relaxed);
            let order: Vec<u64> = std::iter::from_fn(|| {
                let next = c.victim();
                c.evict(&counters);
                next
            })
            .collect();
            assert_eq!(order, [4, 3, 1, 2], "silent ones first, oldest first; then the least recent asker");
            assert_eq!(counters.evicted.load(Ordering::Relaxed), 4);
            assert_eq!(counters.open.load(Ordering::Relaxed), 0);
        });
    }
}
