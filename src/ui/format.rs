//! How values look on screen: bytes, counts, rates, times, sparklines and
//! one-line descriptions of records. The model keeps numbers and names;
//! everything the TUI prints goes through here, so every pane shows a value
//! the same way.

use std::net::SocketAddr;

use crate::aggregate::model::{short_id, ConnRow, ContainerRow, EventLine, Group};
use crate::aggregate::observation::{ConnKind, Action};
use crate::events::EventClasses;
use crate::l7::exchanges::Role;

/// A byte count, in binary units, always with its unit: 512B, 1.5KiB,
/// 20KiB, 3.2MiB. One decimal below 10 of a unit, none above; a value that
/// rounds up to 1024 of a unit is shown as 1.0 of the next.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 9.95 {
        format!("{value:.1}{}", UNITS[unit])
    } else if value.round() < 1024.0 || unit == UNITS.len() - 1 {
        format!("{value:.0}{}", UNITS[unit])
    } else {
        format!("1.0{}", UNITS[unit + 1])
    }
}

/// A rate of things per second: a decimal below 1/s (a pod that execs
/// every 5 s shows 0.2, not 0), then as a count.
pub fn rate(per_second: f64) -> String {
    if per_second <= 0.0 {
        "0".to_string()
    } else if per_second < 0.05 {
        "<0.1".to_string()
    } else if per_second < 0.95 {
        format!("{per_second:.1}")
    } else {
        count(per_second.round() as u64)
    }
}

/// A latency: 850µs, 12.5ms, 1.20s.
pub fn latency(ns: u64) -> String {
    match ns {
        0..=999_999 => format!("{}µs", ns / 1_000),
        1_000_000..=999_999_999 => format!("{:.1}ms", ns as f64 / 1e6),
        _ => format!("{:.2}s", ns as f64 / 1e9),
    }
}

/// CPU in cores, to the millicore: 0.021 cores.
pub fn cores(cores: f64) -> String {
    format!("{cores:.3} cores")
}

/// `n` and a noun, plural unless `n` is 1: "1 datagram", "3 datagrams".
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", count(n))
    }
}

/// A count of things: exact below 10,000, then k and M.
pub fn count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=9_999_999 => format!("{:.0}k", n as f64 / 1e3),
        _ => format!("{:.0}M", n as f64 / 1e6),
    }
}

/// A share in percent, one decimal; `-` where there is nothing to share.
pub fn percent(p: Option<f64>) -> String {
    p.map_or("-".to_string(), |p| format!("{p:.1}%"))
}

/// A sparkline as text, the last `width` samples scaled to their maximum.
pub fn sparkline(samples: impl DoubleEndedIterator<Item = u64> + Clone, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let mut recent: Vec<u64> = samples.rev().take(width).collect();
    recent.reverse();
    let max = recent.iter().copied().max().unwrap_or(0);
    let line: String = recent
        .iter()
        .map(|v| (v * 7 + max / 2).checked_div(max).map_or(' ', |level| BARS[level.min(7) as usize]))
        .collect();
    format!("{line:>width$}")
}

/// A span of time: 850ms, 42s, 3m20s, 2h05m.
pub fn duration(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    match secs {
        0 => format!("{}ms", ns / 1_000_000),
        1..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs / 60 % 60),
    }
}

