//! Loading the BPF object, choosing attach points, owning the links.
//!
//! Which program watches what, what it needs from the kernel and which other
//! programs can stand in for it is the table `PROBES`: data, not scattered
//! `if`s. The choice is made from the running kernel's BTF before loading
//! (does the tracepoint exist, does it pass the argument a program reads, is
//! there a kernel function to fexit), and a program the kernel still refuses
//! is reported with the verifier's reason and left out: podtop goes on with
//! the others, and a stand-in takes its place where there is one.

mod libbpf_log;
mod resident;

pub use resident::make_ring_buffer_resident;

use std::mem::MaybeUninit;

use anyhow::{bail, Context, Result};
use libbpf_rs::btf::types::{Func, FuncProto, Ptr, Typedef};
use libbpf_rs::btf::{Btf, ReferencesType};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, OpenObject};

use crate::host::Host;
use crate::skeleton::{self, PodtopSkel, PodtopSkelBuilder};

pub use crate::events::EventClasses;

/// Where a program attaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// A BTF-typed raw tracepoint (tp_btf, no tracefs needed), as
    /// `subsystem:event`; `args`: how many of its arguments the program reads.
    Tracepoint { name: &'static str, args: usize },
    /// fexit on a kernel function: needs a kernel that allows it (not in
    /// lockdown, as this project's own machines are).
    Fexit { function: &'static str },
}

impl Hook {
    pub fn kind(self) -> &'static str {
        match self {
            Hook::Tracepoint { .. } => "tp_btf",
            Hook::Fexit { .. } => "fexit",
        }
    }

    /// The tracepoint or function name.
    pub fn target(self) -> &'static str {
        match self {
            Hook::Tracepoint { name, .. } => name,
            Hook::Fexit { function } => function,
        }
    }
}

/// What the kernel side can see; several programs may give the same thing,
/// and the best one the kernel offers is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    Exec,
    Exit,
    Files,
    TcpConnections,
    /// TCP close reported once the socket is destroyed, with final byte counts.
    TcpCloseAtDestroy,
    TcpBytesSent,
    TcpBytesReceived,
    UdpBytesSent,
    UdpBytesReceived,
    CgroupNames,
    CgroupRemovals,
    /// DNS messages moved by sendmmsg/recvmmsg, read at the syscall's exit.
    DnsBatches,
}

impl Capability {
    pub const ALL: [Capability; 12] = [
        Capability::Exec,
        Capability::Exit,
        Capability::Files,
        Capability::TcpConnections,
        Capability::TcpCloseAtDestroy,
        Capability::TcpBytesSent,
        Capability::TcpBytesReceived,
        Capability::UdpBytesSent,
        Capability::UdpBytesReceived,
        Capability::CgroupNames,
        Capability::CgroupRemovals,
        Capability::DnsBatches,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Capability::Exec => "exec",
            Capability::Exit => "exit",
            Capability::Files => "files",
            Capability::TcpConnections => "tcp_connections",
            Capability::TcpCloseAtDestroy => "tcp_close_at_destroy",
            Capability::TcpBytesSent => "tcp_bytes_sent",
            Capability::TcpBytesReceived => "tcp_bytes_received",
            Capability::UdpBytesSent => "udp_bytes_sent",
            Capability::UdpBytesReceived => "udp_bytes_received",
            Capability::CgroupNames => "cgroup_names",
            Capability::CgroupRemovals => "cgroup_removals",
            Capability::DnsBatches => "dns_batches",
        }
    }

    /// What is missing when no program gives it.
    pub fn missing_means(self) -> &'static str {
        match self {
            Capability::Exec => "no exec records",
            Capability::Exit => "no exit records; processes leave the TUI only by liveness checks",
            Capability::Files => "no open records and no file I/O counts",
            Capability::TcpConnections => "no TCP connect, accept or close records",
            Capability::TcpCloseAtDestroy => "TCP close is reported at the TCP_CLOSE state: bytes read after it are not counted",
            Capability::TcpBytesSent | Capability::TcpBytesReceived => "TCP bytes read 0",
            Capability::UdpBytesSent | Capability::UdpBytesReceived => "UDP datagrams and bytes read 0",
            Capability::CgroupNames => "containers created and removed between two reads of the cgroup tree are not named",
            Capability::CgroupRemovals => "removed cgroups are forgotten only when the caches fill",
            Capability::DnsBatches => "DNS queries sent with sendmmsg (glibc's A and AAAA together) are not seen",
        }
    }

    /// The `--events` class it belongs to; None: always wanted.
    fn class(self) -> Option<u32> {
        match self {
            Capability::Exec | Capability::Exit => Some(EventClasses::EXEC),
            Capability::Files => Some(EventClasses::FILE),
            Capability::TcpConnections
            | Capability::TcpCloseAtDestroy
            | Capability::TcpBytesSent
            | Capability::TcpBytesReceived
            | Capability::UdpBytesSent
            | Capability::UdpBytesReceived => Some(EventClasses::NET),
            Capability::DnsBatches => Some(EventClasses::DNS),
            Capability::CgroupNames | Capability::CgroupRemovals => None,
        }
    }
}

