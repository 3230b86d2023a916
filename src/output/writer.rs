//! Output that cannot hold podtop: records are handed to a thread of their
//! own that writes them to stdout, so a reader that stops reading (`podtop
//! --json | (sleep 30; cat)`) never blocks the collection loop. While the
//! reader is slow, the bounded queue pushes back (the ring buffer absorbs
//! the wait, and counts what it cannot hold); once podtop is asked to stop,
//! the reader has as long as it keeps taking records (up to a cap), and
//! what it does not take once it stops taking them for a moment is dropped
//! and counted.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::shutdown::Shutdown;

/// Bytes handed over at once, at most (a flush hands over less).
const CHUNK: usize = 64 * 1024;
/// Bytes queued at most: records waiting for the reader.
const QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// Emptied buffers kept for reuse.
const SPARE_CHUNKS: usize = 8;
/// How often a producer waiting for room looks at the stop request.
const WAIT_STEP: Duration = Duration::from_millis(50);
/// Once podtop is asked to stop, how long the reader may take nothing before
/// the rest is dropped...
pub const GRACE: Duration = Duration::from_millis(400);
/// ...and how long it may take at most, taking or not.
const MAX_WAIT: Duration = Duration::from_millis(2500);

#[derive(Default)]
struct Queue {
    chunks: VecDeque<Vec<u8>>,
    bytes: usize,
    /// Written chunks, emptied, for the producer to fill again: a steady
    /// stream reuses a few buffers instead of allocating one per flush.
    spare: Vec<Vec<u8>>,
    /// The writer thread is in the middle of writing a chunk.
    writing: bool,
    error: Option<io::ErrorKind>,
}

struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
    /// Records (lines) dropped because the output did not take them in time.
    dropped_records: AtomicU64,
    /// When a producer first saw the stop request: the grace counts from there.
    stopping_since: Mutex<Option<Instant>>,
    /// Chunks the reader took so far.
    written: AtomicU64,
    /// When the reader last took a chunk.
    last_written: Mutex<Option<Instant>>,
}

/// A `Write` whose bytes a background thread writes to a file descriptor.
pub struct BackgroundWriter {
    shared: Arc<Shared>,
    buffer: Vec<u8>,
    shutdown: Shutdown,
}

/// What the owner of the output keeps after handing the writer to a sink:
/// the last wait, and what was dropped.
#[derive(Clone)]
pub struct OutputHandle {
    shared: Arc<Shared>,
}

fn lines_in(chunk: &[u8]) -> u64 {
    chunk.iter().filter(|b| **b == b'\n').count() as u64
}

impl BackgroundWriter {
    /// Writes to a duplicate of stdout, not through std's locked handle, so
    /// that a thread stuck writing holds no lock anyone else needs.
    pub fn stdout(shutdown: Shutdown) -> io::Result<BackgroundWriter> {
        let out = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        Self::new(out, shutdown)
    }

    /// Writes to a file of podtop's own (`--record`).
    pub fn to_file(file: File, shutdown: Shutdown) -> io::Result<BackgroundWriter> {
        Self::new(file, shutdown)
    }

