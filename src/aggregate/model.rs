//! The node as the TUI shows it: one group per pod (and per bare container,
//! and one for the host), with rates from the kernel's per-cgroup counters,
//! recent execs, files and connections from the records, requests from
//! the http records, and the names pods resolved from the dns records.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::observation::{Action, ConnKind, Connection, KernelTotals, Observation, ProcessEvent, ProcessRef, Request};
use super::lookups::Lookups;
use super::requests::Requests;
use crate::enrich::Attribution;
use crate::events::CgroupCounters;
use crate::records::PodtopCost;
use crate::sidecars::{NodeBill, Relayed, SidecarBill};
use std::sync::Arc;

/// Samples of history kept for sparklines.
pub const HISTORY: usize = 120;
const RECENT_EXECS: usize = 100;
const CONNECTIONS: usize = 200;
const FILES: usize = 500;
const EVENT_LINES: usize = 500;
const EXITED: usize = 4096;
/// Bounds that hold whatever a recording or a node holds: past them, the
/// quietest go first. Pods and bare containers on the node:
const MAX_GROUPS: usize = 4096;
/// Containers and processes listed per pod.
const MAX_CONTAINERS: usize = 256;
const MAX_PROCESSES: usize = 4096;
/// Characters of a command line kept for the lists.
const MAX_ARGS_TEXT: usize = 4096;
/// A pod or container quiet this many intervals, with no process or open
/// connection left, is gone from the node (and from the view).
const GONE_AFTER_IDLE_TICKS: u32 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupKey {
    /// A pod, by UID.
    Pod(String),
    /// A container outside any pod (docker, podman), by id.
    Container(String),
    /// Processes in no container.
    Host,
}

impl GroupKey {
    pub fn of(a: &Attribution) -> GroupKey {
        match (&a.pod, &a.container) {
            (Some(pod), _) => GroupKey::Pod(pod.uid.clone()),
            (None, Some(c)) => GroupKey::Container(c.id.clone()),
            (None, None) => GroupKey::Host,
        }
    }
}

/// Everything a pod did, in events: what SIDECAR% is a share of.
pub fn activity(c: &CgroupCounters) -> u64 {
    c.execs
        + c.opens
        + c.file_reads
        + c.file_writes
        + c.tcp_connects
        + c.tcp_accepts
        + c.tcp_local_connections
        + c.udp_tx_datagrams
        + c.udp_rx_datagrams
}

/// What a sidecar proxy in the pod sees of it: TCP connections across the pod's boundary.
pub fn sidecar_visible(c: &CgroupCounters) -> u64 {
    c.tcp_connects + c.tcp_accepts
}

/// Rates are averaged over the intervals of about this many seconds: over
/// one interval, a pod that execs every 3 s would read 0 or 1 per second
/// by turns, never the 0.3 it does.
pub const RATE_SPAN_SECONDS: f64 = 10.0;

/// Counters over one interval and since start, and the per-second rates.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    pub totals: CgroupCounters,
    window: CgroupCounters,
    /// Events per second over the last interval alone (the sparkline's sample).
    pub last_interval_events: u64,
    /// The last intervals' counts and lengths, newest last, covering the rate span.
    recent: VecDeque<(CgroupCounters, f64)>,
    /// Their counts summed, and their seconds.
    recent_sum: CgroupCounters,
    recent_seconds: f64,
}

impl Activity {
    fn add(&mut self, delta: &CgroupCounters) {
        self.totals.add(delta);
        self.window.add(delta);
    }

    fn close_window(&mut self, seconds: f64) {
        let window = std::mem::take(&mut self.window);
        self.last_interval_events = (activity(&window) as f64 / seconds).round() as u64;
        self.recent_sum.add(&window);
        self.recent_seconds += seconds;
        self.recent.push_back((window, seconds));
        // Keep the newest intervals that cover the span: drop the oldest while the rest still do.
        while let Some((oldest, oldest_seconds)) = self.recent.front() {
            if self.recent_seconds - oldest_seconds < RATE_SPAN_SECONDS - 1e-9 {
                break;
            }
            self.recent_sum = self.recent_sum.since(*oldest);
            self.recent_seconds -= oldest_seconds;
            self.recent.pop_front();
        }
    }

    /// Per second over the rate span, unrounded: what `pick` counts.
    pub fn per_second(&self, pick: impl Fn(&CgroupCounters) -> u64) -> f64 {
        if self.recent_seconds > 0.0 {
            pick(&self.recent_sum) as f64 / self.recent_seconds
        } else {
            0.0
        }
    }