pub struct ProbeSpec {
    /// The program in src/bpf/podtop.bpf.c.
    pub program: &'static str,
    pub hook: Hook,
    pub gives: &'static [Capability],
    /// Among programs that give the same capability, the lowest rank the
    /// kernel can load is used; the others stand by.
    pub rank: u8,
    pub provides: &'static str,
    /// Kernel functions the program calls (kfuncs): a kernel without one in
    /// its BTF would refuse the program, so it is left out up front.
    pub kfuncs: &'static [&'static str],
}

const fn tracepoint(name: &'static str, args: usize) -> Hook {
    Hook::Tracepoint { name, args }
}

const fn fexit(function: &'static str) -> Hook {
    Hook::Fexit { function }
}

use Capability as C;

pub const PROBES: &[ProbeSpec] = &[
    ProbeSpec {
        program: "on_exec",
        hook: tracepoint("sched:sched_process_exec", 3),
        gives: &[C::Exec],
        rank: 0,
        provides: "exec events: filename, argv",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_exit",
        hook: tracepoint("sched:sched_process_exit", 2),
        gives: &[C::Exit],
        rank: 0,
        provides: "exit events: code, signal, lifetime (kernel passes group_dead, >= 6.16)",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_exit_live",
        hook: tracepoint("sched:sched_process_exit", 1),
        gives: &[C::Exit],
        rank: 1,
        provides: "exit events: code, signal, lifetime (last thread found by signal->live)",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_sys_exit",
        hook: tracepoint("raw_syscalls:sys_exit", 2),
        gives: &[C::Files, C::DnsBatches],
        rank: 0,
        provides: "open/openat/openat2 events; read/write bytes per process and file (kernel >= 6.2); DNS of sendmmsg/recvmmsg",
        kfuncs: &["bpf_rdonly_cast"],
    },
    ProbeSpec {
        program: "on_sys_exit_read",
        hook: tracepoint("raw_syscalls:sys_exit", 2),
        gives: &[C::Files, C::DnsBatches],
        rank: 1,
        provides: "open/openat/openat2 events; read/write bytes per process and file (a helper call per file field); DNS of sendmmsg/recvmmsg",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_sock_state",
        hook: tracepoint("sock:inet_sock_set_state", 3),
        gives: &[C::TcpConnections],
        rank: 0,
        provides: "TCP connect, accept, close (IPv4, IPv6)",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_tcp_destroy",
        hook: tracepoint("tcp:tcp_destroy_sock", 1),
        gives: &[C::TcpCloseAtDestroy],
        rank: 0,
        provides: "TCP close with final byte counts (else at the TCP_CLOSE state)",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_sock_send",
        hook: tracepoint("sock:sock_send_length", 2),
        gives: &[C::TcpBytesSent, C::UdpBytesSent],
        rank: 0,
        provides: "TCP and UDP bytes sent (kernel >= 6.5)",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_sock_recv",
        hook: tracepoint("sock:sock_recv_length", 3),
        gives: &[C::TcpBytesReceived, C::UdpBytesReceived],
        rank: 0,
        provides: "TCP and UDP bytes received (kernel >= 6.5)",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_tcp_sendmsg",
        hook: fexit("tcp_sendmsg"),
        gives: &[C::TcpBytesSent],
        rank: 1,
        provides: "TCP bytes sent",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_tcp_recvmsg",
        hook: fexit("tcp_recvmsg"),
        gives: &[C::TcpBytesReceived],
        rank: 1,
        provides: "TCP bytes received",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_udp_sendmsg",
        hook: fexit("udp_sendmsg"),
        gives: &[C::UdpBytesSent],
        rank: 1,
        provides: "UDP (IPv4) bytes sent",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_udp_recvmsg",
        hook: fexit("udp_recvmsg"),
        gives: &[C::UdpBytesReceived],
        rank: 1,
        provides: "UDP (IPv4) bytes received",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_udpv6_sendmsg",
        hook: fexit("udpv6_sendmsg"),
        gives: &[C::UdpBytesSent],
        rank: 1,
        provides: "UDP (IPv6) bytes sent",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_udpv6_recvmsg",
        hook: fexit("udpv6_recvmsg"),
        gives: &[C::UdpBytesReceived],
        rank: 1,
        provides: "UDP (IPv6) bytes received",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_cgroup_mkdir",
        hook: tracepoint("cgroup:cgroup_mkdir", 2),
        gives: &[C::CgroupNames],
        rank: 0,
        provides: "names of cgroups as they are created (attribution)",
        kfuncs: &[],
    },
    ProbeSpec {
        program: "on_cgroup_rmdir",
        hook: tracepoint("cgroup:cgroup_rmdir", 2),
        gives: &[C::CgroupRemovals],
        rank: 0,
        provides: "cgroup removal (attribution)",
        kfuncs: &[],
    },
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeStatus {
    Attached,
    /// A stand-in, not needed: a better program gives the same.
    Standby(String),
    /// Not requested (`--events`): not a gap in what the kernel offers.
    Off(String),
    Skipped(String),
    Failed(String),
}

impl ProbeStatus {
    pub fn name(&self) -> &'static str {
        match self {
            ProbeStatus::Attached => "attached",
            ProbeStatus::Standby(_) => "standby",
            ProbeStatus::Off(_) => "off",
            ProbeStatus::Skipped(_) => "skipped",
            ProbeStatus::Failed(_) => "failed",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            ProbeStatus::Attached => None,
            ProbeStatus::Standby(r) | ProbeStatus::Off(r) | ProbeStatus::Skipped(r) | ProbeStatus::Failed(r) => Some(r),
        }
    }
}

