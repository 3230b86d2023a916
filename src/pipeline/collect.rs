//! The collection loop every output shares: load and attach the probes, read
//! the ring buffer, read the kernel's counter maps once per interval, and
//! stop cleanly (links detached) on request or at the end of `--duration`.

use std::cell::RefCell;
use std::io;
use std::mem::MaybeUninit;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use libbpf_rs::{RingBuffer, RingBufferBuilder};

use super::counters::{kernel_stats, write_counters};
use super::Pipeline;
use crate::enrich::filter::Filter;
use crate::enrich::listeners;
use crate::enrich::Enricher;
use crate::heap;
use crate::host::Host;
use crate::output::is_closed_output;
use crate::probes::{self, EventClasses, KernelConfig, Probes, RunTimeStats};
use crate::records::run::StartInfo;
use crate::records::{Sink, Stats};
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

/// Listening sockets older than podtop, so that their connections are attributed.
fn add_existing_listeners(probes: &Probes, enricher: &mut Enricher, host: &Host, opts: &CollectOptions) {
    let Some(cgroupfs) = enricher.cgroupfs().cloned() else { return };
    for listener in listeners::scan(host) {
        let Some(who) = listeners::identity_of(host, listener.pid, &cgroupfs) else { continue };
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
    let (mut enricher, filter_ids) = prepare(&host, opts)?;
    let mut storage = MaybeUninit::uninit();
    let probes = Probes::load(&mut storage, &kernel_config(opts))?;
    for id in filter_ids {
        probes.allow_cgroup(id)?;
    }
    if opts.classes.contains(EventClasses::NET) {
        add_existing_listeners(&probes, &mut enricher, &host, opts);
    }
    let _run_time_stats = if opts.bpf_run_time { RunTimeStats::enable() } else { None };
    let read_run_time = opts.bpf_run_time || RunTimeStats::enabled_by_sysctl(&host);

    let sink = match make_sink(&start_info(opts, &host, &enricher, &probes)) {
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

    poll(opts, shutdown, &probes, &ring, &pipeline, read_run_time)?;

    // Drain what is queued, then the last counters, before detaching.
    let _ = ring.consume();
    shutdown.progress();
    let ended = last_counters(&probes, &mut pipeline.borrow_mut(), read_run_time);
    drop(ring);
    // Detaching can take a while (fexit links wait for RCU grace periods):
    // one link at a time, each a step of progress for the watchdog.
    probes.detach(|| shutdown.progress());
    ended
}

/// `collect` on a thread of its own ("podtop-collect"), for an output that
/// runs elsewhere (the TUI): returns once every probe is attached, with what
/// `make_sink` made beside its sink, or with the error that stopped
/// collection before it started.
pub fn spawn<S, T>(
    opts: CollectOptions,
    shutdown: Shutdown,
    make_sink: impl FnOnce(&StartInfo) -> io::Result<(S, T)> + Send + 'static,
) -> Result<(T, JoinHandle<Result<()>>)>
where
    S: Sink,
    T: Send + 'static,
{
    let (started_tx, started_rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name("podtop-collect".into())
        .spawn(move || -> Result<()> {
            collect(&opts, &shutdown, |start| {
                let (sink, started) = make_sink(start)?;
                let _ = started_tx.send(started);
                Ok(sink)
            })?;
            Ok(())
        })
        .context("starting the collection thread")?;
    match started_rx.recv() {
        Ok(started) => Ok((started, worker)),
        Err(_) => Err(match worker.join() {
            Ok(Err(e)) => e,
            Ok(Ok(())) => anyhow!("collection ended before it started"),
            Err(_) => anyhow!("the collection thread panicked"),
        }),
    }
}

/// What comes before loading: podtop may load eBPF programs, the filters
/// name something, and the host's cgroups are read; returns the enricher and
/// the cgroups the filters select.
fn prepare(host: &Host, opts: &CollectOptions) -> Result<(Enricher, Vec<u64>)> {
    probes::check_prerequisites(host)?;
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
    let mut enricher = Enricher::new(host.clone(), cgroupfs);
    let filter_ids = if opts.filter.is_active() { opts.filter.resolve(&enricher.all_cgroups())? } else { Vec::new() };
    Ok((enricher, filter_ids))
}

fn kernel_config(opts: &CollectOptions) -> KernelConfig {
    KernelConfig {
        classes: opts.classes,
        filter_pid: opts.pid,
        filter_by_cgroup: opts.filter.is_active(),
        ringbuf_bytes: opts.ringbuf_bytes,
        ringbuf_kinds: opts.ringbuf_kinds,
        first_open_per_file: opts.first_open_per_file,
        skip_probes: opts.skip_probes.clone(),
        wakeup_bytes: WAKEUP_BYTES,
        dns_ports: opts.dns_ports.clone(),
        // Open connections report once an interval, so that each interval's records hold their bytes and turns.
        progress_interval_ns: u64::try_from(opts.interval.as_nanos()).unwrap_or(u64::MAX),
    }
}

/// The run, as the start record and the TUI's header tell it.
fn start_info<'a>(opts: &'a CollectOptions, host: &Host, enricher: &Enricher, probes: &'a Probes) -> StartInfo<'a> {
    StartInfo {
        node: opts.node_name.clone().unwrap_or_else(|| host.node_name()),
        kernel: host.kernel_release(),
        cgroup_mount: enricher.cgroupfs().map(|c| c.mount().display().to_string()).unwrap_or_default(),
        probes: &probes.report,
        classes: opts.classes,
        filter: &opts.filter,
        pid: opts.pid,
    }
}

/// Reads the ring buffer, and the counters once per interval, until a stop
/// is asked for, `--duration` ends or a write fails.
fn poll<S: Sink>(
    opts: &CollectOptions,
    shutdown: &Shutdown,
    probes: &Probes,
    ring: &RingBuffer,
    pipeline: &RefCell<Pipeline<S>>,
    read_run_time: bool,
) -> Result<()> {
    let started = Instant::now();
    let mut next_tick = started + opts.interval;
    loop {
        shutdown.progress();
        if shutdown.requested() || opts.duration.is_some_and(|d| started.elapsed() >= d) {
            return Ok(());
        }
        // Errors here are EINTR or a stop requested by the callback; both are looked at below.
        let _ = ring.poll(POLL_TIMEOUT);
        let _ = ring.consume();
        let mut p = pipeline.borrow_mut();
        if p.output_error.is_some() {
            return Ok(());
        }
        for id in p.take_pending_filter_cgroups() {
            probes.allow_cgroup(id)?;
        }
        let result = if Instant::now() >= next_tick {
            next_tick += opts.interval;
            let written = write_counters(probes, &mut p, read_run_time);
            // The interval's garbage is freed by now (the TUI's model frees
            // on its own thread; malloc_trim covers every thread's arena).
            heap::return_free_pages();
            written
        } else {
            p.sink().flush()
        };
        if let Err(e) = result {
            p.output_error = Some(e);
            return Ok(());
        }
    }
}

/// The last counters, unless a write failed already; how the run ended.
fn last_counters<S: Sink>(probes: &Probes, p: &mut Pipeline<S>, read_run_time: bool) -> Result<Ended> {
    if p.output_error.is_none() {
        if let Err(e) = write_counters(probes, p, read_run_time) {
            p.output_error = Some(e);
        }
    }
    match p.output_error.take() {
        Some(e) => ended_by(e, "records"),
        None => Ok(Ended::Stopped(kernel_stats(probes, false))),
    }
}