    /// Share of the activity since start that a sidecar could see, in percent.
    pub fn sidecar_percent(&self) -> Option<f64> {
        let all = activity(&self.totals);
        (all > 0).then(|| 100.0 * sidecar_visible(&self.totals) as f64 / all as f64)
    }
}

#[derive(Debug, Clone)]
pub struct ContainerRow {
    pub id: String,
    pub name: Option<String>,
    pub runtime: Option<&'static str>,
    pub activity: Activity,
}

#[derive(Debug, Clone)]
pub struct ProcessRow {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    /// The id of its container (a key of `Group::containers`).
    pub container_id: Option<String>,
    /// The arguments of its last exec, where podtop saw it.
    pub args: Option<String>,
    /// When podtop first saw it (Unix ns): a process with this pid that
    /// started later is another one.
    pub first_seen_ns: u64,
    /// When it last did something podtop saw.
    pub last_seen_ns: u64,
}

#[derive(Debug, Clone)]
pub struct ExecRow {
    pub unix_ns: u64,
    pub pid: u32,
    pub container_id: Option<String>,
    pub args: String,
}

#[derive(Debug, Clone, Default)]
pub struct FileRow {
    pub read_bytes: u64,
    pub write_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct ConnRow {
    pub pid: u32,
    pub comm: String,
    pub connection: Connection,
    pub open: bool,
    /// Outbound (connect) or inbound (accept); None when only the close was seen.
    pub outbound: Option<bool>,
    /// When its last record came (Unix ns): for a closed one, its close.
    pub last_ns: u64,
}

/// A pod's sidecar proxy, as its bills tell.
#[derive(Debug, Clone)]
pub struct SidecarRow {
    /// Its container (a key of `Group::containers`).
    pub container_id: Option<String>,
    /// The last interval's bill.
    pub last: SidecarBill,
    /// Relayed and bypassing connections and bytes since start (the bypass list: the latest).
    pub totals: Relayed,
    /// Its CPU in millicores, one sample per interval.
    pub cpu_history: VecDeque<u64>,
}

/// The node's sidecars together, and podtop's own cost, over the last interval.
#[derive(Debug, Clone, Default)]
pub struct NodeSidecars {
    pub bill: NodeBill,
    pub podtop: PodtopCost,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub key: GroupKey,
    pub title: String,
    pub namespace: Option<String>,
    pub qos: Option<&'static str>,
    pub containers: BTreeMap<String, ContainerRow>,
    pub activity: Activity,
    /// Events per second, one sample per interval.
    pub history: VecDeque<u64>,
    pub processes: BTreeMap<u32, ProcessRow>,
    pub execs: VecDeque<ExecRow>,
    pub files: HashMap<String, FileRow>,
    pub connections: VecDeque<ConnRow>,
    /// Its sidecar proxy, once one of its containers relays.
    pub sidecar: Option<SidecarRow>,
    /// Its HTTP requests (`--events http`).
    pub requests: Requests,
    /// The names it resolved (`--events dns`).
    pub lookups: Lookups,
    /// Intervals since it last did anything.
    idle_ticks: u32,
    /// The model's count of observations when one last concerned it.
    last_touched: u64,
}

impl Group {
    fn new(key: GroupKey, owner: &Attribution) -> Group {
        let mut group = Group {
            key,
            title: String::new(),
            namespace: None,
            qos: None,
            containers: BTreeMap::new(),
            activity: Activity::default(),
            history: VecDeque::with_capacity(HISTORY),
            processes: BTreeMap::new(),
            execs: VecDeque::new(),
            files: HashMap::new(),
            connections: VecDeque::new(),
            sidecar: None,
            requests: Requests::default(),
            lookups: Lookups::default(),
            idle_ticks: 0,
            last_touched: 0,
        };
        group.learn_names(owner);
        group
    }

