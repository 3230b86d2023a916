//! `podtop --json`: the kernel's records, enriched, as a stream of JSON lines.

use std::cell::RefCell;
use std::io::{self, BufWriter, Write};
use std::mem::MaybeUninit;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags, RingBufferBuilder};

use crate::enrich::cgroups::find_cgroup2_mount;
use crate::enrich::metadata::MetadataSources;
use crate::enrich::Enricher;
use crate::events::{FileIoKey, FileIoValue, Kind, KindCounters, UdpKey, UdpValue};
use crate::filter::Filter;
use crate::output::{is_closed_output, JsonSink, Stats};
use crate::pipeline::Pipeline;
use crate::probes::{self, EventClasses, KernelConfig, Probes};

/// How long the reader sleeps at most: the bound on how late a record is written.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// The kernel wakes the reader once this much is queued, not on every record.
const WAKEUP_BYTES: u64 = 256 * 1024;

pub struct StreamOptions {
    pub classes: EventClasses,
    pub filter: Filter,
    pub pid: Option<u32>,
    pub duration: Option<Duration>,
    pub interval: Duration,
    pub ringbuf_bytes: u32,
}

pub fn node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
}

pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// SIGINT, SIGTERM and SIGHUP end the stream cleanly (links detached on the way out).
fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    Ok(stop)
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

/// Per-kind seen/lost counts, summed over CPUs.
fn kernel_stats(probes: &Probes) -> Stats {
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
            }
        }
    }
    let per_kind = Kind::ALL
        .iter()
        .map(|k| (*k, totals.seen[*k as usize], totals.lost[*k as usize]))
        .collect();
    Stats { per_kind, file_io_dropped: totals.file_io_dropped, udp_dropped: totals.udp_dropped, decode_errors: 0 }
}

/// The bytes of a plain key, to address a map entry.
fn key_bytes<K: plain::Plain>(key: &K) -> &[u8] {
    // SAFETY: K is a plain C struct; viewing it as bytes is always valid.
    unsafe { plain::as_bytes(key) }
}

fn write_counters<W: Write>(probes: &Probes, pipeline: &mut Pipeline<W>) -> io::Result<()> {
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
    pipeline.stats(kernel_stats(probes))?;
    pipeline.sink().flush()
}

fn write_start<W: Write>(pipeline: &mut Pipeline<W>, probes: &Probes, opts: &StreamOptions, cgroup_mount: &str) -> io::Result<()> {
    let now = pipeline.clock().now_unix_ns();
    let filter = &opts.filter;
    pipeline.sink().write_raw_line(
        |o| {
            o.str("version", env!("CARGO_PKG_VERSION")).str("kernel", kernel_release()).str("cgroup2", cgroup_mount);
            o.object("probes", |p| {
                for r in &probes.report {
                    p.object(r.spec.program, |x| {
                        x.str("tracepoint", r.spec.tracepoint).str("status", r.status.name()).opt_str("reason", r.status.reason());
                    });
                }
            });
            o.object("filters", |f| {
                f.opt_str("pod", filter.pod.as_deref())
                    .opt_str("namespace", filter.namespace.as_deref())
                    .opt_str("container", filter.container.as_deref())
                    .opt_u64("pid", opts.pid.map(u64::from));
            });
        },
        "start",
        now,
    )?;
    pipeline.sink().flush()
}

pub fn run(opts: StreamOptions) -> Result<()> {
    probes::check_prerequisites()?;
    probes::configure_libbpf_logging();
    let cgroup_mount = find_cgroup2_mount();
    if cgroup_mount.is_none() {
        eprintln!("podtop: warning: no cgroup v2 mount found; containers and pods cannot be named");
    }
    let mount_text = cgroup_mount.as_ref().map(|m| m.display().to_string()).unwrap_or_default();
    let mut enricher = Enricher::new(cgroup_mount, MetadataSources::default());
    let filter_ids = if opts.filter.is_active() { opts.filter.resolve(&enricher.all_cgroups())? } else { Vec::new() };

    let config = KernelConfig {
        classes: opts.classes,
        filter_pid: opts.pid,
        filter_by_cgroup: opts.filter.is_active(),
        ringbuf_bytes: opts.ringbuf_bytes,
        wakeup_bytes: WAKEUP_BYTES,
    };
    let mut storage = MaybeUninit::uninit();
    let probes = Probes::load(&mut storage, &config)?;
    for id in filter_ids {
        probes.allow_cgroup(id)?;
    }
    let stop = stop_on_signals()?;

    let sink = JsonSink::new(BufWriter::with_capacity(1 << 16, io::stdout().lock()), crate::stream::node_name());
    let pipeline = Rc::new(RefCell::new(Pipeline::new(enricher, sink, opts.filter.clone())));
    let written = write_start(&mut pipeline.borrow_mut(), &probes, &opts, &mount_text);
    if let Err(e) = written {
        return finish_quietly_if_closed(e);
    }

    let mut builder = RingBufferBuilder::new();
    let callback_pipeline = pipeline.clone();
    builder
        .add(&probes.skel.maps.events, move |data: &[u8]| callback_pipeline.borrow_mut().handle(data))
        .context("setting up the ring buffer reader")?;
    let ring = builder.build().context("setting up the ring buffer reader")?;

    let started = Instant::now();
    let mut next_tick = started + opts.interval;
    loop {
        if stop.load(Ordering::Relaxed) || opts.duration.is_some_and(|d| started.elapsed() >= d) {
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
            write_counters(&probes, &mut p)
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
    let mut p = pipeline.borrow_mut();
    if p.output_error.is_none() {
        if let Err(e) = write_counters(&probes, &mut p) {
            p.output_error = Some(e);
        }
    }
    if let Some(e) = p.output_error.take() {
        return finish_quietly_if_closed(e);
    }
    let stats = kernel_stats(&probes);
    eprintln!(
        "podtop: {} events seen, {} lost in the kernel (ring buffer full), {} counter updates dropped (maps full), {} probes detached",
        stats.seen_total(),
        stats.lost_total(),
        stats.file_io_dropped + stats.udp_dropped,
        probes.attached_count()
    );
    Ok(())
}

/// A closed stdout (`| head`) ends podtop quietly; any other write error is reported.
fn finish_quietly_if_closed(e: io::Error) -> Result<()> {
    if is_closed_output(&e) {
        Ok(())
    } else {
        Err(e).context("writing to standard output")
    }
}
