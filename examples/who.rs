//! Questions to a recording, answered later, anywhere, without root: which
//! pod opened this file, and who called this endpoint.
//!
//! What it shows: `podtop::Recording` reads a recording (`podtop --json`
//! redirected to a file) record by record, typed as `podtop::schema::Record`,
//! the same types `podtop replay` reads; no eBPF, no privilege.
//!
//! Record a minute on the node (as root), then ask (as anyone):
//!
//!     sudo podtop --json --events file,net,http --duration 60 > minute.jsonl
//!     cargo build --release --examples
//!     target/release/examples/who minute.jsonl opened /etc/shop/orders.db
//!     target/release/examples/who minute.jsonl called /orders
//!     target/release/examples/who minute.jsonl called "POST /orders"
//!
//! Tab-separated, a header first, the busiest first:
//!
//!     pod          container  process  opens  failed
//!     shop/web-0   app        python3  3      0
//!
//!     caller       container  server       requests  statuses
//!     shop/web-0   app        shop/api-0   4         200:3 500:1
//!
//! `opened` matches the path exactly as the process passed it (relative paths
//! stay relative); `-` stands for a process in no pod. `called`
//! counts the requests the server's end saw (the endpoint's pod must be on
//! the recorded node), by the pod at the other end, or by its address when
//! that is no pod on the node. Record with `--json`: a TUI recording
//! (`--record`) keeps only the first open of each file.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{bail, Result};
use podtop::schema::{Container, Owner, Pod, Record};

const USAGE: &str = "usage: who RECORDING opened PATH | who RECORDING called [METHOD] PATH";

enum Question {
    Opened { path: String },
    Called { method: Option<String>, path: String },
}

fn pod_name(pod: Option<&Pod>) -> String {
    match pod {
        Some(Pod { namespace: Some(namespace), name: Some(name), .. }) => format!("{namespace}/{name}"),
        Some(pod) => pod.uid.clone(),
        None => "-".into(),
    }
}

fn container_name(container: Option<&Container>) -> String {
    container.map_or("-".to_string(), |c| c.name.clone().unwrap_or_else(|| c.id.chars().take(12).collect()))
}

fn owner_names(owner: &Owner) -> (String, String) {
    (pod_name(owner.pod.as_ref()), container_name(owner.container.as_ref()))
}

/// Rows sorted by their count, the largest first, then by name.
fn busiest_first<K: Ord, V>(rows: BTreeMap<K, V>, count: impl Fn(&V) -> u64) -> Vec<(K, V)> {
    let mut rows: Vec<(K, V)> = rows.into_iter().collect();
    rows.sort_by(|a, b| count(&b.1).cmp(&count(&a.1)).then_with(|| a.0.cmp(&b.0)));
    rows
}

fn answer(recording: podtop::Recording, question: &Question) -> Result<Vec<String>> {
    let mut opened: BTreeMap<(String, String, String), (u64, u64)> = BTreeMap::new();
    let mut called: BTreeMap<(String, String, String), BTreeMap<String, u64>> = BTreeMap::new();
    for record in recording {
        match (record?, question) {
            (Record::Open(open), Question::Opened { path }) if open.body.file.path == *path => {
                let (pod, container) = owner_names(&open.owner);
                let counts = opened.entry((pod, container, open.process.comm.clone())).or_default();
                counts.0 += 1;
                counts.1 += u64::from(open.body.file.ret < 0);
            }
            (Record::Http(request), Question::Called { method, path })
                if request.body.http.role == "server"
                    && request.body.http.path == *path
                    && method.as_ref().is_none_or(|m| *m == request.body.http.method) =>
            {
                let (caller, container) = match &request.body.peer {
                    Some(peer) => (pod_name(peer.pod.as_ref()), container_name(peer.container.as_ref())),
                    // The server's own view: the remote end is the caller.
                    None => (request.body.net.ends.daddr.clone().unwrap_or_else(|| "-".into()), "-".into()),
                };
                let server = pod_name(request.owner.pod.as_ref());
                let status = request.body.http.status.map_or("none".to_string(), |s| s.to_string());
                *called.entry((caller, container, server)).or_default().entry(status).or_default() += 1;
            }
            _ => {}
        }
    }
    let lines = match question {
        Question::Opened { .. } => std::iter::once("pod\tcontainer\tprocess\topens\tfailed".to_string())
            .chain(busiest_first(opened, |c| c.0).into_iter().map(|((pod, container, comm), (opens, failed))| format!("{pod}\t{container}\t{comm}\t{opens}\t{failed}")))
            .collect(),
        Question::Called { .. } => std::iter::once("caller\tcontainer\tserver\trequests\tstatuses".to_string())
            .chain(busiest_first(called, |s| s.values().sum()).into_iter().map(|((caller, container, server), statuses)| {
                let requests: u64 = statuses.values().sum();
                let statuses: Vec<String> = statuses.iter().map(|(status, n)| format!("{status}:{n}")).collect();
                format!("{caller}\t{container}\t{server}\t{requests}\t{}", statuses.join(" "))
            }))
            .collect(),
    };
    Ok(lines)
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (file, question) = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [help] if *help == "-h" || *help == "--help" => {
            println!("{USAGE}");
            return Ok(());
        }
        [file, "opened", path] => (*file, Question::Opened { path: path.to_string() }),
        // "called /orders", "called POST /orders" or "called 'POST /orders'".
        [file, "called", endpoint] => match endpoint.split_once(' ') {
            Some((method, path)) => (*file, Question::Called { method: Some(method.to_string()), path: path.to_string() }),
            None => (*file, Question::Called { method: None, path: endpoint.to_string() }),
        },
        [file, "called", method, path] => (*file, Question::Called { method: Some(method.to_string()), path: path.to_string() }),
        _ => bail!("{USAGE}"),
    };
    let recording = podtop::Recording::open(file)?;
    let lines = answer(recording, &question)?;
    if lines.len() == 1 {
        match &question {
            Question::Opened { path } => eprintln!("who: nothing in {file} opened {path}"),
            Question::Called { path, .. } => eprintln!("who: no request for {path} in {file} was answered by a process podtop watched"),
        }
    }
    let mut out = io::stdout().lock();
    for line in lines {
        match writeln!(out, "{line}") {
            Ok(()) => {}
            // `| head`: the reader has what it wanted.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("who: {e:#}");
            ExitCode::FAILURE
        }
    }
}