    /// Names can arrive later than the first record (runtime metadata written late).
    fn learn_names(&mut self, owner: &Attribution) {
        self.title = match (&self.key, &owner.pod, &owner.container) {
            (GroupKey::Host, _, _) => "host".to_string(),
            (_, Some(pod), _) => pod.name.clone().unwrap_or_else(|| format!("pod {}", short_id(&pod.uid))),
            (_, None, Some(c)) => c.name.clone().unwrap_or_else(|| format!("container {}", short_id(&c.id))),
            _ => "?".to_string(),
        };
        if let Some(pod) = &owner.pod {
            self.namespace = pod.namespace.clone().or(self.namespace.take());
            self.qos = Some(pod.qos.name());
        }
        if let Some(c) = &owner.container {
            if !self.containers.contains_key(&c.id) && self.containers.len() >= MAX_CONTAINERS {
                let quietest = self.containers.values().min_by_key(|r| activity(&r.activity.totals)).map(|r| r.id.clone());
                if let Some(id) = quietest {
                    self.containers.remove(&id);
                }
            }
            let row = self.containers.entry(c.id.clone()).or_insert_with(|| ContainerRow {
                id: c.id.clone(),
                name: None,
                runtime: None,
                activity: Activity::default(),
            });
            row.name = c.name.clone().or(row.name.take());
            row.runtime = c.runtime.map(|r| r.name()).or(row.runtime);
        }
    }

    /// A process of it did something, or was found in it at start: listed
    /// (the stalest goes for it where the list is full), its name and last time updated.
    fn list(&mut self, unix_ns: u64, process: &ProcessRef, container_id: Option<String>) {
        let pid = process.pid;
        if !self.processes.contains_key(&pid) && self.processes.len() >= MAX_PROCESSES {
            let stalest = self.processes.values().min_by_key(|p| p.last_seen_ns).map(|p| p.pid);
            if let Some(stalest) = stalest {
                self.processes.remove(&stalest);
            }
        }
        let row = self.processes.entry(pid).or_insert_with(|| ProcessRow {
            pid,
            ppid: process.ppid,
            comm: process.comm.clone(),
            container_id,
            args: None,
            first_seen_ns: unix_ns,
            last_seen_ns: unix_ns,
        });
        row.comm = process.comm.clone();
        row.last_seen_ns = row.last_seen_ns.max(unix_ns);
    }

    fn exec(&mut self, unix_ns: u64, pid: u32, container_id: Option<String>, args: Vec<String>) {
        let mut args = args.join(" ");
        if args.len() > MAX_ARGS_TEXT {
            let cut = (0..=MAX_ARGS_TEXT).rev().find(|i| args.is_char_boundary(*i)).unwrap_or(0);
            args.truncate(cut);
        }
        if let Some(row) = self.processes.get_mut(&pid) {
            row.args = Some(args.clone());
        }
        if self.execs.len() == RECENT_EXECS {
            self.execs.pop_front();
        }
        self.execs.push_back(ExecRow { unix_ns, pid, container_id, args });
    }

    fn file_io(&mut self, path: Option<String>, read_bytes: u64, write_bytes: u64) {
        let path = path.unwrap_or_else(|| "(path unknown)".to_string());
        if self.files.len() >= FILES && !self.files.contains_key(&path) {
            // Make room by forgetting the file that moved the fewest bytes.
            if let Some(smallest) = self.top_files().last().map(|(p, _)| (*p).clone()) {
                self.files.remove(&smallest);
            }
        }
        let row = self.files.entry(path).or_default();
        row.read_bytes += read_bytes;
        row.write_bytes += write_bytes;
    }

    fn connection(&mut self, unix_ns: u64, pid: u32, comm: &str, connection: Connection) {
        let open = connection.kind != ConnKind::Close;
        match self.connections.iter_mut().find(|c| c.connection.cookie == connection.cookie && c.pid == pid) {
            Some(existing) => {
                existing.open = open;
                existing.connection = connection;
                existing.last_ns = existing.last_ns.max(unix_ns);
            }
            None => {
                if self.connections.len() == CONNECTIONS {
                    let oldest_closed = self.connections.iter().position(|c| !c.open).unwrap_or(0);
                    self.connections.remove(oldest_closed);
                }
                let outbound = match connection.kind {
                    ConnKind::Connect => Some(true),
                    ConnKind::Accept => Some(false),
                    ConnKind::Close => None,
                };
                self.connections.push_back(ConnRow { pid, comm: comm.to_string(), connection, open, outbound, last_ns: unix_ns });
            }
        }
    }

    fn request(&mut self, request: &Request, container_id: Option<&str>) {
        // A pod's requests count where they cross its boundary: those
        // between its own containers are one request seen twice, or a
        // hop to its proxy. The host and bare containers have no such line.
        let across = request.sidecar_visible || !self.is_pod();
        self.requests.add(request, across, container_id);
    }

    pub fn is_pod(&self) -> bool {
        matches!(self.key, GroupKey::Pod(_))
    }

