//! Command-line interface.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::probes::EventClasses;

#[derive(Debug, Parser)]
#[command(
    name = "podtop",
    version,
    about = "Exec, file and network activity of every process on the node, attributed to its container and pod, seen from the kernel with eBPF",
    after_help = "On a terminal podtop opens its TUI (press ? for keys); with --json, or when stdout is not a terminal, it streams JSON lines."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Stream events as JSON, one object per line
    #[arg(long, global = true)]
    pub json: bool,

    /// Stop after this many seconds (fractions allowed)
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, global = true)]
    pub duration: Option<Duration>,

    /// Event classes to watch, comma-separated (http: not by default, but in `podtop demo`); the others are not traced at all
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "exec,file,net", global = true)]
    pub events: Vec<EventClass>,

    /// Only this pod (name or UID), also its containers started later
    #[arg(long, value_name = "NAME|UID", global = true)]
    pub pod: Option<String>,

    /// Only pods in this Kubernetes namespace
    #[arg(long, value_name = "NS", global = true)]
    pub namespace: Option<String>,

    /// Only this container (name, full id, or id prefix of 12+ characters)
    #[arg(long, value_name = "NAME|ID", global = true)]
    pub container: Option<String>,

    /// Only this process (thread group id)
    #[arg(long, value_name = "PID", global = true)]
    pub pid: Option<u32>,

    /// How often counters are read and the TUI's rates refresh; JSON: file_io, udp, counters and stats records
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_seconds, global = true)]
    pub interval: Duration,

    /// Ring buffer size in MiB (a power of two)
    #[arg(long, value_name = "MIB", default_value_t = 16, value_parser = parse_ringbuf_mib, global = true)]
    pub ringbuf_mib: u32,

    /// Probes not to attach (see `podtop probes`), e.g. one that misbehaves on a kernel
    #[arg(long, value_name = "LIST", value_delimiter = ',', global = true)]
    pub skip_probes: Vec<String>,

    /// TUI: have the kernel account the BPF programs' run time, shown in the header (costs ~2 clock reads per probe hit)
    #[arg(long, global = true)]
    pub bpf_stats: bool,

    /// TUI: also write the records to FILE as JSON lines, for `podtop replay` (a new file, mode 0600)
    #[arg(long, value_name = "FILE", global = true, conflicts_with = "json")]
    pub record: Option<PathBuf>,

    /// --events http: keep query strings in paths (they often carry tokens: dropped by default)
    #[arg(long, global = true)]
    pub http_query: bool,

    /// --events dns: a UDP port that carries DNS besides 53 (a resolver on another port); up to three
    #[arg(long, value_name = "PORT", global = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub dns_port: Vec<u16>,

    /// Show secrets in command lines (passwords, tokens) as they are, instead of ***
    #[arg(long, global = true)]
    pub no_redact: bool,

    /// With --record: overwrite FILE if it exists (never through a symbolic link)
    #[arg(long, global = true, requires = "record")]
    pub force: bool,

    /// No terminal: at the end (--duration, or the end of a replay) print the last TUI screen as text
    #[arg(long, value_name = "COLSxROWS", value_parser = parse_size, global = true)]
    pub dump_screen: Option<(u16, u16)>,

    /// The node's name in records and metrics (a DaemonSet sets NODE_NAME from spec.nodeName); default: the hostname
    #[arg(long, value_name = "NAME", env = "NODE_NAME", global = true)]
    pub node_name: Option<String>,

    /// Serve Prometheus metrics at http://ADDR/metrics (beside the TUI or --json; `podtop serve` for metrics only)
    #[arg(long, value_name = "ADDR", global = true)]
    pub metrics: Option<std::net::SocketAddr>,

    /// With --metrics: a pod or container that reported nothing for this long leaves the metrics
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = parse_seconds, global = true)]
    pub metrics_forget: Duration,

    /// With --metrics: cgroups exported at most (each is about 20 series); more are counted, not exported
    #[arg(long, value_name = "N", default_value_t = 2000, global = true)]
    pub metrics_max_cgroups: usize,

    /// With --metrics: serve over TLS with this PEM certificate chain (read again when it changes)
    #[arg(long, value_name = "FILE", requires = "metrics_tls_key", global = true)]
    pub metrics_tls_cert: Option<PathBuf>,

    /// With --metrics-tls-cert: its PEM private key
    #[arg(long, value_name = "FILE", requires = "metrics_tls_cert", global = true)]
    pub metrics_tls_key: Option<PathBuf>,

    /// With --metrics-tls-cert: clients must present a certificate signed by this PEM CA (mutual TLS)
    #[arg(long, value_name = "FILE", requires = "metrics_tls_cert", global = true)]
    pub metrics_client_ca: Option<PathBuf>,

    /// With --metrics: connections open at most; past it the quietest is closed for a new one
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65536), global = true)]
    pub metrics_max_connections: u32,

    /// With --dump-screen: keys pressed before the screen is printed (e.g. "c" for the sidecar scope)
    #[arg(long, value_name = "KEYS", default_value = "", global = true, hide = true)]
    pub keys: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every probe: attached, skipped or failed, and why
    Probes,
    /// Show a recording (from --json or --record) in the TUI; no root needed
    Replay {
        file: PathBuf,
        /// Playback speed: 1 as recorded, 10 ten times faster, 0 at once (0.01 to 10000, or 0)
        #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
        speed: f64,
    },
    /// Start three demo pods (frontend -> backend -> db, with an haproxy sidecar) and watch them, HTTP requests too
    Demo,
    /// No output but Prometheus metrics at --metrics ADDR (for a DaemonSet), until stopped
    Serve,
    /// Print the shell's completion script (e.g. `podtop completions bash > /etc/bash_completion.d/podtop`)
    Completions { shell: clap_complete::Shell },
    /// Print the man page podtop(8) as roff (what `make install` installs)
    #[command(hide = true)]
    Manpage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventClass {
    /// exec and exit
    Exec,
    /// open, and read/write bytes per file
    File,
    /// TCP connect, accept, close; UDP bytes
    Net,
    /// HTTP/1 requests of every TCP connection, both ends, and TLS server names (with net)
    Http,
    /// DNS queries and answers over UDP, both ends, and the names on connections (with net)
    Dns,
}

