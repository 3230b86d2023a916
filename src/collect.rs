//! The collection loop every output shares: load and attach the probes, read
//! the ring buffer, read the kernel's counter maps once per interval, and
//! stop cleanly (links detached) on request or at the end of `--duration`.

use std::cell::RefCell;
use std::io;
use std::mem::MaybeUninit;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags, RingBufferBuilder};

use crate::enrich::listeners;
use crate::host::{Cgroupfs, Host};
use crate::enrich::Enricher;
use crate::events::{CgroupCounters, FileIoKey, FileIoValue, Kind, KindCounters, UdpKey, UdpValue};
use crate::enrich::filter::Filter;
use crate::output::is_closed_output;
use crate::records::run::StartInfo;
use crate::records::{Sink, Stats};
use crate::pipeline::Pipeline;
use crate::probes::{self, EventClasses, KernelConfig, Probes, RunTimeStats};
use crate::shutdown::Shutdown;

/// How long the reader sleeps at most: the bound on how late a record is written.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// The kernel wakes the reader once this much is queued, not on every record.
const WAKEUP_BYTES: u64 = 256 * 1024;

pub struct CollectOptions {
    pub classes: EventClasses,
    pub filter: Filter,
    pub pid: Option<u32>,
    pub duration: Option<Duration>,
    pub interval: Duration,
    pub ringbuf_bytes: u32,
    /// Record kinds shipped through the ring buffer (bit 1 << kind); others are only counted.
    pub ringbuf_kinds: u32,
    /// Ship an open only the first time its file is seen: enough to name files.
    pub first_open_per_file: bool,
    /// Programs not to attach, as if the kernel lacked their tracepoints.
    pub skip_probes: Vec<String>,
    /// Mask secrets in exec arguments.
    pub redact: bool,
    /// Keep query strings in HTTP paths.
    pub http_query: bool,
    /// UDP ports that carry DNS besides 53.
    pub dns_ports: Vec<u16>,
    /// The node's name; None: the hostname (which, in a pod, is the pod's).
    pub node_name: Option<String>,
    /// Turn on the kernel's accounting of BPF run time (shown by the TUI);
    /// where it is already on (sysctl kernel.bpf_stats_enabled), it is read anyway.
    pub bpf_run_time: bool,
}

impl CollectOptions {
    /// Every record kind is shipped.
    pub const ALL_KINDS: u32 = u32::MAX;
}

pub enum Ended {
    /// Stopped as asked; the kernel's counts at the end.
    Stopped(Stats),
    /// The sink's reader went away (`| head`, the UI closed).
    OutputClosed,
}

fn entries<K: plain::Plain + Copy, V: plain::Plain + Copy>(map: &dyn MapCore) -> Vec<(K, V)> {
    map.keys()
        .filter_map(|key| {
            let value = map.lookup(&key, MapFlags::ANY).ok().flatten()?;
            let k: &K = plain::from_bytes(&key).ok()?;
            let v: &V = plain::from_bytes(&value).ok()?;
            Some((*k, *v))
        })
        .collect()
}

/// As `entries`, for a per-CPU map: each entry's CPU copies summed by `add`.
fn per_cpu_entries<K: plain::Plain + Copy, V: plain::Plain + Copy + Default>(map: &dyn MapCore, add: impl Fn(&mut V, &V)) -> Vec<(K, V)> {
    map.keys()
        .filter_map(|key| {
            let per_cpu = map.lookup_percpu(&key, MapFlags::ANY).ok().flatten()?;
            let k: &K = plain::from_bytes(&key).ok()?;
            let mut sum = V::default();
            for bytes in &per_cpu {
                add(&mut sum, plain::from_bytes(bytes).ok()?);
            }
            Some((*k, sum))
        })
        .collect()
}

/// The bytes of a plain key, to address a map entry.
fn key_bytes<K: plain::Plain>(key: &K) -> &[u8] {
    // SAFETY: K is a plain C struct; viewing it as bytes is always valid.
    unsafe { plain::as_bytes(key) }
}