    /// The events of it a sidecar proxy sees: TCP connections across the
    /// pod's boundary, and, where it has one, the app's hops to its proxy
    /// (a connect in the app, an accept in the proxy), which are the proxy's
    /// own input, not something it misses.
    pub fn sidecar_sees(&self) -> u64 {
        let t = &self.activity.totals;
        let hops = self.sidecar.as_ref().map_or(0, |s| 2 * s.totals.connections).min(t.tcp_local_connections);
        sidecar_visible(t) + hops
    }

    /// Share of its events a sidecar sees, in percent.
    pub fn sidecar_percent(&self) -> Option<f64> {
        let all = activity(&self.activity.totals);
        (all > 0).then(|| 100.0 * self.sidecar_sees() as f64 / all as f64)
    }

    pub fn open_connections(&self) -> usize {
        self.connections.iter().filter(|c| c.open).count()
    }

    /// Files by bytes moved, largest first.
    pub fn top_files(&self) -> Vec<(&String, &FileRow)> {
        let mut files: Vec<_> = self.files.iter().collect();
        files.sort_by(|a, b| (b.1.read_bytes + b.1.write_bytes).cmp(&(a.1.read_bytes + a.1.write_bytes)).then(a.0.cmp(b.0)));
        files
    }
}

/// A hex id (container, pod UID) cut to its first 12 characters, as docker
/// shows them; any other id (a name a user chose for `ctr` or `runc`) whole.
pub fn short_id(id: &str) -> String {
    let hex = id.len() >= 32 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if hex { id.chars().take(12).collect() } else { id.to_string() }
}

/// One recent record, for the event pane.
#[derive(Debug, Clone)]
pub struct EventLine {
    pub unix_ns: u64,
    /// The title of the group it happened in.
    pub group: String,
    pub process: ProcessRef,
    pub action: Action,
}

#[derive(Debug, Clone, Default)]
pub struct NodeModel {
    pub groups: BTreeMap<GroupKey, Group>,
    pub events: VecDeque<EventLine>,
    /// The kernel's totals as of the last tick.
    pub totals: KernelTotals,
    pub events_per_sec: u64,
    /// Share of one CPU spent in podtop's BPF programs over the last interval.
    pub bpf_cpu_percent: Option<f64>,
    /// The first and last interval ends seen (Unix ns): the span of a recording.
    pub first_tick_ns: Option<u64>,
    pub last_tick_ns: Option<u64>,
    /// The node's sidecars, as of the last bill.
    pub sidecars: NodeSidecars,
    /// Whether any request was seen: a recording says so only by its records.
    pub requests_seen: bool,
    /// Whether any DNS lookup was seen, likewise.
    pub lookups_seen: bool,
    /// Where the current rate window started.
    window_start: Option<(u64, KernelTotals)>,
    /// Seconds per interval, until two ticks tell.
    pub default_interval: f64,
    /// Recently exited pids, whose late counter records must not revive them.
    exited: VecDeque<u32>,
    /// Observations applied so far: an order for "least recently touched".
    observed: u64,
    /// The group each listed pid was last listed in. A process that moves to
    /// another cgroup (a container's first process is started outside it,
    /// then moved in) must leave its first group's list when it moves or
    /// exits. Entries may be stale (checked on use).
    listed_in: HashMap<u32, GroupKey>,
}

impl NodeModel {
    pub fn new(default_interval: f64) -> NodeModel {
        NodeModel { default_interval, ..Default::default() }
    }

    fn group(&mut self, owner: &Attribution) -> &mut Group {
        let key = GroupKey::of(owner);
        if !self.groups.contains_key(&key) && self.groups.len() >= MAX_GROUPS {
            self.forget_quietest_group();
        }
        self.observed += 1;
        let group = self.groups.entry(key.clone()).or_insert_with(|| Group::new(key, owner));
        group.last_touched = self.observed;
        group.learn_names(owner);
        group
    }

    /// Makes room for new groups: those quiet the longest go, of those the
    /// ones touched least recently (never the host). An eighth at once, so
    /// that a flood of new pods costs one pass per 512 of them.
    fn forget_quietest_group(&mut self) {
        let mut candidates: Vec<(u32, std::cmp::Reverse<u64>, GroupKey)> = self
            .groups
            .iter()
            .filter(|(key, _)| **key != GroupKey::Host)
            .map(|(key, g)| (g.idle_ticks, std::cmp::Reverse(g.last_touched), key.clone()))
            .collect();
        let evict = (MAX_GROUPS / 8).clamp(1, candidates.len().max(1));
        if candidates.len() > evict {
            candidates.select_nth_unstable_by(evict, |a, b| b.cmp(a));
        }
        for (_, _, key) in candidates.into_iter().take(evict) {
            self.groups.remove(&key);
        }
    }

