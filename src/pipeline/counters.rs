//! The kernel's cumulative counters, per file, per UDP socket and per
//! cgroup, read once per interval: what changed since the last read becomes
//! a record, and entries idle for a whole interval are removed from the
//! kernel's maps; then the kernel's own counts, seen and lost.

use std::io;

use libbpf_rs::{MapCore, MapFlags};

use super::{Pipeline, Transport};
use crate::enrich::files::FileKey;
use crate::enrich::peers::{Endpoint, SocketView};
use crate::events::{ip_of, CgroupCounters, FileIoKey, FileIoValue, Kind, KindCounters, UdpKey, UdpValue};
use crate::probes::Probes;
use crate::records::{CountersRecord, FileIoDelta, FileIoRecord, Sink, Stats, UdpDelta, UdpRecord};

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
pub(super) fn kernel_stats(probes: &Probes, run_time: bool) -> Stats {
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
pub(super) fn write_counters<S: Sink>(probes: &Probes, pipeline: &mut Pipeline<S>, run_time: bool) -> io::Result<()> {
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
    // User space names listeners from the kernel's table of them, which
    // forgets each one at its close.
    pipeline.keep_listeners(&probes.listening());
    pipeline.stats(kernel_stats(probes, run_time))?;
    pipeline.sink().flush()
}

pub(super) type FileIoId = (u64, u64, u32, u32);
pub(super) type UdpId = (u64, [u8; 16], [u8; 16], u32, u16, u16, u16);

fn file_io_id(key: &FileIoKey) -> FileIoId {
    (key.cgroup_id, key.ino, key.dev, key.pid)
}

fn udp_id(key: &UdpKey) -> UdpId {
    (key.cgroup_id, key.saddr, key.daddr, key.pid, key.sport, key.dport, key.family)
}

impl<S: Sink> Pipeline<S> {
    /// Writes what changed in the kernel's per-file counters since the last
    /// call; returns the entries that stayed idle for a whole interval, which
    /// the caller removes from the kernel's map (then `forget_file_io`).
    pub fn file_io(&mut self, entries: &[(FileIoKey, FileIoValue)]) -> io::Result<Vec<FileIoKey>> {
        let now = self.clock.now_unix_ns();
        let mut idle = Vec::new();
        self.file_paths.new_read();
        for (key, value) in entries {
            let total = FileIoDelta {
                read_bytes: value.read_bytes,
                write_bytes: value.write_bytes,
                reads: value.reads,
                writes: value.writes,
            };
            let Some(delta) = self.file_io_deltas.observe(file_io_id(key), total) else {
                idle.push(*key);
                continue;
            };
            let owner = self.enricher.attribution(key.cgroup_id);
            // Named as the process's own mount namespace opened it, never as another's.
            let path = self.file_paths.path_of(FileKey { mntns: value.who.mntns, dev: key.dev, ino: key.ino }, key.pid);
            let record = FileIoRecord {
                unix_ns: now,
                who: &value.who,
                owner: &owner,
                dev: key.dev,
                ino: key.ino,
                path: path.as_deref(),
                delta,
            };
            self.sink.file_io(&record)?;
        }
        self.file_io_deltas.finish_read();
        Ok(idle)
    }

    /// The kernel's entry is gone: a new one with the same key counts from zero.
    pub fn forget_file_io(&mut self, key: &FileIoKey) {
        self.file_io_deltas.forget(&file_io_id(key));
    }

    /// As `file_io`, for the kernel's per-socket UDP counters.
    pub fn udp(&mut self, entries: &[(UdpKey, UdpValue)]) -> io::Result<Vec<UdpKey>> {
        let now = self.clock.now_unix_ns();
        let mut idle = Vec::new();
        for (key, value) in entries {
            let total = UdpDelta {
                tx_bytes: value.tx_bytes,
                rx_bytes: value.rx_bytes,
                tx_datagrams: value.tx_datagrams,
                rx_datagrams: value.rx_datagrams,
            };
            let Some(delta) = self.udp_deltas.observe(udp_id(key), total) else {
                idle.push(*key);
                continue;
            };
            // An unconnected socket's remote port is 0: no daddr in its record, and no peer.
            let view = SocketView {
                local: Endpoint { addr: ip_of(&key.saddr, key.family), port: key.sport },
                remote: Endpoint { addr: ip_of(&key.daddr, key.family), port: key.dport },
                netns: value.who.netns,
            };
            let (net, peer) = self.ends_and_peer(view, Transport::Udp);
            let owner = self.enricher.attribution(key.cgroup_id);
            let record = UdpRecord { unix_ns: now, who: &value.who, owner: &owner, net, peer: peer.as_ref(), delta };
            self.sink.udp(&record)?;
        }
        self.udp_deltas.finish_read();
        Ok(idle)
    }

    pub fn forget_udp(&mut self, key: &UdpKey) {
        self.udp_deltas.forget(&udp_id(key));
    }

    /// Writes each cgroup's activity during the last interval; returns the
    /// cgroups that were idle, for the caller to remove from the kernel's map.
    pub fn cgroup_counters(&mut self, entries: &[(u64, CgroupCounters)]) -> io::Result<Vec<u64>> {
        let now = self.clock.now_unix_ns();
        let mut idle = Vec::new();
        for (cgroup_id, totals) in entries {
            let Some(delta) = self.cgroup_deltas.observe(*cgroup_id, *totals) else {
                idle.push(*cgroup_id);
                continue;
            };
            let owner = self.enricher.attribution(*cgroup_id);
            self.sink.counters(&CountersRecord { unix_ns: now, owner: &owner, delta })?;
        }
        self.cgroup_deltas.finish_read();
        Ok(idle)
    }

    pub fn forget_cgroup_counters(&mut self, cgroup_id: u64) {
        self.cgroup_deltas.forget(&cgroup_id);
    }
}