pub struct ProbeReport {
    pub spec: &'static ProbeSpec,
    pub status: ProbeStatus,
}

/// Which program serves a capability, or why none does.
pub struct CapabilityReport {
    pub capability: Capability,
    /// The attached programs that give it.
    pub programs: Vec<&'static str>,
    /// Given, but with less than the best programs give.
    pub degraded: Option<&'static str>,
    /// Not requested (`--events`): not a gap in what the kernel offers.
    pub requested: bool,
}

/// What the TCP connection tracker gives where no program counts TCP bytes
/// as they pass (see `tcp_*_from_sequence` in the BPF program).
const TCP_BYTES_FROM_SEQUENCE: &str =
    "totals taken at close from the socket's sequence numbers: exact, but TCP rates move only when connections close";

/// Per capability: what serves it on this kernel.
pub fn capabilities(report: &[ProbeReport], classes: EventClasses) -> Vec<CapabilityReport> {
    let attached = |program: &str| report.iter().any(|r| r.spec.program == program && r.status == ProbeStatus::Attached);
    Capability::ALL
        .iter()
        .map(|&capability| {
            let mut programs: Vec<&'static str> = report
                .iter()
                .filter(|r| r.status == ProbeStatus::Attached && r.spec.gives.contains(&capability))
                .map(|r| r.spec.program)
                .collect();
            let mut degraded = None;
            let tcp_bytes = matches!(capability, Capability::TcpBytesSent | Capability::TcpBytesReceived);
            if programs.is_empty() && tcp_bytes && attached("on_sock_state") {
                programs.push("on_sock_state");
                degraded = Some(TCP_BYTES_FROM_SEQUENCE);
            }
            CapabilityReport { capability, programs, degraded, requested: capability.class().is_none_or(|c| classes.contains(c)) }
        })
        .collect()
}