    /// Removes the listed processes `dead` says are gone (pid, first seen):
    /// after lost events, an exit may never arrive.
    pub fn forget_processes(&mut self, dead: impl Fn(u32, u64) -> bool) -> usize {
        let mut forgotten = 0;
        for group in self.groups.values_mut() {
            let before = group.processes.len();
            group.processes.retain(|pid, p| !dead(*pid, p.first_seen_ns));
            forgotten += before - group.processes.len();
        }
        forgotten
    }

    /// Every listed process: (pid, first seen).
    pub fn listed_processes(&self) -> Vec<(u32, u64)> {
        self.groups.values().flat_map(|g| g.processes.values().map(|p| (p.pid, p.first_seen_ns))).collect()
    }

    pub fn apply(&mut self, observation: Observation) {
        match observation {
            Observation::Counters { owner, delta } => {
                let group = self.group(&owner);
                group.activity.add(&delta);
                if let Some(c) = &owner.container {
                    if let Some(row) = group.containers.get_mut(&c.id) {
                        row.activity.add(&delta);
                    }
                }
            }
            Observation::Tick { unix_ns, totals } => self.tick(unix_ns, totals),
            Observation::Sidecars { bills, podtop } => self.bills(bills, podtop),
            Observation::Process(e) => self.process_event(e),
            Observation::Present { unix_ns, owner, processes } => self.present(unix_ns, &owner, processes),
        }
    }

    /// A pod or container that runs already: a row, its processes listed,
    /// whether or not they ever do anything.
    fn present(&mut self, unix_ns: u64, owner: &Attribution, processes: Vec<ProcessRef>) {
        let key = GroupKey::of(owner);
        let container_id = owner.container.as_ref().map(|c| c.id.clone());
        for p in &processes {
            self.unlist_elsewhere(p.pid, &key);
        }
        let group = self.group(owner);
        for p in &processes {
            group.list(unix_ns, p, container_id.clone());
        }
        for p in processes {
            self.note_listed(p.pid, key.clone());
        }
    }

    fn bills(&mut self, bills: Vec<(Arc<Attribution>, SidecarBill)>, podtop: PodtopCost) {
        self.sidecars = NodeSidecars { bill: NodeBill::of(&bills), podtop };
        for (owner, bill) in bills {
            let container_id = owner.container.as_ref().map(|c| c.id.clone());
            let group = self.group(&owner);
            let row = group.sidecar.get_or_insert_with(|| SidecarRow {
                container_id: container_id.clone(),
                last: bill.clone(),
                totals: Relayed::default(),
                cpu_history: VecDeque::with_capacity(HISTORY),
            });
            row.container_id = container_id;
            row.totals.add(&bill.relayed);
            if row.cpu_history.len() == HISTORY {
                row.cpu_history.pop_front();
            }
            row.cpu_history.push_back(bill.cpu_cores.map_or(0, |c| (c * 1000.0).round() as u64));
            row.last = bill;
        }
    }

    fn tick(&mut self, unix_ns: u64, totals: KernelTotals) {
        self.first_tick_ns.get_or_insert(unix_ns);
        self.last_tick_ns = Some(unix_ns);
        self.totals = totals.clone();
        let (seconds, before) = match &self.window_start {
            Some((start, before)) => (unix_ns.saturating_sub(*start) as f64 / 1e9, before.clone()),
            None => (self.default_interval.max(0.001), KernelTotals::default()),
        };
        // A much shorter window (the last read on the way out) would give
        // jumpy rates: it joins the next one instead.
        if self.window_start.is_some() && seconds < self.default_interval / 2.0 {
            return;
        }
        self.events_per_sec = (totals.seen.saturating_sub(before.seen) as f64 / seconds).round() as u64;
        self.bpf_cpu_percent = match (totals.bpf_run_time_ns, before.bpf_run_time_ns) {
            (Some(now), Some(before)) => Some(100.0 * now.saturating_sub(before) as f64 / (seconds * 1e9)),
            _ => None,
        };
        self.window_start = Some((unix_ns, totals));
        for group in self.groups.values_mut() {
            group.activity.close_window(seconds);
            group.requests.close_window(seconds, RATE_SPAN_SECONDS);
            for row in group.containers.values_mut() {
                row.activity.close_window(seconds);
            }
            if group.history.len() == HISTORY {
                group.history.pop_front();
            }
            let active = group.activity.last_interval_events > 0;
            group.history.push_back(group.activity.last_interval_events);
            let quiet = !active && group.processes.is_empty() && group.open_connections() == 0;
            group.idle_ticks = if quiet { group.idle_ticks + 1 } else { 0 };
        }
        // Pods and containers that ended leave the view; the host stays.
        self.groups.retain(|key, g| *key == GroupKey::Host || g.idle_ticks < GONE_AFTER_IDLE_TICKS);
    }

