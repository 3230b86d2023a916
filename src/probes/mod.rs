//! Loading the BPF object, choosing attach points, owning the links.
//!
//! Which program watches what, and what it needs from the kernel, is the table
//! `PROBES`: data, not scattered `if`s. Every source uses a BTF-typed raw
//! tracepoint (tp_btf), which needs neither tracefs, kprobes nor fentry; a
//! tracepoint the kernel lacks is skipped with a reason and podtop goes on.

pub mod skeleton;

use std::mem::MaybeUninit;

use anyhow::{bail, Context, Result};
use libbpf_rs::btf::types::Typedef;
use libbpf_rs::btf::Btf;
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, OpenObject};

use skeleton::{PodtopSkel, PodtopSkelBuilder};

/// Event classes chosen with `--events`, as the kernel's `events_mask` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventClasses(pub u32);

impl EventClasses {
    pub const EXEC: u32 = 1;
    pub const FILE: u32 = 2;
    pub const NET: u32 = 4;
    pub const ALL: EventClasses = EventClasses(Self::EXEC | Self::FILE | Self::NET);

    pub fn contains(self, class: u32) -> bool {
        self.0 & class != 0
    }
}

pub struct ProbeSpec {
    /// The program in src/bpf/podtop.bpf.c.
    pub program: &'static str,
    /// The kernel tracepoint it attaches to, as `subsystem:event`.
    pub tracepoint: &'static str,
    pub provides: &'static str,
    /// The `--events` class that needs it; None: always attached (enrichment).
    pub class: Option<u32>,
}

pub const PROBES: &[ProbeSpec] = &[
    ProbeSpec {
        program: "on_exec",
        tracepoint: "sched:sched_process_exec",
        provides: "exec events: filename, argv",
        class: Some(EventClasses::EXEC),
    },
    ProbeSpec {
        program: "on_exit",
        tracepoint: "sched:sched_process_exit",
        provides: "exit events: code, signal, lifetime",
        class: Some(EventClasses::EXEC),
    },
    ProbeSpec {
        program: "on_sys_exit",
        tracepoint: "raw_syscalls:sys_exit",
        provides: "open/openat/openat2 events; read/write bytes per process and file",
        class: Some(EventClasses::FILE),
    },
    ProbeSpec {
        program: "on_sock_state",
        tracepoint: "sock:inet_sock_set_state",
        provides: "TCP connect, accept, close (IPv4, IPv6)",
        class: Some(EventClasses::NET),
    },
    ProbeSpec {
        program: "on_tcp_destroy",
        tracepoint: "tcp:tcp_destroy_sock",
        provides: "TCP close with final byte counts (else at the TCP_CLOSE state)",
        class: Some(EventClasses::NET),
    },
    ProbeSpec {
        program: "on_sock_send",
        tracepoint: "sock:sock_send_length",
        provides: "TCP and UDP bytes sent (kernel >= 6.5)",
        class: Some(EventClasses::NET),
    },
    ProbeSpec {
        program: "on_sock_recv",
        tracepoint: "sock:sock_recv_length",
        provides: "TCP and UDP bytes received (kernel >= 6.5)",
        class: Some(EventClasses::NET),
    },
    ProbeSpec {
        program: "on_cgroup_mkdir",
        tracepoint: "cgroup:cgroup_mkdir",
        provides: "names of cgroups as they are created (attribution)",
        class: None,
    },
    ProbeSpec {
        program: "on_cgroup_rmdir",
        tracepoint: "cgroup:cgroup_rmdir",
        provides: "cgroup removal (attribution)",
        class: None,
    },
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeStatus {
    Attached,
    Skipped(String),
    Failed(String),
}

impl ProbeStatus {
    pub fn name(&self) -> &'static str {
        match self {
            ProbeStatus::Attached => "attached",
            ProbeStatus::Skipped(_) => "skipped",
            ProbeStatus::Failed(_) => "failed",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            ProbeStatus::Attached => None,
            ProbeStatus::Skipped(r) | ProbeStatus::Failed(r) => Some(r),
        }
    }
}

pub struct ProbeReport {
    pub spec: &'static ProbeSpec,
    pub status: ProbeStatus,
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
}

/// The loaded programs and their links; dropping it detaches everything.
pub struct Probes<'obj> {
    // Held only to be dropped: dropping a link detaches it, before the skeleton
    // (fields drop in order) unloads the programs.
    _links: Vec<Link>,
    pub skel: PodtopSkel<'obj>,
    pub report: Vec<ProbeReport>,
}

/// The tracepoint's BTF type (`btf_trace_<event>`) is what tp_btf attaches to.
fn kernel_has_tracepoint(btf: &Btf, tracepoint: &str) -> bool {
    let event = tracepoint.split_once(':').map_or(tracepoint, |(_, e)| e);
    btf.type_by_name::<Typedef>(&format!("btf_trace_{event}")).is_some()
}

