//! A sink of your own: a running error rate per pod, the way you would plug
//! podtop's pipeline into your own tool (an exporter, an alert, a
//! load-shedder) instead of parsing its JSON.
//!
//! What it shows: implementing `podtop::Sink` (every record kind has a
//! method; this one keeps `http` and lets the others go by), keeping state
//! across records, using the interval's `stats` call as the clock to report
//! on, and reading the state back once collection ends.
//!
//! A pod's error rate is over the requests it answered (its `server` end):
//! an answer of 500 or more, or none at all (the connection closed first), is
//! an error; a 4xx is the caller's mistake, not the pod's.
//!
//! Run it as root (it loads eBPF programs); any of podtop's filter flags
//! narrow it (`--namespace`, `--pod`, `--container`), `--duration` ends it,
//! `--interval` sets how often it reports (default 1 s):
//!
//!     cargo build --release --examples
//!     sudo target/release/examples/error_rate --namespace shop --duration 60
//!
//! Every interval, each pod whose figures changed, with the seconds since
//! start; at the end (Ctrl-C or --duration), every pod's totals:
//!
//!     t=3s shop/web-0 requests=120 errors=6 error_rate=5.0%
//!     total shop/web-0 requests=120 errors=6 error_rate=5.0%

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;
use podtop::{Attribution, CountersRecord, DnsRecord, EventRecord, FileIoRecord, HttpRecord, Role, SidecarsRecord, Sink, Stats, UdpRecord};

const USAGE: &str = "usage: error_rate [--namespace NS | --pod POD | --container NAME] [--duration SECS] [--interval SECS]";

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    requests: u64,
    errors: u64,
}

impl Counts {
    fn line(self, pod: &str) -> String {
        let rate = if self.requests == 0 { 0.0 } else { 100.0 * self.errors as f64 / self.requests as f64 };
        format!("{pod} requests={} errors={} error_rate={rate:.1}%", self.requests, self.errors)
    }
}

/// Requests and errors per pod since start, and which pods changed since the last report.
#[derive(Default)]
struct ErrorRates {
    pods: BTreeMap<String, Counts>,
    changed: BTreeSet<String>,
    started_ns: Option<u64>,
}

fn pod_name(owner: &Attribution) -> String {
    match &owner.pod {
        Some(pod) => match (&pod.namespace, &pod.name) {
            (Some(namespace), Some(name)) => format!("{namespace}/{name}"),
            _ => pod.uid.clone(),
        },
        None => "(no pod)".into(),
    }
}

/// The pipeline borrows the state for the run; `main` reads it afterwards.
impl Sink for &mut ErrorRates {
    fn http(&mut self, r: &HttpRecord) -> io::Result<()> {
        if r.exchange.role != Role::Server {
            return Ok(());
        }
        let pod = pod_name(r.owner);
        let counts = self.pods.entry(pod.clone()).or_default();
        counts.requests += 1;
        if r.exchange.response.is_none_or(|response| response.status >= 500) {
            counts.errors += 1;
        }
        self.changed.insert(pod);
        Ok(())
    }

    /// Once per interval, after the interval's counters: time to report.
    fn stats(&mut self, unix_ns: u64, _: &Stats) -> io::Result<()> {
        let started = *self.started_ns.get_or_insert(unix_ns);
        let seconds = unix_ns.saturating_sub(started) / 1_000_000_000;
        let mut out = io::stdout().lock();
        for pod in std::mem::take(&mut self.changed) {
            writeln!(out, "t={seconds}s {}", self.pods[&pod].line(&pod))?;
        }
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
    fn sidecars(&mut self, _: &SidecarsRecord) -> io::Result<()> {
        Ok(())
    }
    fn dns(&mut self, _: &DnsRecord) -> io::Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    // The caller's flags after ours: podtop's parser checks them all (an
    // unknown flag, a namespace with no pod on the node: one line).
    let options = podtop::collect_options(["--events=http".to_string()].into_iter().chain(args))?;
    let shutdown = podtop::Shutdown::install(None)?;
    let mut rates = ErrorRates::default();
    let ended = podtop::collect(&options, &shutdown, |start| {
        eprintln!("error_rate: counting the HTTP requests each pod answers on {}", start.node);
        // Watching starts now: the reports count their seconds from here.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        rates.started_ns = Some(now.as_nanos() as u64);
        Ok(&mut rates)
    });
    shutdown.finished();
    ended?;
    let mut out = io::stdout().lock();
    for (pod, counts) in &rates.pods {
        writeln!(out, "total {}", counts.line(pod))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error_rate: {e:#}");
            ExitCode::FAILURE
        }
    }
}