    /// What a process did: its group lists it (or, at its exit, no longer
    /// does), the group's list of that kind takes it, and the event pane.
    fn process_event(&mut self, e: ProcessEvent) {
        let container_id = e.owner.container.as_ref().map(|c| c.id.clone());
        let pid = e.process.pid;
        let line = EventLine { unix_ns: e.unix_ns, group: String::new(), process: e.process.clone(), action: e.action.clone() };
        let title = self.list_process(&e, container_id.clone());
        let group = self.groups.get_mut(&GroupKey::of(&e.owner)).expect("made by list_process");
        match e.action {
            Action::Exec { args, .. } => group.exec(e.unix_ns, pid, container_id, args),
            Action::FileIo { path, read_bytes, write_bytes } => group.file_io(path, read_bytes, write_bytes),
            Action::Connection(connection) => group.connection(e.unix_ns, pid, &e.process.comm, connection),
            Action::Request(request) => {
                group.request(&request, container_id.as_deref());
                self.requests_seen = true;
            }
            Action::Lookup(lookup) => {
                group.lookups.add(&lookup);
                self.lookups_seen = true;
            }
            Action::Exit { .. } | Action::Udp { .. } => {}
        }
        if self.events.len() == EVENT_LINES {
            self.events.pop_front();
        }
        self.events.push_back(EventLine { group: title, ..line });
    }

    /// Keeps the process in its group's list, where it is now, and nowhere
    /// else; an exit ends it. Returns the group's title.
    fn list_process(&mut self, e: &ProcessEvent, container_id: Option<String>) -> String {
        let pid = e.process.pid;
        // Counter records and closes can arrive after the process exited:
        // they must not bring it back to the list.
        let exited = self.exited.contains(&pid) && !matches!(e.action, Action::Exec { .. });
        if matches!(e.action, Action::Exit { .. }) {
            if self.exited.len() == EXITED {
                self.exited.pop_front();
            }
            self.exited.push_back(pid);
        }
        let key = GroupKey::of(&e.owner);
        self.unlist_elsewhere(pid, &key);
        let group = self.group(&e.owner);
        let title = group.title.clone();
        match e.action {
            Action::Exit { .. } => {
                group.processes.remove(&pid);
                self.listed_in.remove(&pid);
            }
            _ if !exited => {
                group.list(e.unix_ns, &e.process, container_id);
                self.note_listed(pid, key);
            }
            _ => {}
        }
        title
    }

    /// A process in `key` now, listed in another group: it moved (or exited
    /// from) there, and leaves that group's list.
    fn unlist_elsewhere(&mut self, pid: u32, key: &GroupKey) {
        if let Some(previous) = self.listed_in.get(&pid).filter(|previous| *previous != key).cloned() {
            if let Some(old) = self.groups.get_mut(&previous) {
                old.processes.remove(&pid);
            }
            self.listed_in.remove(&pid);
        }
    }

    /// Remembers the group that lists `pid`.
    fn note_listed(&mut self, pid: u32, key: GroupKey) {
        if self.listed_in.len() > 4 * MAX_PROCESSES + self.groups.len() * 64 {
            // Stale entries of groups that were forgotten: start over from what is listed.
            self.listed_in = self.groups.iter().flat_map(|(k, g)| g.processes.keys().map(move |p| (*p, k.clone()))).collect();
        }
        self.listed_in.insert(pid, key);
    }

    /// Activity since start outside the group: (other pods, host and bare containers).
    pub fn activity_elsewhere(&self, key: &GroupKey) -> (u64, u64) {
        self.groups.values().filter(|g| &g.key != key).fold((0, 0), |(pods, host), g| {
            let a = activity(&g.activity.totals);
            if g.is_pod() {
                (pods + a, host)
            } else {
                (pods, host + a)
            }
        })
    }
}