/// Wall-clock time of day (UTC) of a record, for lists.
pub fn time_of_day(unix_ns: u64) -> String {
    let secs = unix_ns / 1_000_000_000 % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The first `width` characters.
pub fn truncate(s: &str, width: usize) -> String {
    s.chars().take(width).collect()
}

/// A container by its name, or its id cut short where it has none.
pub fn container_title(row: &ContainerRow) -> String {
    row.name.clone().unwrap_or_else(|| short_id(&row.id))
}

/// Container `id` of `group`, by its title.
pub fn container_in(group: &Group, id: &str) -> String {
    group.containers.get(id).map_or_else(|| short_id(id), container_title)
}

/// A group as the screens name it: namespace/pod where it has a namespace.
pub fn group_name(group: &Group) -> String {
    match &group.namespace {
        Some(ns) => format!("{ns}/{}", group.title),
        None => group.title.clone(),
    }
}

/// namespace/pod/container of a connection's other end, where it is a pod.
pub fn peer_title(row: &ConnRow) -> Option<String> {
    let peer = row.connection.peer.as_ref()?;
    let pod = peer.pod.as_ref()?;
    let name = pod.name.clone().unwrap_or_else(|| pod.uid.chars().take(8).collect());
    Some(match (&pod.namespace, peer.container.as_ref().and_then(|c| c.name.as_ref())) {
        (Some(ns), Some(c)) => format!("{ns}/{name}/{c}"),
        (Some(ns), None) => format!("{ns}/{name}"),
        (None, Some(c)) => format!("{name}/{c}"),
        (None, None) => name,
    })
}

/// A remote end as the lists show it: where the record carries the name the
/// pod looked up for the address (`--events dns`), that name and the port,
/// as bandwhich shows resolved hosts; else the address.
pub fn remote(addr: SocketAddr, dname: Option<&str>) -> String {
    match dname {
        Some(name) => format!("{name}:{}", addr.port()),
        None => addr.to_string(),
    }
}

/// The same, with the address beside the name, for lines with room:
/// `api.shop.test:8080 (10.244.2.3)`.
pub fn remote_and_address(addr: SocketAddr, dname: Option<&str>) -> String {
    match dname {
        Some(_) => format!("{} ({})", remote(addr, dname), addr.ip()),
        None => addr.to_string(),
    }
}

/// `remote` in at most `width` characters: a longer name is cut before its
/// port (`backend.shop.svc.clus…:8080`), which stays; an address is never cut.
pub fn remote_in(addr: SocketAddr, dname: Option<&str>, width: usize) -> String {
    let whole = remote(addr, dname);
    match dname {
        Some(name) if whole.chars().count() > width => {
            let port = format!(":{}", addr.port());
            let room = width.saturating_sub(port.len() + 1).max(1);
            format!("{}…{port}", truncate(name, room))
        }
        _ => whole,
    }
}

/// The widest a name in place of a remote address gets in a column; longer
/// ones are cut before their port.
const REMOTE_MAX: usize = 32;

/// A column of remote ends: as wide as the longest, from `least` to `REMOTE_MAX`.
pub fn remote_width<'a>(rows: impl Iterator<Item = &'a ConnRow>, least: usize) -> usize {
    rows.map(|c| remote(c.connection.remote, c.connection.dname.as_deref()).chars().count()).max().unwrap_or(0).clamp(least, REMOTE_MAX)
}

/// A one-line description of a record for the event pane.
pub fn event_text(e: &EventLine) -> String {
    let who = format!("{}[{}]", e.process.comm, e.process.pid);
    match &e.action {
        Action::Exec { filename, args } => match args.is_empty() {
            true => format!("exec    {who} {filename}"),
            false => format!("exec    {who} {}", args.join(" ")),
        },
        Action::Exit { code, signal } => match (code, signal) {
            (_, Some(sig)) => format!("exit    {who} signal {sig}"),
            (Some(code), _) => format!("exit    {who} code {code}"),
            _ => format!("exit    {who}"),
        },
        Action::Connection(c) => {
            let kind = match c.kind {
                ConnKind::Connect => "connect",
                ConnKind::Accept => "accept ",
                ConnKind::Close => "close  ",
            };
            let sizes = if c.kind == ConnKind::Close { format!(" tx {} rx {}", bytes(c.tx_bytes), bytes(c.rx_bytes)) } else { String::new() };
            // The arrow points the way the connection was made: an accepted one came in.
            let arrow = if c.kind == ConnKind::Accept { "<-" } else { "->" };
            format!("{kind} {who} {} {arrow} {}{sizes}", c.local, remote_and_address(c.remote, c.dname.as_deref()))
        }
        Action::FileIo { path, read_bytes, write_bytes } => {
            format!("file    {who} {} r {} w {}", path.as_deref().unwrap_or("?"), bytes(*read_bytes), bytes(*write_bytes))
        }
        Action::Udp { local, remote, dname, tx_bytes, rx_bytes, datagrams } => {
            let remote = remote.map(|r| remote_and_address(r, dname.as_deref())).unwrap_or_else(|| "*".into());
            format!("udp     {who} {local} -> {remote} tx {} rx {} ({})", bytes(*tx_bytes), bytes(*rx_bytes), plural(*datagrams, "datagram"))
        }
        Action::Request(r) => {
            let status = r.status.map_or("-".to_string(), |s| s.to_string());
            let took = r.latency_ns.map_or("-".to_string(), latency);
            let dir = if r.role == Role::Server { "from" } else { "to" };
            format!("http    {who} {} {} {status} {took} {dir} {}", r.method, r.path, remote_and_address(r.remote, r.dname.as_deref()))
        }
        Action::Lookup(l) => {
            let outcome = l.rcode.as_deref().unwrap_or("no answer");
            let answer = match l.answers.as_slice() {
                [] => String::new(),
                [one] => format!(" {one}"),
                [first, rest @ ..] => format!(" {first} +{}", rest.len()),
            };
            let took = l.latency_ns.map(|ns| format!(" {}", latency(ns))).unwrap_or_default();
            // A client asks through its resolver; a server answers for its client.
            let other = match (l.remote, l.role) {
                (Some(r), Role::Client) => format!(" via {r}"),
                (Some(r), Role::Server) => format!(" for {r}"),
                (None, _) => String::new(),
            };
            format!("dns     {who} {} {} {outcome}{answer}{took}{other}", l.qtype, l.qname)
        }
    }
}