    fn new(mut out: impl Write + Send + 'static, shutdown: Shutdown) -> io::Result<BackgroundWriter> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
            dropped_records: AtomicU64::new(0),
            stopping_since: Mutex::new(None),
            written: AtomicU64::new(0),
            last_written: Mutex::new(None),
        });
        let theirs = shared.clone();
        std::thread::Builder::new().name("podtop-output".into()).spawn(move || loop {
            let chunk = {
                let mut q = theirs.queue.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if q.error.is_some() {
                        return;
                    }
                    if let Some(chunk) = q.chunks.pop_front() {
                        q.bytes -= chunk.len();
                        q.writing = true;
                        break chunk;
                    }
                    q = theirs.changed.wait(q).unwrap_or_else(|e| e.into_inner());
                }
            };
            let result = out.write_all(&chunk).and_then(|()| out.flush());
            *theirs.last_written.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            theirs.written.fetch_add(1, Ordering::Relaxed);
            let mut q = theirs.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.writing = false;
            if q.spare.len() < SPARE_CHUNKS && chunk.capacity() <= 2 * CHUNK {
                let mut chunk = chunk;
                chunk.clear();
                q.spare.push(chunk);
            }
            if let Err(e) = result {
                q.error = Some(e.kind());
            }
            theirs.changed.notify_all();
        })?;
        Ok(BackgroundWriter { shared, buffer: Vec::with_capacity(CHUNK), shutdown })
    }

    pub fn handle(&self) -> OutputHandle {
        OutputHandle { shared: self.shared.clone() }
    }

    /// Hands the buffer's whole lines to the writer thread, waiting for room
    /// while the reader is slow; once a stop is requested, for the grace at
    /// most, then drops what has no room. A record cut in two by the chunk
    /// boundary stays behind for the next chunk: were the next chunk dropped,
    /// the reader would otherwise be left with half a JSON object.
    fn hand_over(&mut self) -> io::Result<()> {
        let whole = self.buffer.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if whole == 0 {
            return Ok(());
        }
        let mut q = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        let mut written = self.shared.written.load(Ordering::Relaxed);
        loop {
            if let Some(kind) = q.error {
                return Err(io::Error::from(kind));
            }
            if q.bytes + whole <= QUEUE_BYTES {
                q.bytes += whole;
                let mut next = q.spare.pop().unwrap_or_else(|| Vec::with_capacity(CHUNK));
                next.extend_from_slice(&self.buffer[whole..]);
                self.buffer.truncate(whole);
                q.chunks.push_back(std::mem::replace(&mut self.buffer, next));
                self.shared.changed.notify_all();
                return Ok(());
            }
            if self.shutdown.requested() && self.shared.giving_up() {
                self.shared.dropped_records.fetch_add(lines_in(&self.buffer[..whole]), Ordering::Relaxed);
                self.buffer.drain(..whole);
                return Ok(());
            }
            q = self.shared.changed.wait_timeout(q, WAIT_STEP).unwrap_or_else(|e| e.into_inner()).0;
            // A slow reader that takes records is progress: the watchdog waits for it.
            let now_written = self.shared.written.load(Ordering::Relaxed);
            if now_written != written {
                written = now_written;
                self.shutdown.progress();
            }
        }
    }

}

impl Drop for BackgroundWriter {
    fn drop(&mut self) {
        let _ = self.hand_over();
    }
}

impl Shared {
    /// Once stopping (counted from the first time anyone asks): whether the
    /// reader has taken nothing for the grace, or the wait reached its cap.
    fn giving_up(&self) -> bool {
        let since = *self.stopping_since.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(Instant::now);
        let moved = self.last_written.lock().unwrap_or_else(|e| e.into_inner()).unwrap_or(since).max(since);
        let now = Instant::now();
        now >= moved + GRACE || now >= since + MAX_WAIT
    }
}

impl OutputHandle {
    /// Once podtop is stopping: waits while the reader takes what was handed
    /// over, calling `progress` each time it takes some; what it has not
    /// taken when it stops taking for the grace (or at the cap) is dropped
    /// and counted. Returns the error the output ended with, if any.
    pub fn finish(&self, progress: impl Fn()) -> Option<io::ErrorKind> {
        let mut q = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        let mut written = self.shared.written.load(Ordering::Relaxed);
        while (!q.chunks.is_empty() || q.writing) && q.error.is_none() && !self.shared.giving_up() {
            q = self.shared.changed.wait_timeout(q, WAIT_STEP).unwrap_or_else(|e| e.into_inner()).0;
            let now_written = self.shared.written.load(Ordering::Relaxed);
            if now_written != written {
                written = now_written;
                progress();
            }
        }
        let left: u64 = q.chunks.drain(..).map(|c| lines_in(&c)).sum();
        q.bytes = 0;
        self.shared.dropped_records.fetch_add(left, Ordering::Relaxed);
        q.error
    }

    /// Records dropped because the output did not take them in time.
    pub fn dropped_records(&self) -> u64 {
        self.shared.dropped_records.load(Ordering::Relaxed)
    }
}

