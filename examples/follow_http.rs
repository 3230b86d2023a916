//! One pod's HTTP requests, printed as they happen: podtop's collection
//! pipeline used as a library.
//!
//! What it shows: collection options taken from podtop's own flags
//! (`podtop::collect_options`), `podtop::collect` (it loads and attaches the
//! eBPF programs, reads the ring buffer, and detaches them when it stops: at
//! Ctrl-C or after SECONDS), and a sink of its own that prints each
//! `podtop::HttpRecord` the moment the pipeline hands it over.
//!
//! Run it as root (it loads eBPF programs), with the pod's name or UID:
//!
//!     cargo build --release --examples
//!     sudo target/release/examples/follow_http web-0        # until Ctrl-C
//!     sudo target/release/examples/follow_http web-0 30     # for 30 seconds
//!
//! One line per request, at either end of the connection:
//!
//!     shop/web-0 server GET /cart 200 1.84ms shop/frontend-7d9
//!     shop/web-0 client POST /stock 503 12.01ms -
//!
//! pod, role (server: the pod answered; client: it asked), method, path
//! (query string dropped), status (`-`: no answer came), latency (request's
//! last bytes to the answer's first), and the pod at the other end (`-`: not
//! a pod on this node).

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{bail, Result};
use podtop::{Attribution, CountersRecord, DnsRecord, Ended, EventRecord, FileIoRecord, HttpRecord, SidecarsRecord, Sink, Stats, UdpRecord};

const USAGE: &str = "usage: follow_http POD [SECONDS]";

/// Prints every HTTP request; every other record goes by.
struct PrintRequests {
    out: io::Stdout,
}

/// `namespace/name`, else the pod's UID; `-` for a process in no pod.
fn pod_name(owner: &Attribution) -> String {
    match &owner.pod {
        Some(pod) => match (&pod.namespace, &pod.name) {
            (Some(namespace), Some(name)) => format!("{namespace}/{name}"),
            _ => pod.uid.clone(),
        },
        None => "-".into(),
    }
}

impl Sink for PrintRequests {
    fn http(&mut self, r: &HttpRecord) -> io::Result<()> {
        let exchange = r.exchange;
        let status = exchange.response.map_or("-".to_string(), |response| response.status.to_string());
        let latency = exchange.latency_ns.map_or("-".to_string(), |ns| format!("{:.2}ms", ns as f64 / 1e6));
        let peer = r.peer.map_or("-".to_string(), |peer| pod_name(peer));
        let mut out = self.out.lock();
        writeln!(out, "{} {} {} {} {status} {latency} {peer}", pod_name(r.owner), exchange.role.name(), exchange.request.method, r.path)?;
        // As it happens: a reader at the other end of a pipe sees each line at once.
        out.flush()
    }

    fn event(&mut self, _: &EventRecord) -> io::Result<()> {
        Ok(())
    }
    fn file_io(&mut self, _: &FileIoRecord) -> io::Result<()> {
        Ok(())
    }
    fn udp(&mut self, _: &UdpRecord) -> io::Result<()> {
        Ok(())
    }
    fn counters(&mut self, _: &CountersRecord) -> io::Result<()> {
        Ok(())
    }
    fn stats(&mut self, _: u64, _: &Stats) -> io::Result<()> {
        Ok(())
    }
    fn sidecars(&mut self, _: &SidecarsRecord) -> io::Result<()> {
        Ok(())
    }
    fn dns(&mut self, _: &DnsRecord) -> io::Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (pod, seconds) = match args.as_slice() {
        [help] if help == "-h" || help == "--help" => {
            println!("{USAGE}");
            return Ok(());
        }
        [pod] => (pod, None),
        [pod, seconds] => (pod, Some(seconds)),
        _ => bail!("{USAGE}"),
    };
    // podtop's own flags and their checks: a pod that is not on the node, or
    // SECONDS that are no number, are refused in one line.
    let mut flags = vec!["--events=http".to_string(), format!("--pod={pod}")];
    flags.extend(seconds.map(|s| format!("--duration={s}")));
    let options = podtop::collect_options(flags)?;

    // Ctrl-C, SIGTERM and SIGHUP stop collection; the probes are detached on the way out.
    let shutdown = podtop::Shutdown::install(None)?;
    let ended = podtop::collect(&options, &shutdown, |start| {
        eprintln!("follow_http: following the HTTP requests of pod {pod} on {}", start.node);
        Ok(PrintRequests { out: io::stdout() })
    });
    shutdown.finished();
    match ended? {
        Ended::Stopped(_) | Ended::OutputClosed => Ok(()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("follow_http: {e:#}");
            ExitCode::FAILURE
        }
    }
}