/// Per-kind seen/lost counts summed over CPUs, and what the maps dropped.
fn kernel_stats(probes: &Probes, run_time: bool) -> Stats {
    let mut totals = KindCounters::default();
    if let Ok(Some(per_cpu)) = probes.skel.maps.counters.lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY) {
        for bytes in per_cpu {
            if let Ok(c) = plain::from_bytes::<KindCounters>(&bytes) {
                for i in 0..totals.seen.len() {
                    totals.seen[i] += c.seen[i];
                    totals.lost[i] += c.lost[i];
                }
                totals.file_io_dropped += c.file_io_dropped;
                totals.udp_dropped += c.udp_dropped;
                totals.cgroup_dropped += c.cgroup_dropped;
            }
        }
    }
    let per_kind = Kind::ALL.iter().map(|k| (*k, totals.seen[*k as usize], totals.lost[*k as usize])).collect();
    let (bpf_run_time_ns, bpf_run_count) = if run_time {
        let (ns, count) = probes.run_time();
        (Some(ns), Some(count))
    } else {
        (None, None)
    };
    Stats {
        per_kind,
        file_io_dropped: totals.file_io_dropped,
        udp_dropped: totals.udp_dropped,
        cgroup_dropped: totals.cgroup_dropped,
        decode_errors: 0,
        bpf_run_time_ns,
        bpf_run_count,
        // The pipeline's own, filled in at the interval's end.
        tables: Vec::new(),
    }
}

/// One read of every counter map: records for what changed, idle entries removed.
fn write_counters<S: Sink>(probes: &Probes, pipeline: &mut Pipeline<S>, run_time: bool) -> io::Result<()> {
    let maps = &probes.skel.maps;
    let file_io: Vec<(FileIoKey, FileIoValue)> = entries(&maps.file_io);
    for idle in pipeline.file_io(&file_io)? {
        if maps.file_io.delete(key_bytes(&idle)).is_ok() {
            pipeline.forget_file_io(&idle);
        }
    }
    let udp: Vec<(UdpKey, UdpValue)> = entries(&maps.udp_flows);
    for idle in pipeline.udp(&udp)? {
        if maps.udp_flows.delete(key_bytes(&idle)).is_ok() {
            pipeline.forget_udp(&idle);
        }
    }
    let cgroups: Vec<(u64, CgroupCounters)> = per_cpu_entries(&maps.cgroup_stats, CgroupCounters::add);
    for idle in pipeline.cgroup_counters(&cgroups)? {
        if maps.cgroup_stats.delete(&idle.to_ne_bytes()).is_ok() {
            pipeline.forget_cgroup_counters(idle);
        }
    }
    pipeline.stats(kernel_stats(probes, run_time))?;
    pipeline.sink().flush()
}

/// Listening sockets older than podtop, so that their connections are attributed.
fn add_existing_listeners(probes: &Probes, enricher: &mut Enricher, host: &Host, cgroupfs: Option<&Cgroupfs>, opts: &CollectOptions) {
    let Some(cgroupfs) = cgroupfs else { return };
    for listener in listeners::scan(host) {
        let Some(who) = listeners::identity_of(host, listener.pid, cgroupfs) else { continue };
        let wanted = opts.pid.is_none_or(|pid| pid == listener.pid)
            && (!opts.filter.is_active() || opts.filter.matches(&enricher.attribution(who.cgroup_id)));
        if let Err(e) = probes.add_listener(listener.netns, listener.port, who, wanted) {
            eprintln!("podtop: warning: listener on port {} not recorded: {e}", listener.port);
        }
    }
}

fn ended_by(e: io::Error, what: &str) -> Result<Ended> {
    if is_closed_output(&e) {
        Ok(Ended::OutputClosed)
    } else {
        Err(e).context(format!("writing {what}"))
    }
}

