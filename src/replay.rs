//! `podtop replay FILE`: the TUI from a recording (`--json` or `--record`),
//! without root or BPF, at the recorded pace or faster.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::aggregate::observation::{ConnKind, Connection, Happening, KernelTotals, Observation, ProcessRef, What};
use crate::enrich::cgroup_path::{QosClass, Runtime};
use crate::enrich::{Attribution, Container, Pod};
use crate::events::CgroupCounters;
use crate::output::json::parse_rfc3339;
use crate::records::run::{RunInfo, Source};

/// Turns recorded JSON lines back into observations; owners are shared by cgroup id.
#[derive(Default)]
pub struct RecordingReader {
    owners: HashMap<u64, Arc<Attribution>>,
}

fn str_of(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn container_of(v: &Value) -> Option<Container> {
    Some(Container {
        id: str_of(&v["id"])?,
        runtime: v["runtime"].as_str().and_then(Runtime::from_name),
        name: str_of(&v["name"]),
    })
}

fn pod_of(v: &Value) -> Option<Pod> {
    Some(Pod {
        uid: str_of(&v["uid"])?,
        name: str_of(&v["name"]),
        namespace: str_of(&v["namespace"]),
        qos: v["qos"].as_str().and_then(QosClass::from_name).unwrap_or(QosClass::BestEffort),
        cgroup_path: String::new(),
    })
}

fn socket(net: &Value, addr: &str, port: &str) -> Option<SocketAddr> {
    let ip: IpAddr = net[addr].as_str()?.parse().ok()?;
    Some(SocketAddr::new(ip, u16::try_from(u64_of(&net[port])).ok()?))
}

impl RecordingReader {
    fn owner(&mut self, r: &Value) -> Arc<Attribution> {
        let id = u64_of(&r["cgroup"]["id"]);
        let fresh = Attribution {
            cgroup_id: id,
            cgroup_path: str_of(&r["cgroup"]["path"]),
            container: container_of(&r["container"]),
            pod: pod_of(&r["pod"]),
            rendered: Default::default(),
        };
        let known = self.owners.get(&id).filter(|a| a.container == fresh.container && a.pod == fresh.pod);
        match known {
            Some(a) => a.clone(),
            None => {
                let a = Arc::new(fresh);
                self.owners.insert(id, a.clone());
                a
            }
        }
    }

    fn peer(v: &Value) -> Option<Arc<Attribution>> {
        let pod = pod_of(&v["pod"])?;
        Some(Arc::new(Attribution {
            cgroup_id: 0,
            cgroup_path: None,
            container: container_of(&v["container"]),
            pod: Some(pod),
            rendered: Default::default(),
        }))
    }

    /// The observation a record stands for; None for records the model does not use.
    pub fn observation(&mut self, r: &Value) -> Option<Observation> {
        let kind = r["type"].as_str()?;
        let unix_ns = r["time"].as_str().and_then(parse_rfc3339).unwrap_or(0);
        match kind {
            "stats" => {
                let dropped = &r["counters_dropped"];
                return Some(Observation::Tick {
                    unix_ns,
                    totals: KernelTotals {
                        seen: u64_of(&r["seen_total"]),
                        lost: u64_of(&r["lost_total"]),
                        dropped: u64_of(&dropped["file_io"]) + u64_of(&dropped["udp"]) + u64_of(&dropped["cgroup"]),
                        bpf_run_time_ns: r["bpf_run_time_ns"].as_u64(),
                    },
                });
            }
            "counters" => {
                let mut delta = CgroupCounters::default();
                for (name, value) in r["counters"].as_object()? {
                    delta.set(name, u64_of(value));
                }
                return Some(Observation::Counters { owner: self.owner(r), delta });
            }
            _ => {}
        }
        let p = &r["process"];
        let process = ProcessRef {
            pid: u64_of(&p["pid"]) as u32,
            ppid: u64_of(&p["ppid"]) as u32,
            comm: str_of(&p["comm"]).unwrap_or_default(),
        };
        let net = &r["net"];
        let what = match kind {
            "exec" => What::Exec {
                filename: str_of(&r["exec"]["filename"]).unwrap_or_default(),
                args: r["exec"]["args"].as_array()?.iter().filter_map(str_of).collect(),
            },
            "exit" => What::Exit {
                code: r["exit"]["code"].as_u64().map(|c| c as u32),
                signal: r["exit"]["signal"].as_u64().map(|s| s as u32),
            },
            // The TUI counts opens in the kernel; it does not list them.
            "open" => return None,
            "connect" | "accept" | "close" => What::Connection(Connection {
                kind: match kind {
                    "connect" => ConnKind::Connect,
                    "accept" => ConnKind::Accept,
                    _ => ConnKind::Close,
                },
                local: socket(net, "saddr", "sport")?,
                remote: socket(net, "daddr", "dport")?,
                tx_bytes: u64_of(&net["tx_bytes"]),
                rx_bytes: u64_of(&net["rx_bytes"]),
                cookie: u64_of(&net["cookie"]),
                peer: Self::peer(&r["peer"]),
                sidecar_visible: r["sidecar_visible"].as_bool().unwrap_or(false),
            }),
            "file_io" => What::FileIo {
                path: str_of(&r["file"]["path"]),
                read_bytes: u64_of(&r["file"]["read_bytes"]),
                write_bytes: u64_of(&r["file"]["write_bytes"]),
            },
            "udp" => What::Udp {
                local: socket(net, "saddr", "sport")?,
                remote: socket(net, "daddr", "dport"),
                tx_bytes: u64_of(&net["tx_bytes"]),
                rx_bytes: u64_of(&net["rx_bytes"]),
                datagrams: u64_of(&net["tx_datagrams"]) + u64_of(&net["rx_datagrams"]),
            },
            _ => return None,
        };
        Some(Observation::Happened(Happening { unix_ns, owner: self.owner(r), process, what }))
    }
}

/// What the header says, from the recording's start record.
pub fn run_info(start: &Value, path: &Path) -> RunInfo {
    let probes = start["probes"].as_object();
    let with_status = |status: &str| probes.map_or(0, |p| p.values().filter(|v| v["status"] == status).count());
    RunInfo {
        node: str_of(&start["node"]).unwrap_or_default(),
        kernel: str_of(&start["kernel"]).unwrap_or_default(),
        probes_attached: with_status("attached"),
        probes_skipped: with_status("skipped") + with_status("failed"),
        source: Source::Replay { path: path.to_path_buf() },
    }
}

/// The longest line a recording may have: podtop writes none longer than
/// about 40 KiB (an exec with its whole command line, escaped).
pub const MAX_LINE: usize = 1024 * 1024;
/// Observations handed to the UI at once, at most, even between two ticks.
const MAX_BATCH: usize = 10_000;

/// Reads one line of at most `max` bytes into `line` (without its newline);
/// Ok(false) at the end of the input. A longer line is an error, whatever
/// its length: nothing is read into memory past `max`.
pub fn read_line_bounded(reader: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> std::io::Result<bool> {
    line.clear();
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(!line.is_empty());
        }
        let (chunk, found) = match available.iter().position(|b| *b == b'\n') {
            Some(end) => (&available[..end], true),
            None => (available, false),
        };
        if line.len() + chunk.len() > max {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("a line longer than {} KiB", max / 1024)));
        }
        line.extend_from_slice(chunk);
        let used = chunk.len() + usize::from(found);
        reader.consume(used);
        if found {
            return Ok(true);
        }
    }
}