/// Checks what loading needs, with one clear line for each way it can't work.
pub fn check_prerequisites() -> Result<()> {
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        bail!("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing); podtop needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
    }
    if !crate::privileges::can_load_bpf() {
        bail!("needs root (or CAP_BPF and CAP_PERFMON) to load its eBPF programs: run it with sudo");
    }
    Ok(())
}

impl<'obj> Probes<'obj> {
    pub fn load(storage: &'obj mut MaybeUninit<OpenObject>, config: &KernelConfig) -> Result<Self> {
        check_prerequisites()?;
        if let Some(unknown) = config.skip_probes.iter().find(|p| !PROBES.iter().any(|s| s.program == p.as_str())) {
            let known: Vec<&str> = PROBES.iter().map(|s| s.program).collect();
            bail!("--skip-probes: no probe named {unknown:?} (probes: {})", known.join(", "));
        }
        let btf = Btf::from_vmlinux().context("reading the kernel's BTF")?;
        let mut open = PodtopSkelBuilder::default().open(storage).context("opening the BPF object")?;

        let rodata = open.maps.rodata_data.as_deref_mut().context("BPF object has no rodata")?;
        rodata.events_mask = config.classes.0;
        rodata.filter_pid = config.filter_pid.unwrap_or(0);
        rodata.filter_by_cgroup = config.filter_by_cgroup;
        rodata.wakeup_bytes = config.wakeup_bytes;
        rodata.ringbuf_kinds = config.ringbuf_kinds;
        rodata.first_open_per_file = config.first_open_per_file;
        open.maps.events.set_max_entries(config.ringbuf_bytes).context("sizing the ring buffer")?;

        let mut planned: Vec<(&'static ProbeSpec, Option<String>)> = Vec::new();
        let mut close_at_destroy = false;
        for spec in PROBES {
            let skip = if spec.class.is_some_and(|c| !config.classes.contains(c)) {
                Some("not requested (--events)".to_string())
            } else if config.skip_probes.iter().any(|p| p == spec.program) {
                Some("turned off (--skip-probes)".to_string())
            } else if !kernel_has_tracepoint(&btf, spec.tracepoint) {
                Some(format!("this kernel has no tracepoint {}", spec.tracepoint))
            } else {
                None
            };
            close_at_destroy |= spec.program == "on_tcp_destroy" && skip.is_none();
            planned.push((spec, skip));
        }
        rodata.close_at_destroy = close_at_destroy;
        for mut prog in open.open_object_mut().progs_mut() {
            let name = prog.name().to_string_lossy().into_owned();
            let skip = planned.iter().find(|(s, _)| s.program == name).is_none_or(|(_, skip)| skip.is_some());
            prog.set_autoload(!skip);
        }

        let skel = open.load().map_err(|e| anyhow::anyhow!("{e}")).context(
            "loading podtop's eBPF programs into the kernel failed (run with PODTOP_DEBUG=1 for the verifier log)",
        )?;

        let mut links = Vec::new();
        let mut report = Vec::new();
        for (spec, skip) in planned {
            let status = match skip {
                Some(reason) => ProbeStatus::Skipped(reason),
                None => match skel.object().progs_mut().find(|p| p.name() == spec.program).map(|p| p.attach()) {
                    Some(Ok(link)) => {
                        links.push(link);
                        ProbeStatus::Attached
                    }
                    Some(Err(e)) => ProbeStatus::Failed(e.to_string()),
                    None => ProbeStatus::Failed("program missing from the BPF object".into()),
                },
            };
            if let ProbeStatus::Failed(reason) = &status {
                eprintln!("podtop: warning: {} ({}) did not attach: {reason}", spec.program, spec.tracepoint);
            }
            report.push(ProbeReport { spec, status });
        }
        if links.is_empty() {
            bail!("no probe could be attached; see `podtop probes`");
        }
        Ok(Probes { _links: links, skel, report })
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

    /// Lets the kernel pass events of cgroup `id` and its whole subtree.
    pub fn allow_cgroup(&self, id: u64) -> Result<()> {
        self.skel
            .maps
            .cgroup_filter
            .update(&id.to_ne_bytes(), &[1u8], MapFlags::ANY)
            .with_context(|| format!("adding cgroup {id} to the filter"))
    }

}

/// Routes libbpf's own messages: silent unless PODTOP_DEBUG is set.
pub fn configure_libbpf_logging() {
    if std::env::var_os("PODTOP_DEBUG").is_some() {
        libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Debug, |_, msg| eprint!("{msg}"))));
    } else {
        libbpf_rs::set_print(None);
    }
}

/// Keeps the kernel's run-time accounting of BPF programs on while it lives
/// (`BPF_ENABLE_STATS`): it costs two clock reads per program run, so only
/// the TUI, which shows it, turns it on.
pub struct RunTimeStats {
    _enabled_while_open: std::os::fd::OwnedFd,
}

impl RunTimeStats {
    /// Whether the administrator turned the accounting on for every program.
    pub fn enabled_by_sysctl() -> bool {
        std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled").is_ok_and(|v| v.trim() == "1")
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