/// The classes `--events` defaults to (its `default_value`, parsed).
pub const DEFAULT_EVENTS: [EventClass; 3] = [EventClass::Exec, EventClass::File, EventClass::Net];

impl Cli {
    /// Whether `--events` was left at its default (or given as the default list).
    pub fn events_by_default(&self) -> bool {
        self.events == DEFAULT_EVENTS
    }

    pub fn event_classes(&self) -> EventClasses {
        EventClasses(self.events.iter().fold(0, |mask, class| {
            mask | match class {
                EventClass::Exec => EventClasses::EXEC,
                EventClass::File => EventClasses::FILE,
                EventClass::Net => EventClasses::NET,
                // Requests ride on the connections: net's probes track them.
                EventClass::Http => EventClasses::HTTP | EventClasses::NET,
                EventClass::Dns => EventClasses::DNS | EventClasses::NET,
            }
        }))
    }
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("{s:?} must be a positive number of seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_speed(s: &str) -> Result<f64, String> {
    let speed: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if speed == 0.0 || (speed.is_finite() && (0.01..=10_000.0).contains(&speed)) {
        Ok(speed)
    } else {
        Err(format!("{s} is out of range: 0 (at once), or 0.01 to 10000"))
    }
}

fn parse_ringbuf_mib(s: &str) -> Result<u32, String> {
    let mib: u32 = s.parse().map_err(|_| format!("{s:?} is not a whole number of MiB"))?;
    if !mib.is_power_of_two() || mib > 1024 {
        return Err(format!("{mib} must be a power of two from 1 to 1024"));
    }
    Ok(mib)
}

fn parse_size(s: &str) -> Result<(u16, u16), String> {
    let (cols, rows) = s.split_once('x').ok_or_else(|| format!("{s:?} is not COLSxROWS, e.g. 120x40"))?;
    let cols: u16 = cols.parse().map_err(|_| format!("{cols:?} is not a number of columns"))?;
    let rows: u16 = rows.parse().map_err(|_| format!("{rows:?} is not a number of rows"))?;
    if cols == 0 || rows == 0 || cols > 1000 || rows > 1000 {
        return Err(format!("{s} is out of range (1x1 to 1000x1000)"));
    }
    Ok((cols, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags() {
        let cli = Cli::try_parse_from(["podtop", "--json", "--events", "exec,net", "--duration", "1.5", "--pod", "web-0"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.event_classes(), EventClasses(EventClasses::EXEC | EventClasses::NET));
        assert_eq!(cli.duration, Some(Duration::from_millis(1500)));
        assert_eq!(cli.pod.as_deref(), Some("web-0"));
        assert_eq!(Cli::try_parse_from(["podtop"]).unwrap().event_classes(), EventClasses::ALL);
        assert!(Cli::try_parse_from(["podtop"]).unwrap().events_by_default());
        // The demo shows requests unless --events says otherwise.
        let mut demo = Cli::try_parse_from(["podtop", "demo"]).unwrap();
        crate::cmd::demo::watch_requests(&mut demo);
        assert_eq!(demo.event_classes(), EventClasses(EventClasses::ALL.0 | EventClasses::HTTP | EventClasses::NET));
        let mut demo = Cli::try_parse_from(["podtop", "demo", "--events", "exec"]).unwrap();
        crate::cmd::demo::watch_requests(&mut demo);
        assert_eq!(demo.event_classes(), EventClasses(EventClasses::EXEC));
        let replay = Cli::try_parse_from(["podtop", "replay", "x.json", "--speed", "0", "--dump-screen", "100x30"]).unwrap();
        assert!(matches!(replay.command, Some(Command::Replay { speed, .. }) if speed == 0.0));
        assert_eq!(replay.dump_screen, Some((100, 30)));
        let demo = Cli::try_parse_from(["podtop", "demo", "--json", "--events", "net", "--pod", "frontend"]).unwrap();
        assert_eq!(demo.event_classes(), EventClasses(EventClasses::NET));
        assert_eq!(demo.pod.as_deref(), Some("frontend"));
    }

    #[test]
    fn rejects_bad_values() {
        assert!(Cli::try_parse_from(["podtop", "--events", "exec,disk"]).is_err());
        assert!(Cli::try_parse_from(["podtop", "--duration", "-1"]).is_err());
        assert!(Cli::try_parse_from(["podtop", "--ringbuf-mib", "3"]).is_err());
        assert!(Cli::try_parse_from(["podtop", "--pid", "x"]).is_err());
        assert!(Cli::try_parse_from(["podtop", "--dump-screen", "80"]).is_err());
        for speed in ["1e-300", "-1", "nan", "inf", "1e9", "0.001"] {
            assert!(Cli::try_parse_from(["podtop", "replay", "x", "--speed", speed]).is_err(), "{speed}");
        }
    }
}