/// The `--events` list that adds `class` (http, dns) to what this run
/// watches, for the hint where what it brings would show.
pub fn events_with(classes: Option<EventClasses>, class: &str) -> String {
    let classes = classes.unwrap_or(EventClasses::ALL);
    let all = [(EventClasses::EXEC, "exec"), (EventClasses::FILE, "file"), (EventClasses::NET, "net"), (EventClasses::HTTP, "http"), (EventClasses::DNS, "dns")];
    let names: Vec<&str> = all.into_iter().filter(|(c, name)| classes.contains(*c) || *name == class).map(|(_, name)| name).collect();
    format!("--events {}", names.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::model::Activity;
    use crate::aggregate::observation::{Connection, ProcessRef};

    #[test]
    fn bytes_in_binary_units() {
        let table = [
            (0, "0B"),
            (1023, "1023B"),
            (1024, "1.0KiB"),
            (1536, "1.5KiB"),
            (10 * 1024 - 60, "9.9KiB"),
            (10 * 1024 - 1, "10KiB"),
            (10 * 1024, "10KiB"),
            ((1 << 20) - 1, "1.0MiB"),
            (5 << 20, "5.0MiB"),
            (3 << 30, "3.0GiB"),
            (u64::MAX, "16EiB"),
        ];
        for (n, text) in table {
            assert_eq!(bytes(n), text, "{n}");
        }
    }

    #[test]
    fn counts_exact_then_rounded() {
        assert_eq!(count(0), "0");
        assert_eq!(count(9_999), "9999");
        assert_eq!(count(10_000), "10k");
        assert_eq!(count(9_999_999), "10000k");
        assert_eq!(count(12_500_000), "12M");
    }

    #[test]
    fn rates_keep_a_decimal_below_one_per_second() {
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(0.01), "<0.1");
        assert_eq!(rate(0.2), "0.2");
        assert_eq!(rate(0.96), "1");
        assert_eq!(rate(80.4), "80");
        assert_eq!(rate(12_345.0), "12k");
        assert_eq!(plural(1, "datagram"), "1 datagram");
        assert_eq!(plural(3, "datagram"), "3 datagrams");
    }

    #[test]
    fn percent_and_time_of_day() {
        assert_eq!(percent(None), "-");
        assert_eq!(percent(Some(33.333)), "33.3%");
        assert_eq!(time_of_day(0), "00:00:00");
        assert_eq!(duration(850_000_000), "850ms");
        assert_eq!(duration(42_000_000_000), "42s");
        assert_eq!(duration(200_000_000_000), "3m20s");
        assert_eq!(duration(7_500_000_000_000), "2h05m");
        assert_eq!(time_of_day((86_400 + 3_600 + 61) * 1_000_000_000 + 999), "01:01:01", "days and nanoseconds drop");
    }

    #[test]
    fn sparklines_scale_to_their_maximum_and_keep_their_width() {
        assert_eq!(sparkline([0u64, 7, 14].into_iter(), 3), "▁▅█", "half of the maximum rounds up to the fifth of eight bars");
        assert_eq!(sparkline([0u64, 0].into_iter(), 4), "    ", "nothing yet: blank, never a division by zero");
        assert_eq!(sparkline([1u64, 2, 3, 4, 5].into_iter(), 2), "▇█", "the most recent samples");
        assert_eq!(sparkline(std::iter::empty(), 3).chars().count(), 3);
    }

    #[test]
    fn containers_without_a_name_show_a_short_id() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let row = ContainerRow { id: id.into(), name: None, runtime: None, activity: Activity::default() };
        assert_eq!(container_title(&row), "0123456789ab");
        assert_eq!(container_title(&ContainerRow { name: Some("api".into()), ..row }), "api");
    }

    #[test]
    fn one_line_per_record() {
        let line = |action: Action| EventLine {
            unix_ns: 0,
            group: "demo/web".into(),
            process: ProcessRef { pid: 42, ppid: 1, comm: "curl".into() },
            action,
        };
        let exec = line(Action::Exec { filename: "/bin/true".into(), args: vec![] });
        assert_eq!(event_text(&exec), "exec    curl[42] /bin/true");
        let exec = line(Action::Exec { filename: "/usr/bin/curl".into(), args: vec!["curl".into(), "-s".into()] });
        assert_eq!(event_text(&exec), "exec    curl[42] curl -s");
        assert_eq!(event_text(&line(Action::Exit { code: Some(3), signal: None })), "exit    curl[42] code 3");
        assert_eq!(event_text(&line(Action::Exit { code: None, signal: Some(9) })), "exit    curl[42] signal 9");
        let close = line(Action::Connection(Connection {
            kind: ConnKind::Close,
            local: "10.0.0.1:5000".parse().unwrap(),
            remote: "10.0.0.2:80".parse().unwrap(),
            tx_bytes: 100,
            rx_bytes: 2000,
            cookie: 1,
            peer: None,
            sidecar_visible: true,
            dname: None,
        }));
        assert_eq!(event_text(&close), "close   curl[42] 10.0.0.1:5000 -> 10.0.0.2:80 tx 100B rx 2.0KiB");
        let mut named = close.clone();
        if let Action::Connection(c) = &mut named.action {
            c.dname = Some("api.shop.test".into());
        }
        assert_eq!(event_text(&named), "close   curl[42] 10.0.0.1:5000 -> api.shop.test:80 (10.0.0.2) tx 100B rx 2.0KiB");
        let file = line(Action::FileIo { path: None, read_bytes: 1, write_bytes: 2 });
        assert_eq!(event_text(&file), "file    curl[42] ? r 1B w 2B");
        let udp = line(Action::Udp {
            local: "10.0.0.1:5353".parse().unwrap(),
            remote: None,
            dname: None,
            tx_bytes: 60,
            rx_bytes: 0,
            datagrams: 1,
        });
        assert_eq!(event_text(&udp), "udp     curl[42] 10.0.0.1:5353 -> * tx 60B rx 0B (1 datagram)");
        let request = line(Action::Request(crate::aggregate::observation::Request {
            role: Role::Client,
            method: "GET".into(),
            path: "/api/items".into(),
            status: Some(503),
            failed: true,
            latency_ns: Some(12_500_000),
            local: "10.0.0.1:5000".parse().unwrap(),
            remote: "10.0.0.2:80".parse().unwrap(),
            peer: None,
            sidecar_visible: true,
            dname: None,
        }));
        assert_eq!(event_text(&request), "http    curl[42] GET /api/items 503 12.5ms to 10.0.0.2:80");
        let lookup = |rcode: Option<&str>, answers: &[&str], role| {
            line(Action::Lookup(crate::aggregate::observation::Lookup {
                role,
                qname: "api.shop.test".into(),
                qtype: "A".into(),
                rcode: rcode.map(str::to_string),
                answers: answers.iter().map(|a| a.parse().unwrap()).collect(),
                latency_ns: rcode.map(|_| 180_000),
                remote: Some("10.96.0.10:53".parse().unwrap()),
            }))
        };
        let two = lookup(Some("NOERROR"), &["10.0.0.2", "10.0.0.3"], Role::Client);
        assert_eq!(event_text(&two), "dns     curl[42] A api.shop.test NOERROR 10.0.0.2 +1 180µs via 10.96.0.10:53");
        let none = lookup(None, &[], Role::Client);
        assert_eq!(event_text(&none), "dns     curl[42] A api.shop.test no answer via 10.96.0.10:53");
        let served = lookup(Some("NXDOMAIN"), &[], Role::Server);
        assert_eq!(event_text(&served), "dns     curl[42] A api.shop.test NXDOMAIN 180µs for 10.96.0.10:53");
    }

    #[test]
    fn names_in_place_of_addresses() {
        let addr: SocketAddr = "10.244.2.3:8080".parse().unwrap();
        assert_eq!(remote(addr, None), "10.244.2.3:8080");
        assert_eq!(remote(addr, Some("api.shop.test")), "api.shop.test:8080");
        assert_eq!(remote_and_address(addr, Some("api.shop.test")), "api.shop.test:8080 (10.244.2.3)");
        assert_eq!(remote_and_address("[fd00::7]:443".parse().unwrap(), None), "[fd00::7]:443");
        let long = "backend.shop.svc.cluster.local";
        assert_eq!(remote_in(addr, Some(long), 26), "backend.shop.svc.clu…:8080");
        assert_eq!(remote_in(addr, Some(long), 26).chars().count(), 26);
        assert_eq!(remote_in(addr, Some("api.shop.test"), 26), "api.shop.test:8080");
        assert_eq!(remote_in(addr, None, 4), "10.244.2.3:8080", "an address is never cut");
    }

    #[test]
    fn hints_add_the_class_to_what_the_run_watches() {
        assert_eq!(events_with(Some(EventClasses::ALL), "dns"), "--events exec,file,net,dns");
        assert_eq!(events_with(Some(EventClasses(EventClasses::ALL.0 | EventClasses::HTTP)), "dns"), "--events exec,file,net,http,dns");
        assert_eq!(events_with(Some(EventClasses(EventClasses::EXEC)), "http"), "--events exec,http");
    }
}