/// Opens a recording and reads its start record.
pub fn open(path: &Path) -> Result<(RunInfo, BufReader<File>)> {
    let file = File::open(path).with_context(|| format!("opening the recording {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut first = Vec::new();
    let not_a_recording = || format!("{} is not a podtop recording (its first line is not a start record)", path.display());
    match read_line_bounded(&mut reader, &mut first, MAX_LINE) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => bail!("{}", not_a_recording()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let start: Value =
        serde_json::from_slice(&first).ok().filter(|v: &Value| v["type"] == "start").with_context(not_a_recording)?;
    Ok((run_info(&start, path), reader))
}

/// Sends the recording's observations, one batch per interval, paced by the
/// recorded times divided by `speed` (0: as fast as possible).
pub fn play(mut reader: BufReader<File>, speed: f64, to_ui: SyncSender<Vec<Observation>>, stop: &AtomicBool) -> Result<()> {
    let mut recording = RecordingReader::default();
    let mut batch = Vec::new();
    let mut last_tick: Option<u64> = None;
    let mut line = Vec::new();
    let mut number = 1; // the start record was line 1
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        number += 1;
        match read_line_bounded(&mut reader, &mut line, MAX_LINE) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => bail!("line {number} of the recording is {e}: not a podtop recording"),
            Err(e) => return Err(e).context("reading the recording"),
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(record) = serde_json::from_slice::<Value>(&line) else {
            bail!("line {number} of the recording is not JSON");
        };
        let Some(observation) = recording.observation(&record) else { continue };
        let tick = match &observation {
            Observation::Tick { unix_ns, .. } => Some(*unix_ns),
            _ => None,
        };
        batch.push(observation);
        if tick.is_none() && batch.len() >= MAX_BATCH {
            if to_ui.send(std::mem::take(&mut batch)).is_err() {
                return Ok(());
            }
            continue;
        }
        if let Some(now) = tick {
            if let (Some(before), true) = (last_tick, speed > 0.0) {
                let wait = Duration::from_nanos(now.saturating_sub(before)).div_f64(speed).min(Duration::from_secs(10));
                // In short steps: a quit during a long wait is not held up.
                let until = std::time::Instant::now() + wait;
                while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep((until - std::time::Instant::now()).min(Duration::from_millis(50)));
                }
            }
            last_tick = Some(now);
            if to_ui.send(std::mem::take(&mut batch)).is_err() {
                return Ok(()); // the UI closed
            }
        }
    }
    if !batch.is_empty() {
        let _ = to_ui.send(batch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record() -> impl Strategy<Value = Value> {
        let kind = prop_oneof![
            Just("exec"), Just("exit"), Just("open"), Just("connect"), Just("accept"), Just("close"),
            Just("udp"), Just("file_io"), Just("counters"), Just("stats"), Just("start"), Just("other"),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC{0,16}".prop_map(Value::from),
            Just(Value::from("10.0.0.1")),
            Just(Value::from("2026-11-29T00:00:00.000000000Z")),
        ];
        let field = prop_oneof![
            Just("process"), Just("pid"), Just("cgroup"), Just("id"), Just("container"), Just("pod"), Just("uid"),
            Just("net"), Just("saddr"), Just("sport"), Just("daddr"), Just("dport"), Just("exec"), Just("args"),
            Just("counters"), Just("execs"), Just("file"), Just("path"), Just("time"), Just("peer"), Just("exit"), Just("code"),
        ];
        let value = leaf.prop_recursive(3, 40, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(field.clone().prop_map(str::to_string), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        (kind, value).prop_map(|(kind, mut value)| {
            if let Value::Object(map) = &mut value {
                map.insert("type".into(), Value::from(kind));
            }
            value
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn any_record_is_read_without_panicking(r in record()) {
            let _ = RecordingReader::default().observation(&r);
        }

        /// Lines come back whole and in order, none longer than the bound;
        /// past it, an error, with no more than the bound read into memory.
        #[test]
        fn lines_are_bounded(input in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..300), max in 1usize..40) {
            let mut reader = std::io::BufReader::with_capacity(7, input.as_slice());
            let mut line = Vec::new();
            let mut lines = Vec::new();
            loop {
                match read_line_bounded(&mut reader, &mut line, max) {
                    Ok(true) => {
                        prop_assert!(line.len() <= max);
                        lines.push(line.clone());
                    }
                    Ok(false) => {
                        let expected: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
                        let got: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
                        prop_assert_eq!(&got[..], &expected[..got.len()]);
                        break;
                    }
                    Err(_) => {
                        prop_assert!(input.split(|b| *b == b'\n').any(|l| l.len() > max));
                        prop_assert!(line.len() <= max);
                        break;
                    }
                }
            }
        }
    }
}