/// Runs until `stop` is set, `--duration` ends or the sink's reader goes away.
pub fn collect<S: Sink>(
    opts: &CollectOptions,
    shutdown: &Shutdown,
    make_sink: impl FnOnce(&StartInfo) -> io::Result<S>,
) -> Result<Ended> {
    let host = Host::live();
    probes::check_prerequisites(&host)?;
    if let Some(pid) = opts.pid {
        // As with --pod or --container: a filter that matches nothing is a mistake, said at once.
        if host.process(pid).status().is_none() {
            anyhow::bail!("no process {pid} on this node (--pid)");
        }
    }
    probes::configure_libbpf_logging();
    let cgroupfs = host.cgroupfs();
    if cgroupfs.is_none() {
        eprintln!("podtop: warning: no cgroup v2 mount found; containers and pods cannot be named");
    }
    let mount_text = cgroupfs.as_ref().map(|c| c.mount().display().to_string()).unwrap_or_default();
    let mut enricher = Enricher::new(host.clone(), cgroupfs.clone());
    let filter_ids = if opts.filter.is_active() { opts.filter.resolve(&enricher.all_cgroups())? } else { Vec::new() };

    let config = KernelConfig {
        classes: opts.classes,
        filter_pid: opts.pid,
        filter_by_cgroup: opts.filter.is_active(),
        ringbuf_bytes: opts.ringbuf_bytes,
        ringbuf_kinds: opts.ringbuf_kinds,
        first_open_per_file: opts.first_open_per_file,
        skip_probes: opts.skip_probes.clone(),
        wakeup_bytes: WAKEUP_BYTES,
        dns_ports: opts.dns_ports.clone(),
    };
    let mut storage = MaybeUninit::uninit();
    let probes = Probes::load(&mut storage, &config)?;
    for id in filter_ids {
        probes.allow_cgroup(id)?;
    }
    if opts.classes.contains(EventClasses::NET) {
        add_existing_listeners(&probes, &mut enricher, &host, cgroupfs.as_ref(), opts);
    }
    let _run_time_stats = if opts.bpf_run_time { RunTimeStats::enable() } else { None };
    let read_run_time = opts.bpf_run_time || RunTimeStats::enabled_by_sysctl(&host);

    let start = StartInfo {
        node: opts.node_name.clone().unwrap_or_else(|| host.node_name()),
        kernel: host.kernel_release(),
        cgroup_mount: mount_text,
        probes: &probes.report,
        classes: opts.classes,
        filter: &opts.filter,
        pid: opts.pid,
    };
    let sink = match make_sink(&start) {
        Ok(sink) => sink,
        Err(e) => return ended_by(e, "the start record"),
    };
    let pipeline = Rc::new(RefCell::new(Pipeline::new(enricher, sink, opts.filter.clone(), opts.redact).keeping_http_queries(opts.http_query)));
    let mut builder = RingBufferBuilder::new();
    let callback_pipeline = pipeline.clone();
    builder
        .add(&probes.skel.maps.events, move |data: &[u8]| callback_pipeline.borrow_mut().handle(data))
        .context("setting up the ring buffer reader")?;
    let ring = builder.build().context("setting up the ring buffer reader")?;
    crate::probes::make_ring_buffer_resident(opts.ringbuf_bytes as usize);

    let started = Instant::now();
    let mut next_tick = started + opts.interval;
    loop {
        shutdown.progress();
        if shutdown.requested() || opts.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        // Errors here are EINTR or a stop requested by the callback; both are looked at below.
        let _ = ring.poll(POLL_TIMEOUT);
        let _ = ring.consume();
        let mut p = pipeline.borrow_mut();
        if p.output_error.is_some() {
            break;
        }
        for id in p.take_pending_filter_cgroups() {
            probes.allow_cgroup(id)?;
        }
        let result = if Instant::now() >= next_tick {
            next_tick += opts.interval;
            write_counters(&probes, &mut p, read_run_time)
        } else {
            p.sink().flush()
        };
        if let Err(e) = result {
            p.output_error = Some(e);
            break;
        }
    }

    // Drain what is queued, then the last counters, before detaching.
    let _ = ring.consume();
    shutdown.progress();
    let mut p = pipeline.borrow_mut();
    if p.output_error.is_none() {
        if let Err(e) = write_counters(&probes, &mut p, read_run_time) {
            p.output_error = Some(e);
        }
    }
    let ended = match p.output_error.take() {
        Some(e) => ended_by(e, "records"),
        None => Ok(Ended::Stopped(kernel_stats(&probes, false))),
    };
    drop(p);
    drop(ring);
    // Detaching can take a while (fexit links wait for RCU grace periods):
    // one link at a time, each a step of progress for the watchdog.
    probes.detach(|| shutdown.progress());
    ended
}
