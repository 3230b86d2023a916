//! The kernel's cumulative counters, per file, per UDP socket and per
//! cgroup, read once per interval: what changed since the last read becomes
//! a record, and entries idle for a whole interval go back to the caller to
//! be removed from the kernel's maps.

use std::io;

use super::{Pipeline, Transport};
use crate::enrich::files::FileKey;
use crate::enrich::peers::{Endpoint, SocketView};
use crate::events::{ip_of, CgroupCounters, FileIoKey, FileIoValue, UdpKey, UdpValue};
use crate::records::{CountersRecord, FileIoDelta, FileIoRecord, Sink, UdpDelta, UdpRecord};

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
