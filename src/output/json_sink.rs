//! `--json`: one JSON object per line, through one reused buffer.

use std::io::{self, Write};

use super::json::ObjectWriter;
use super::writer::OutputHandle;
use super::{errno_name, write_device, write_ip, write_open_flags};
use crate::records::run::StartInfo;
use crate::records::{CountersRecord, DnsRecord, EventRecord, FileIoRecord, HttpRecord, NetView, SidecarsRecord, Sink, Stats, UdpRecord};
use crate::enrich::Attribution;
use crate::sidecars::NodeBill;
use crate::l7::{dns, grpc};
use crate::events::{c_bytes, c_str_bytes, exit_status, ConnEvent, Event, ExecEvent, ExitEvent, Kind, OpenEvent, ProcessIdentity};

/// Writes NDJSON to any writer (stdout in practice), through one reused buffer.
pub struct JsonSink<W: Write> {
    out: W,
    line: Vec<u8>,
    node: String,
    /// Where records the output did not take are counted, for `stats`.
    output: Option<OutputHandle>,
}

/// A write failed because the reader went away (`| head`): not an error to report.
pub fn is_closed_output(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

impl<W: Write> JsonSink<W> {
    pub fn new(out: W, node: String) -> Self {
        JsonSink { out, line: Vec::with_capacity(8192), node, output: None }
    }

    /// The writer, back (tests, and whoever wrote into memory).
    pub fn into_inner(self) -> W {
        self.out
    }

    /// `stats` records say how many records the output did not take.
    pub fn counting_dropped(mut self, output: OutputHandle) -> Self {
        self.output = Some(output);
        self
    }

    fn begin(&mut self, kind: &str, unix_ns: u64) -> ObjectWriter<'_> {
        self.line.clear();
        let mut o = ObjectWriter::new(&mut self.line);
        o.str("type", kind).time("time", unix_ns).str("node", &self.node);
        o
    }

    fn finish(&mut self) -> io::Result<()> {
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    /// The first line: the run, what is attached, what it can and cannot see.
    pub fn start(&mut self, start: &StartInfo) -> io::Result<()> {
        let now = crate::clock::Clock::new().now_unix_ns();
        let filter = start.filter;
        self.write_raw_line(
            |o| {
                o.str("version", env!("CARGO_PKG_VERSION")).str("kernel", &start.kernel).str("cgroup2", &start.cgroup_mount);
                o.object("probes", |p| {
                    for r in start.probes {
                        p.object(r.spec.program, |x| {
                            x.str("hook", r.spec.hook.kind())
                                .str("target", r.spec.hook.target())
                                .str("status", r.status.name())
                                .opt_str("reason", r.status.reason());
                        });
                    }
                });
                // What serves each kind of event on this kernel, and what it cannot give.
                let capabilities = crate::probes::capabilities(start.probes, start.classes);
                o.object("capabilities", |c| {
                    for cap in capabilities.iter().filter(|c| c.requested) {
                        c.bytes_array(cap.capability.name(), cap.programs.iter().map(|p| p.as_bytes()));
                    }
                });
                o.object("degraded", |d| {
                    for cap in capabilities.iter().filter(|c| c.requested) {
                        if let Some(how) = cap.degraded {
                            d.str(cap.capability.name(), how);
                        }
                    }
                });
                o.object("unavailable", |u| {
                    for cap in capabilities.iter().filter(|c| c.requested && c.programs.is_empty()) {
                        u.str(cap.capability.name(), cap.capability.missing_means());
                    }
                });
                o.object("filters", |f| {
                    f.opt_str("pod", filter.pod.as_deref())
                        .opt_str("namespace", filter.namespace.as_deref())
                        .opt_str("container", filter.container.as_deref())
                        .opt_u64("pid", start.pid.map(u64::from));
                });
            },
            "start",
            now,
        )?;
        self.flush()
    }

    /// Any JSON line made by the caller (start record).
    pub fn write_raw_line(&mut self, fill: impl FnOnce(&mut ObjectWriter), kind: &str, unix_ns: u64) -> io::Result<()> {
        let mut o = self.begin(kind, unix_ns);
        fill(&mut o);
        o.end();
        self.finish()
    }
}

impl<W: Write> Sink for JsonSink<W> {
    fn event(&mut self, r: &EventRecord) -> io::Result<()> {
        let kind = match r.event {
            Event::Exec(_) => Kind::Exec,
            Event::Exit(_) => Kind::Exit,
            Event::Open(_) => Kind::Open,
            Event::Connection(k, _) => k,
            Event::Cgroup(k, _) => k,
            Event::Payload(..) => Kind::Payload,
        };
        let mut o = self.begin(kind.name(), r.unix_ns);
        write_identity(&mut o, r.who, r.owner);
        o.bool("sidecar_visible", r.sidecar_visible);
        match r.event {
            Event::Exec(e) => write_exec(&mut o, e, r),
            Event::Exit(e) => write_exit(&mut o, e),
            Event::Open(e) => write_open(&mut o, e),
            Event::Connection(kind, e) => write_connection(&mut o, kind, e, r),
            Event::Cgroup(_, e) => {
                o.u64("id", e.id).bytes("path", c_bytes(&e.path, e.path_len));
            }
            Event::Payload(..) => {}
        }
        o.end();
        self.finish()
    }

    fn file_io(&mut self, r: &FileIoRecord) -> io::Result<()> {
        let mut o = self.begin("file_io", r.unix_ns);
        write_identity(&mut o, r.who, r.owner);
        o.bool("sidecar_visible", false);
        o.object("file", |x| {
            x.opt_bytes("path", r.path)
                .ascii_with("dev", |b| write_device(b, r.dev))
                .u64("ino", r.ino)
                .u64("read_bytes", r.delta.read_bytes)
                .u64("write_bytes", r.delta.write_bytes)
                .u64("reads", r.delta.reads)
                .u64("writes", r.delta.writes);
        });
        o.end();
        self.finish()
    }

    fn udp(&mut self, r: &UdpRecord) -> io::Result<()> {
        let mut o = self.begin("udp", r.unix_ns);
        write_identity(&mut o, r.who, r.owner);
        o.bool("sidecar_visible", false);
        o.object("net", |x| {
            write_net(x, &r.net);
            x.u64("tx_bytes", r.delta.tx_bytes)
                .u64("rx_bytes", r.delta.rx_bytes)
                .u64("tx_datagrams", r.delta.tx_datagrams)
                .u64("rx_datagrams", r.delta.rx_datagrams);
        });
        write_peer(&mut o, r.peer.map(|p| &**p));
        o.end();
        self.finish()
    }

    fn http(&mut self, r: &HttpRecord) -> io::Result<()> {
        let x = r.exchange;
        let mut o = self.begin("http", r.unix_ns);
        write_identity(&mut o, r.who, r.owner);
        o.bool("sidecar_visible", r.sidecar_visible);
        o.object("net", |n| {
            write_net(n, &r.net);
            n.u64("cookie", r.cookie);
        });
        write_peer(&mut o, r.peer.map(|p| &**p));
        o.object("http", |h| {
            h.str("role", x.role.name())
                .str("method", x.request.method)
                .str("path", r.path)
                .bool("path_truncated", x.request.target_truncated)
                .opt_str("version", x.request.version)
                .opt_u64("status", x.response.map(|s| u64::from(s.status)))
                .opt_u64("latency_ns", x.latency_ns)
                .u64("request_bytes", x.request_bytes)
                .u64("response_bytes", x.response_bytes)
                .opt_str("authority", x.authority.as_deref())
                .opt_str("reset", x.reset)
                .bool("heads_lost", x.heads_lost);
            match &x.grpc {
                Some(call) => h.object("grpc", |g| {
                    g.str("service", &call.service)
                        .str("method", &call.method)
                        .opt_str("status", call.status.map(grpc::status_name))
                        .opt_u64("status_code", call.status.map(u64::from));
                }),
                None => h.null("grpc"),
            };
        });
        o.end();
        self.finish()
    }

    fn dns(&mut self, r: &DnsRecord) -> io::Result<()> {
        let l = r.lookup;
        let mut o = self.begin("dns", r.unix_ns);
        write_identity(&mut o, r.who, r.owner);
        o.bool("sidecar_visible", r.sidecar_visible);
        o.object("net", |n| write_net(n, &r.net));
        write_peer(&mut o, r.peer.map(|p| &**p));
        let addresses: Vec<String> = l.addresses().map(|ip| ip.to_string()).collect();
        o.object("dns", |d| {
            d.str("role", l.role.name())
                .u64("id", l.query.id.into())
                .str("qname", l.query.qname.to_ascii_lowercase())
                .str("qtype", dns::qtype_name(l.query.qtype))
                .opt_str("rcode", l.answer.as_ref().map(|a| dns::rcode_name(a.rcode)))
                .bytes_array("answers", addresses.iter().map(|a| a.as_bytes()))
                .bytes_array("cnames", l.cnames().map(str::as_bytes))
                .opt_u64("latency_ns", l.latency_ns)
                .u64("query_bytes", l.query_bytes)
                .u64("answer_bytes", l.answer_bytes);
        });
        o.end();
        self.finish()
    }

    fn stats(&mut self, unix_ns: u64, stats: &Stats) -> io::Result<()> {
        let output_dropped = self.output.as_ref().map_or(0, OutputHandle::dropped_records);
        let mut o = self.begin("stats", unix_ns);
        o.object("events", |x| {
            for (kind, seen, lost) in &stats.per_kind {
                x.object(kind.name(), |k| {
                    k.u64("seen", *seen).u64("lost", *lost);
                });
            }
        });
        o.u64("seen_total", stats.seen_total())
            .u64("lost_total", stats.lost_total())
            .object("counters_dropped", |d| {
                d.u64("file_io", stats.file_io_dropped).u64("udp", stats.udp_dropped).u64("cgroup", stats.cgroup_dropped);
            })
            .u64("decode_errors", stats.decode_errors)
            .u64("output_dropped", output_dropped)
            .opt_u64("bpf_run_time_ns", stats.bpf_run_time_ns)
            .opt_u64("bpf_run_count", stats.bpf_run_count)
            .object("tables", |t| {
                for table in &stats.tables {
                    t.object(table.name, |x| {
                        x.u64("entries", table.entries as u64).u64("capacity", table.capacity as u64).u64("evicted", table.evicted);
                    });
                }
            });
        o.end();
        self.finish()
    }

    fn sidecars(&mut self, r: &SidecarsRecord) -> io::Result<()> {
        for (owner, bill) in r.bills {
            let mut o = self.begin("sidecar", r.unix_ns);
            o.raw_fields(owner.rendered.get_or_init(|| render_attribution(owner)).as_bytes());
            o.object("sidecar", |x| {
                let bypass: Vec<String> = bill.relayed.bypass.iter().map(ToString::to_string).collect();
                x.opt_str("hint", bill.hint)
                    .opt_f64("cpu_cores", bill.cpu_cores)
                    .opt_u64("memory_bytes", bill.memory_bytes)
                    .opt_u64("rss_bytes", bill.rss_bytes)
                    .u64("relayed_connections", bill.relayed.connections)
                    .u64("relayed_tx_bytes", bill.relayed.tx_bytes)
                    .u64("relayed_rx_bytes", bill.relayed.rx_bytes)
                    .u64("extra_stack_bytes", bill.extra_stack_bytes())
                    .opt_u64("added_latency_p50_ns", bill.added_latency.map(|l| l.p50_ns))
                    .opt_u64("added_latency_p99_ns", bill.added_latency.and_then(|l| l.p99_ns))
                    .u64("exchanges", bill.relayed.exchanges)
                    .u64("bypass_connections", bill.relayed.bypass_connections)
                    .bytes_array("bypass", bypass.iter().map(|b| b.as_bytes()));
            });
            o.end();
            self.finish()?;
        }
        let node = NodeBill::of(r.bills);
        let mut o = self.begin("sidecars", r.unix_ns);
        o.u64("sidecars", node.sidecars as u64)
            .opt_f64("cpu_cores", Some(node.cpu_cores))
            .u64("memory_bytes", node.memory_bytes)
            .u64("rss_bytes", node.rss_bytes)
            .u64("relayed_connections", node.relayed_connections)
            .u64("bypass_connections", node.bypass_connections)
            .object("podtop", |p| {
                p.opt_f64("cpu_cores", r.podtop.cpu_cores).opt_f64("bpf_cores", r.podtop.bpf_cores).opt_u64("rss_bytes", r.podtop.rss_bytes);
            });
        o.end();
        self.finish()
    }

    fn counters(&mut self, r: &CountersRecord) -> io::Result<()> {
        let mut o = self.begin("counters", r.unix_ns);
        o.raw_fields(r.owner.rendered.get_or_init(|| render_attribution(r.owner)).as_bytes());
        o.object("counters", |x| {
            for (name, value) in r.delta.fields() {
                x.u64(name, value);
            }
        });
        o.end();
        self.finish()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn write_exec(o: &mut ObjectWriter, e: &ExecEvent, r: &EventRecord) {
    o.object("exec", |x| {
        x.bytes("filename", c_bytes(&e.filename, e.filename_len))
            .bool("filename_truncated", e.filename_truncated != 0)
            .bytes_array("args", r.args.iter().map(|a| a.as_ref()))
            .bool("args_truncated", e.args_truncated != 0)
            .bool("args_redacted", r.args_redacted)
            .bool("fileless", e.fileless != 0);
        if e.fileless != 0 {
            x.bytes("fileless_name", c_bytes(&e.dname, e.dname_len));
        }
    });
}

fn write_exit(o: &mut ObjectWriter, e: &ExitEvent) {
    let (code, signal, core_dumped) = exit_status(e.exit_code);
    o.object("exit", |x| {
        x.opt_u64("code", code.map(u64::from))
            .opt_u64("signal", signal.map(u64::from))
            .bool("core_dumped", core_dumped)
            .u64("duration_ns", e.duration_ns);
    });
}

fn write_open(o: &mut ObjectWriter, e: &OpenEvent) {
    o.object("file", |x| {
        x.bytes("path", c_bytes(&e.path, e.path_len))
            .bool("path_truncated", e.path_truncated != 0)
            .u64("flags", e.flags)
            .ascii_with("flags_text", |b| write_open_flags(b, e.flags))
            .i64("ret", e.ret)
            .opt_str("error", (e.ret < 0).then(|| errno_name(-e.ret)));
        if e.ret >= 0 {
            x.ascii_with("dev", |b| write_device(b, e.dev)).u64("ino", e.ino);
        }
    });
}

/// A connect, accept, close or progress record: the socket, its peer, and
/// at close the TLS ClientHello it began with.
fn write_connection(o: &mut ObjectWriter, kind: Kind, e: &ConnEvent, r: &EventRecord) {
    if let Some(net) = &r.net {
        // A progress record carries what the connection did since its last one.
        let (tx_bytes, rx_bytes, turns) =
            if kind == Kind::Progress { (e.tail_tx_bytes, e.tail_rx_bytes, e.tail_turns) } else { (e.tx_bytes, e.rx_bytes, e.turns) };
        o.object("net", |x| {
            write_net(x, net);
            if let Some(role) = e.role_name() {
                x.str("role", role);
            }
            x.u64("tx_bytes", tx_bytes)
                .u64("rx_bytes", rx_bytes)
                .u64("duration_ns", e.duration_ns)
                .u64("cookie", e.cookie)
                .u64("exchanges", turns.exchanges)
                .u64("exchange_ns", turns.exchange_ns)
                .u64("replies", turns.replies)
                .u64("reply_ns", turns.reply_ns);
            if kind == Kind::Close {
                x.u64("tail_tx_bytes", e.tail_tx_bytes).u64("tail_rx_bytes", e.tail_rx_bytes);
            }
            if e.adopted != 0 {
                x.bool("adopted", true);
            }
        });
    }
    write_peer(o, r.peer.map(|p| &**p));
    if let Some(hello) = r.tls {
        o.object("tls", |t| {
            t.opt_str("sni", hello.sni.as_deref()).str("version", hello.version);
        });
    }
}

fn write_identity(o: &mut ObjectWriter, who: &ProcessIdentity, owner: &Attribution) {
    o.object("process", |p| {
        p.u64("pid", who.pid.into())
            .u64("tid", who.tid.into())
            .u64("ppid", who.ppid.into())
            .u64("uid", who.uid.into())
            .u64("gid", who.gid.into())
            .bytes("comm", c_str_bytes(&who.comm));
    });
    o.raw_fields(owner.rendered.get_or_init(|| render_attribution(owner)).as_bytes());
    o.u64("netns", who.netns.into()).u64("mntns", who.mntns.into());
}

/// `"cgroup":{..},"container":..,"pod":..`, rendered once per attribution.
fn render_attribution(a: &Attribution) -> String {
    let mut buf = Vec::with_capacity(256);
    let mut o = ObjectWriter::new(&mut buf);
    o.object("cgroup", |c| {
        c.u64("id", a.cgroup_id).opt_str("path", a.cgroup_path.as_deref());
    });
    write_container_and_pod(&mut o, a);
    o.end();
    // Strip the braces: these are fields to splice into the record.
    String::from_utf8_lossy(&buf[1..buf.len() - 1]).into_owned()
}

fn write_container_and_pod(o: &mut ObjectWriter, a: &Attribution) {
    match &a.container {
        Some(c) => o.object("container", |x| {
            x.str("id", &c.id).opt_str("runtime", c.runtime.map(|r| r.name())).opt_str("name", c.name.as_deref());
        }),
        None => o.null("container"),
    };
    match &a.pod {
        Some(p) => o.object("pod", |x| {
            x.str("uid", &p.uid)
                .opt_str("name", p.name.as_deref())
                .opt_str("namespace", p.namespace.as_deref())
                .str("qos", p.qos.name());
        }),
        None => o.null("pod"),
    };
}

fn write_peer(o: &mut ObjectWriter, peer: Option<&Attribution>) {
    match peer {
        Some(p) => o.object("peer", |x| write_container_and_pod(x, p)),
        None => o.null("peer"),
    };
}

fn write_net(x: &mut ObjectWriter, net: &NetView) {
    let family = if net.saddr.is_ipv4() { "ipv4" } else { "ipv6" };
    x.str("proto", net.proto)
        .str("family", family)
        .ascii_with("saddr", |b| write_ip(b, net.saddr))
        .u64("sport", net.sport.into());
    match net.daddr {
        Some(daddr) => x.ascii_with("daddr", |b| write_ip(b, daddr)),
        None => x.null("daddr"),
    }
    .u64("dport", net.dport.into());
    if let Some(name) = &net.dname {
        x.str("dname", &**name);
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::schema::{json_schema, Record};
    use crate::enrich::filter::Filter;
    use crate::events::EventClasses;
    use crate::probes::{ProbeReport, ProbeStatus, PROBES};
    use crate::records::fixtures::{feed_every_kind, feed_http2};

    fn lines() -> Vec<String> {
        let mut sink = JsonSink::new(Vec::new(), "node-1".into());
        let report: Vec<ProbeReport> = PROBES
            .iter()
            .enumerate()
            .map(|(i, spec)| ProbeReport {
                spec,
                status: if i % 3 == 0 { ProbeStatus::Skipped("this kernel has no tracepoint".into()) } else { ProbeStatus::Attached },
            })
            .collect();
        let filter = Filter { pod: Some("web-0".into()), ..Filter::default() };
        let start = StartInfo {
            node: "node-1".into(),
            kernel: "6.18".into(),
            cgroup_mount: "/sys/fs/cgroup".into(),
            probes: &report,
            classes: EventClasses::ALL,
            filter: &filter,
            pid: Some(1),
        };
        sink.start(&start).unwrap();
        feed_every_kind(&mut sink);
        feed_http2(&mut sink);
        String::from_utf8(sink.out).unwrap().lines().map(str::to_string).collect()
    }

    /// The fast writer writes exactly what serializing the typed records
    /// gives: read back into them and written again, nothing changes, no
    /// field is lost, none is left unknown.
    #[test]
    fn writes_exactly_the_typed_records() {
        let lines = lines();
        assert!(lines.len() >= 10);
        for line in lines {
            let written: serde_json::Value = serde_json::from_str(&line).unwrap();
            let record: Record = serde_json::from_value(written.clone()).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert_ne!(record, Record::Unknown, "{line}");
            assert_eq!(serde_json::to_value(&record).unwrap(), written, "{line}");
        }
    }

    #[test]
    fn every_record_matches_the_published_schema() {
        let validator = jsonschema::validator_for(&json_schema()).unwrap();
        for line in lines() {
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            let errors: Vec<String> = validator.iter_errors(&value).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{errors:?}: {line}");
        }
    }
}