impl Write for BackgroundWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            self.hand_over()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.hand_over()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that takes nothing until told to.
    struct Stalled(Arc<(Mutex<bool>, Condvar)>, Arc<Mutex<Vec<u8>>>);

    /// The other side of a `Stalled` reader: opens it, and sees what it took.
    #[derive(Default)]
    struct Gate(Arc<(Mutex<bool>, Condvar)>, Arc<Mutex<Vec<u8>>>);

    impl Gate {
        fn reader(&self) -> Stalled {
            Stalled(self.0.clone(), self.1.clone())
        }

        /// Lets the reader take what was queued; what it took, a moment later.
        fn open(&self) -> Vec<u8> {
            let (open, cv) = &*self.0;
            *open.lock().unwrap() = true;
            cv.notify_all();
            std::thread::sleep(Duration::from_millis(200));
            self.1.lock().unwrap().clone()
        }
    }

    impl Write for Stalled {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let (open, cv) = &*self.0;
            let mut go = open.lock().unwrap();
            while !*go {
                go = cv.wait(go).unwrap();
            }
            self.1.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_reader_costs_records_not_time_once_stopping() {
        let gate = Gate::default();
        let shutdown = Shutdown::inert();
        let mut w = BackgroundWriter::new(gate.reader(), shutdown.clone()).unwrap();
        let line = vec![b'x'; 1023].into_iter().chain([b'\n']).collect::<Vec<u8>>();
        // The queue fills up and one chunk is being written: then a producer would wait.
        for _ in 0..(QUEUE_BYTES + CHUNK) / line.len() {
            w.write_all(&line).unwrap();
        }
        shutdown.request();
        let started = Instant::now();
        for _ in 0..1000 {
            w.write_all(&line).unwrap();
        }
        w.flush().unwrap();
        assert!(started.elapsed() < GRACE + Duration::from_millis(300), "no waiting past the grace once asked to stop");
        let handle = w.handle();
        drop(w);
        handle.finish(|| {});
        assert!(handle.dropped_records() >= 1000, "dropped and counted: {}", handle.dropped_records());
        // The reader wakes: what was queued reaches it whole, line by line.
        let got = gate.open();
        assert_eq!(got.len() % line.len(), 0);
        assert!(got.len() >= CHUNK);
    }

    #[test]
    fn records_cut_by_a_chunk_boundary_are_never_left_half_written() {
        // Lines that do not divide the chunk size: the chunk boundary falls
        // inside a record, and the chunk after it is the one dropped.
        let gate = Gate::default();
        let shutdown = Shutdown::inert();
        let mut w = BackgroundWriter::new(gate.reader(), shutdown.clone()).unwrap();
        let line = vec![b'y'; 999].into_iter().chain([b'\n']).collect::<Vec<u8>>();
        // Asked to stop first, so that the producer drops once the queue is full rather than wait.
        shutdown.request();
        let sent = (QUEUE_BYTES + 3 * CHUNK) / line.len();
        for _ in 0..sent {
            // In pieces, as serde_json writes a record.
            for piece in line.chunks(300) {
                w.write_all(piece).unwrap();
            }
        }
        w.flush().unwrap();
        let handle = w.handle();
        drop(w);
        handle.finish(|| {});
        let got = gate.open();
        assert!(handle.dropped_records() > 0);
        assert_eq!(got.last(), Some(&b'\n'), "the output ends with a whole record");
        assert!(got.split(|b| *b == b'\n').filter(|l| !l.is_empty()).all(|l| l == &line[..999]), "every line whole");
        let written = got.len() / line.len();
        assert_eq!(written as u64 + handle.dropped_records(), sent as u64, "every record written or counted");
    }

    #[test]
    fn the_readers_error_reaches_the_producer() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = BackgroundWriter::new(Closed, Shutdown::inert()).unwrap();
        w.write_all(b"{}\n").unwrap();
        w.flush().unwrap();
        assert_eq!(w.handle().finish(|| {}), Some(io::ErrorKind::BrokenPipe));
        w.write_all(b"{}\n").unwrap();
        assert_eq!(w.flush().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }
}