/// What the kernel side is told before load.
#[derive(Debug, Clone)]
pub struct KernelConfig {
    pub classes: EventClasses,
    pub filter_pid: Option<u32>,
    pub filter_by_cgroup: bool,
    pub ringbuf_bytes: u32,
    /// Record kinds shipped through the ring buffer (bit 1 << kind).
    pub ringbuf_kinds: u32,
    /// Ship an open only the first time its file is seen.
    pub first_open_per_file: bool,
    /// Programs the user turned off (`--skip-probes`), treated as absent from the kernel.
    pub skip_probes: Vec<String>,
    /// 0: wake the reader on every event.
    pub wakeup_bytes: u64,
    /// UDP ports that carry DNS besides 53 (`--dns-port`), at most `EXTRA_DNS_PORTS`.
    pub dns_ports: Vec<u16>,
    /// How often an open TCP connection reports what it did (a progress
    /// record at its first send or receive once this has passed); zero: at close only.
    pub progress_interval_ns: u64,
}

/// Ports `--dns-port` may add to 53: the kernel's table holds four.
pub const EXTRA_DNS_PORTS: usize = 3;

/// The loaded programs and their links; dropping it detaches everything.
pub struct Probes<'obj> {
    // Held only to be dropped: dropping a link detaches it, before the skeleton
    // (fields drop in order) unloads the programs.
    links: Vec<Link>,
    pub skel: PodtopSkel<'obj>,
    pub report: Vec<ProbeReport>,
}

/// The prototype of the function a tracepoint calls its probes with
/// (`btf_trace_<event>`: a pointer to a function whose first parameter is the
/// probe's own context), as its number of tracepoint arguments.
fn tracepoint_args(btf: &Btf, tracepoint: &str) -> Option<usize> {
    let event = tracepoint.split_once(':').map_or(tracepoint, |(_, e)| e);
    let typedef = btf.type_by_name::<Typedef>(&format!("btf_trace_{event}"))?;
    let pointer = Ptr::try_from(typedef.referenced_type()).ok()?;
    let prototype = FuncProto::try_from(pointer.referenced_type()).ok()?;
    Some(prototype.len().saturating_sub(1))
}

/// Why the kernel cannot run `spec` as it is, from its BTF; None: it can.
fn kernel_lacks(btf: &Btf, spec: &ProbeSpec) -> Option<String> {
    if let Some(kfunc) = spec.kfuncs.iter().find(|f| btf.type_by_name::<Func>(f).is_none()) {
        return Some(format!("this kernel has no kfunc {kfunc}"));
    }
    match spec.hook {
        Hook::Tracepoint { name, args } => match tracepoint_args(btf, name) {
            None => Some(format!("this kernel has no tracepoint {name}")),
            Some(has) if has < args => {
                Some(format!("this kernel's {name} passes {has} argument(s); the program reads {args}"))
            }
            Some(_) => None,
        },
        Hook::Fexit { function } => {
            btf.type_by_name::<Func>(function).is_none().then(|| format!("this kernel has no function {function}"))
        }
    }
}

/// What to load this time: a status for every program, `Attached` meaning
/// "to be loaded and attached".
fn plan(btf: &Btf, config: &KernelConfig, failed: &[(&'static str, String)]) -> Vec<ProbeReport> {
    let unavailable = |spec: &ProbeSpec| -> Option<ProbeStatus> {
        if let Some((_, reason)) = failed.iter().find(|(p, _)| *p == spec.program) {
            return Some(ProbeStatus::Failed(reason.clone()));
        }
        if !spec.gives.iter().any(|c| c.class().is_none_or(|class| config.classes.contains(class))) {
            return Some(ProbeStatus::Off("not requested (--events)".into()));
        }
        if config.skip_probes.iter().any(|p| p == spec.program) {
            return Some(ProbeStatus::Skipped("turned off (--skip-probes)".into()));
        }
        kernel_lacks(btf, spec).map(ProbeStatus::Skipped)
    };
    let first: Vec<Option<ProbeStatus>> = PROBES.iter().map(unavailable).collect();
    // The best rank among usable programs, per capability.
    let best = |capability: Capability| -> Option<(u8, &'static str)> {
        PROBES
            .iter()
            .zip(&first)
            .filter(|(spec, status)| status.is_none() && spec.gives.contains(&capability))
            .map(|(spec, _)| (spec.rank, spec.program))
            .min_by_key(|(rank, _)| *rank)
    };
    PROBES
        .iter()
        .zip(first.iter().cloned())
        .map(|(spec, status)| {
            let status = status.unwrap_or_else(|| {
                let needed = spec.gives.iter().any(|c| best(*c).is_some_and(|(rank, _)| rank == spec.rank));
                if needed {
                    ProbeStatus::Attached
                } else {
                    let served_by = spec.gives.iter().filter_map(|c| best(*c)).map(|(_, p)| p).next().unwrap_or("another");
                    ProbeStatus::Standby(format!("not needed: {served_by} gives the same on this kernel"))
                }
            });
            ProbeReport { spec, status }
        })
        .collect()
}

/// Checks what loading needs, with one clear line for each way it can't work.
pub fn check_prerequisites(host: &Host) -> Result<()> {
    if !host.path("/sys/kernel/btf/vmlinux").exists() {
        bail!("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing); podtop needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
    }
    if !crate::privileges::can_load_bpf(host) {
        bail!("needs root (or CAP_BPF and CAP_PERFMON) to load its eBPF programs: run it with sudo");
    }
    Ok(())
}

fn is_planned(plan: &[ProbeReport], program: &str) -> bool {
    plan.iter().any(|r| r.spec.program == program && r.status == ProbeStatus::Attached)
}

impl<'obj> Probes<'obj> {
    pub fn load(storage: &'obj mut MaybeUninit<OpenObject>, config: &KernelConfig) -> Result<Self> {
        check_prerequisites(&Host::live())?;
        if let Some(unknown) = config.skip_probes.iter().find(|p| !PROBES.iter().any(|s| s.program == p.as_str())) {
            let known: Vec<&str> = PROBES.iter().map(|s| s.program).collect();
            bail!("--skip-probes: no probe named {unknown:?} (probes: {})", known.join(", "));
        }
        let btf = Btf::from_vmlinux().context("reading the kernel's BTF")?;
        let storage: *mut MaybeUninit<OpenObject> = storage;
        let mut failed: Vec<(&'static str, String)> = Vec::new();
        let (skel, mut report) = loop {
            let plan = plan(&btf, config, &failed);
            if !plan.iter().any(|r| r.status == ProbeStatus::Attached) {
                bail!("no probe can be loaded on this kernel; see `podtop probes`");
            }
            // SAFETY: `storage` is the caller's, valid for 'obj. The object a
            // failed attempt wrote there was dropped when its load failed
            // (the skeleton's owned reference drops it), so each attempt has
            // it to itself; the borrow checker cannot see that the borrow of a
            // failed attempt ends, hence the pointer.
            let attempt = unsafe { &mut *storage };
            libbpf_log::start_capture();
            let result = Self::open_and_load(attempt, config, &plan);
            let log = libbpf_log::finish_capture();
            match result {
                Ok(skel) => break (skel, plan),
                Err(e) => {
                    let refused = log.refused_programs().into_iter().find(|(p, _)| is_planned(&plan, p));
                    let Some((program, reason)) = refused else {
                        return Err(e).context(
                            "loading podtop's eBPF programs into the kernel failed (run with PODTOP_DEBUG=1 for libbpf's log)",
                        );
                    };
                    let spec = PROBES.iter().find(|s| s.program == program).expect("planned programs are in the table");
                    if matches!(spec.hook, Hook::Fexit { .. }) && reason.contains("EPERM") {
                        // fexit is not allowed on this kernel (lockdown): one try says it for all.
                        let planned_fexit =
                            |s: &&ProbeSpec| matches!(s.hook, Hook::Fexit { .. }) && s.program != spec.program && is_planned(&plan, s.program);
                        for other in PROBES.iter().filter(planned_fexit) {
                            failed.push((other.program, format!("fexit refused (-EPERM), as for {}", spec.program)));
                        }
                    }
                    failed.push((spec.program, reason));
                }
            }
        };

        let mut links = Vec::new();
        for r in report.iter_mut().filter(|r| r.status == ProbeStatus::Attached) {
            match skel.object().progs_mut().find(|p| p.name() == r.spec.program).map(|p| p.attach()) {
                Some(Ok(link)) => links.push(link),
                Some(Err(e)) => r.status = ProbeStatus::Failed(format!("attaching: {e}")),
                None => r.status = ProbeStatus::Failed("program missing from the BPF object".into()),
            }
        }
        for r in &report {
            if let ProbeStatus::Failed(reason) = &r.status {
                eprintln!(
                    "podtop: warning: {} ({} {}) left out: {reason}",
                    r.spec.program,
                    r.spec.hook.kind(),
                    r.spec.hook.target()
                );
            }
        }
        if links.is_empty() {
            bail!("no probe could be attached; see `podtop probes`");
        }
        Ok(Probes { links, skel, report })
    }

    fn open_and_load(storage: &'obj mut MaybeUninit<OpenObject>, config: &KernelConfig, plan: &[ProbeReport]) -> Result<PodtopSkel<'obj>> {
        let mut open = PodtopSkelBuilder::default().open(storage).context("opening the BPF object")?;
        let rodata = open.maps.rodata_data.as_deref_mut().context("BPF object has no rodata")?;
        rodata.events_mask = config.classes.0;
        rodata.filter_pid = config.filter_pid.unwrap_or(0);
        rodata.filter_by_cgroup = config.filter_by_cgroup;
        rodata.wakeup_bytes = config.wakeup_bytes;
        rodata.ringbuf_kinds = config.ringbuf_kinds;
        rodata.first_open_per_file = config.first_open_per_file;
        rodata.progress_interval_ns = config.progress_interval_ns;
        for (slot, port) in rodata.dns_ports[1..].iter_mut().zip(&config.dns_ports) {
            *slot = *port;
        }
        rodata.close_at_destroy = is_planned(plan, "on_tcp_destroy");
        let given = |capability| plan.iter().any(|r| r.status == ProbeStatus::Attached && r.spec.gives.contains(&capability));
        rodata.tcp_tx_from_sequence = !given(Capability::TcpBytesSent);
        rodata.tcp_rx_from_sequence = !given(Capability::TcpBytesReceived);
        open.maps.events.set_max_entries(config.ringbuf_bytes).context("sizing the ring buffer")?;
        for mut prog in open.open_object_mut().progs_mut() {
            let name = prog.name().to_string_lossy().into_owned();
            prog.set_autoload(is_planned(plan, &name));
        }
        open.load().map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Tells the kernel who listens on `port` in network namespace `netns`.
    pub fn add_listener(&self, netns: u32, port: u16, who: crate::events::ProcessIdentity, wanted: bool) -> Result<()> {
        let key = skeleton::types::listener_key { netns, port, ..Default::default() };
        let value = skeleton::types::listener_value { who, wanted: u8::from(wanted), ..Default::default() };
        // SAFETY: both are plain C structs generated from the BPF object.
        let (key, value) = unsafe { (plain::as_bytes(&key), plain::as_bytes(&value)) };
        self.skel.maps.listeners.update(key, value, MapFlags::NO_EXIST).or_else(|e| {
            // A listen seen by the kernel side since load is fresher than the scan.
            if e.kind() == libbpf_rs::ErrorKind::AlreadyExists { Ok(()) } else { Err(e) }
        })?;
        Ok(())
    }

    /// The (network namespace, port) of every socket listening now: the
    /// kernel side forgets a listener when it closes (LISTEN -> CLOSE).
    pub fn listening(&self) -> std::collections::HashSet<(u32, u16)> {
        self.skel
            .maps
            .listeners
            .keys()
            .filter_map(|key| plain::from_bytes::<skeleton::types::listener_key>(&key).ok().map(|k| (k.netns, k.port)))
            .collect()
    }

    /// Detaches every link, one at a time, calling `step` after each; the
    /// programs are unloaded when the rest is dropped.
    pub fn detach(mut self, step: impl Fn()) {
        while let Some(link) = self.links.pop() {
            drop(link);
            step();
        }
    }

    /// Lets the kernel pass events of cgroup `id` and its whole subtree.
    pub fn allow_cgroup(&self, id: u64) -> Result<()> {
        self.skel
            .maps
            .cgroup_filter
            .update(&id.to_ne_bytes(), &[1u8], MapFlags::ANY)
            .with_context(|| format!("adding cgroup {id} to the filter"))
    }
}

pub use libbpf_log::configure as configure_libbpf_logging;

/// Keeps the kernel's run-time accounting of BPF programs on while it lives
/// (`BPF_ENABLE_STATS`): it costs two clock reads per program run, so only
/// the TUI, which shows it, turns it on.
pub struct RunTimeStats {
    _enabled_while_open: std::os::fd::OwnedFd,
}

impl RunTimeStats {
    /// Whether the administrator turned the accounting on for every program.
    pub fn enabled_by_sysctl(host: &Host) -> bool {
        host.bpf_stats_enabled()
    }

    pub fn enable() -> Option<RunTimeStats> {
        // SAFETY: a plain syscall wrapper; a non-negative result is a new fd we own.
        let fd = unsafe { libbpf_sys::bpf_enable_stats(libbpf_sys::BPF_STATS_RUN_TIME) };
        // SAFETY: the kernel just gave us this fd.
        (fd >= 0).then(|| RunTimeStats { _enabled_while_open: unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) } })
    }
}

impl Probes<'_> {
    /// Total run time (ns) and runs of podtop's programs, as the kernel accounts them.
    pub fn run_time(&self) -> (u64, u64) {
        use std::os::fd::{AsFd, AsRawFd};
        let mut total = (0, 0);
        for prog in self.skel.object().progs() {
            let mut info = libbpf_sys::bpf_prog_info::default();
            let mut len = std::mem::size_of_val(&info) as u32;
            // SAFETY: info is a bpf_prog_info of `len` bytes that the kernel fills.
            let ret = unsafe {
                libbpf_sys::bpf_prog_get_info_by_fd(prog.as_fd().as_raw_fd(), (&mut info as *mut libbpf_sys::bpf_prog_info).cast(), &mut len)
            };
            if ret == 0 {
                total.0 += info.run_time_ns;
                total.1 += info.run_cnt;
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_capability_has_a_program_and_ranks_are_distinct_sources() {
        for capability in Capability::ALL {
            let givers: Vec<&ProbeSpec> = PROBES.iter().filter(|s| s.gives.contains(&capability)).collect();
            assert!(givers.iter().any(|s| s.rank == 0), "{capability:?} has a first choice");
        }
        let mut names: Vec<&str> = PROBES.iter().map(|s| s.program).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PROBES.len(), "program names are unique");
    }
}
