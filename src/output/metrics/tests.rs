//! The metrics as Prometheus scrapes them, from every kind of record; the
//! bounds on what is exported.

use super::*;
use crate::records::fixtures::{backend_pod, feed_every_kind, feed_http2, pod_owner};

#[test]
fn every_record_kind_becomes_series_with_the_owners_labels() {
    let metrics = Arc::new(Metrics::new().unwrap());
    let mut sink = MetricsSink::new(metrics.clone(), "node-1".into(), 100, Duration::from_secs(300));
    feed_every_kind(&mut sink);
    feed_http2(&mut sink);
    let text = String::from_utf8(metrics.encode()).unwrap();
    let pod = pod_owner();
    let uid = &pod.pod.as_ref().unwrap().uid;
    let line = |prefix: &str| text.lines().find(|l| l.starts_with(prefix) && l.contains(uid.as_str())).unwrap_or_else(|| panic!("{prefix}:\n{text}")).to_string();
    let tx = text.lines().find(|l| l.starts_with("podtop_tcp_bytes_total{") && l.contains(r#"direction="tx""#)).unwrap();
    assert!(tx.contains(r#"scope="boundary""#) && tx.ends_with(" 1000"), "{tx}");
    assert!(line("podtop_execs_total{").ends_with(" 1"));
    assert!(line("podtop_sidecar_cpu_cores{").ends_with(" 0.0125"));
    let relayed_tx = text.lines().find(|l| l.starts_with("podtop_sidecar_relayed_bytes_total{") && l.contains(r#"direction="tx""#));
    assert!(relayed_tx.is_some_and(|l| l.ends_with(" 104")), "{text}");
    assert!(text.contains(r#"podtop_events_seen_total{kind="exec",node="node-1"} 3"#), "{text}");
    assert!(text.contains(r#"podtop_counters_dropped_total{map="udp",node="node-1"} 1"#), "{text}");
    assert!(text.contains(r#"podtop_table_entries{node="node-1",table="file_names"} 65536"#), "{text}");
    assert!(text.contains(r#"podtop_table_capacity{node="node-1",table="peer_connections"} 65536"#), "{text}");
    assert!(text.contains(r#"podtop_table_evicted_total{node="node-1",table="file_names"} 1200"#), "{text}");
    // The fixtures' requests: one answered 200 in 2.5 ms, one never answered;
    // a gRPC call answered NOT_FOUND, and a stream reset before its answer.
    let http: Vec<&str> = text.lines().filter(|l| l.starts_with("podtop_http_requests_total{")).collect();
    let plain = r#"grpc_status="""#;
    assert!(http.iter().any(|l| l.contains(r#"role="client""#) && l.contains(r#"status_class="2xx""#) && l.contains(plain) && l.ends_with(" 1")), "{http:?}");
    assert!(http.iter().any(|l| l.contains(r#"status_class="none""#) && l.contains(plain) && l.ends_with(" 2")), "{http:?}");
    assert!(http.iter().any(|l| l.contains(r#"status_class="2xx""#) && l.contains(r#"grpc_status="NOT_FOUND""#) && l.ends_with(" 1")), "{http:?}");
    assert_eq!(http.len(), 3, "{http:?}");
    assert!(text.lines().any(|l| l.starts_with("podtop_http_request_duration_seconds_bucket{") && l.contains(r#"le="0.005""#) && l.ends_with(" 2")), "{text}");
    // Its two lookups: one answered in 180 µs, one never.
    let dns: Vec<&str> = text.lines().filter(|l| l.starts_with("podtop_dns_queries_total{")).collect();
    assert!(dns.iter().any(|l| l.contains(r#"role="client""#) && l.contains(r#"rcode="NOERROR""#) && l.ends_with(" 1")), "{dns:?}");
    assert!(dns.iter().any(|l| l.contains(r#"rcode="none""#) && l.ends_with(" 1")), "{dns:?}");
    let under = |le: &str| text.lines().find(|l| l.starts_with("podtop_dns_request_duration_seconds_bucket{") && l.contains(&format!("le=\"{le}\""))).unwrap().to_string();
    assert!(under("0.0001").ends_with(" 0") && under("0.00025").ends_with(" 1"), "{text}");
    for label in OWNER {
        assert!(line("podtop_opens_total{").contains(&format!("{label}=\"")), "{label}");
    }
}

/// deploy/grafana-dashboard.json is imported as is: every metric its
/// queries name must be one podtop exports.
#[test]
fn the_grafana_dashboard_queries_only_exported_metrics() {
    let metrics = Arc::new(Metrics::new().unwrap());
    // A cap of one cgroup, so that the dropped-cgroups counter exists too.
    let mut sink = MetricsSink::new(metrics.clone(), "n".into(), 1, Duration::from_secs(300));
    feed_every_kind(&mut sink);
    // Counters are exported from their first increment: one of each.
    let mut one_of_each = CgroupCounters::default();
    for (name, _) in CgroupCounters::default().fields() {
        one_of_each.set(name, 1);
    }
    sink.counters(&CountersRecord { unix_ns: 0, owner: &pod_owner(), delta: one_of_each }).unwrap();
    let second = crate::records::fixtures::host_owner();
    sink.counters(&CountersRecord { unix_ns: 0, owner: &second, delta: one_of_each }).unwrap();
    let exported: HashSet<String> = metrics.registry.gather().iter().map(|family| family.name().to_string()).collect();

    let dashboard: serde_json::Value = serde_json::from_str(include_str!("../../../deploy/grafana-dashboard.json")).expect("valid JSON");
    // Grafana lays panels on a 24-column grid of whole numbers.
    for panel in dashboard["panels"].as_array().expect("panels") {
        let grid = &panel["gridPos"];
        let cell = |k: &str| grid[k].as_u64().unwrap_or_else(|| panel_error(panel, k));
        assert!(cell("x") + cell("w") <= 24 && cell("h") > 0, "{}: off the grid", panel["title"]);
        cell("y");
    }
    let mut queries = Vec::new();
    collect_queries(&dashboard, &mut queries);
    let named: HashSet<&str> = queries
        .iter()
        .flat_map(|q| q.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|word| word.starts_with("podtop_"))
        .collect();
    // A histogram's series are its family's name with _bucket, _sum or _count.
    let family = |name: &str| ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name).to_string();
    let unknown: Vec<_> = named.iter().filter(|name| !exported.contains(**name) && !exported.contains(&family(name))).collect();
    assert!(unknown.is_empty(), "the dashboard queries metrics podtop does not export: {unknown:?}");
    for wanted in ["podtop_tcp_bytes_total", "podtop_sidecar_added_latency_seconds", "podtop_cpu_cores", "podtop_events_lost_total"] {
        assert!(named.contains(wanted), "the dashboard shows no {wanted}");
    }
}

fn panel_error(panel: &serde_json::Value, key: &str) -> u64 {
    panic!("{}: gridPos.{key} is not a whole number: {}", panel["title"], panel["gridPos"])
}

/// Every `expr` (panel queries) and `definition` (variables) in the dashboard.
fn collect_queries(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr" | "definition", serde_json::Value::String(q)) => out.push(q.clone()),
                    _ => collect_queries(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_queries(v, out)),
        _ => {}
    }
}

#[test]
fn every_series_of_a_quiet_cgroup_leaves_requests_too() {
    let metrics = Arc::new(Metrics::new().unwrap());
    let mut sink = MetricsSink::new(metrics.clone(), "n".into(), 100, Duration::from_millis(50));
    feed_every_kind(&mut sink);
    feed_http2(&mut sink);
    let series = |prefix: &str| String::from_utf8(metrics.encode()).unwrap().lines().filter(|l| l.starts_with(prefix) && l.contains("pod_uid")).count();
    assert!(series("podtop_http_requests_total{") == 3 && series("podtop_http_request_duration_seconds_count{") == 1);
    assert!(series("podtop_dns_queries_total{") == 2 && series("podtop_dns_request_duration_seconds_count{") == 1);
    std::thread::sleep(Duration::from_millis(60));
    sink.stats(0, &Stats::default()).unwrap();
    for prefix in ["podtop_http_requests_total{", "podtop_http_request_duration_seconds", "podtop_dns_", "podtop_execs_total{", "podtop_sidecar_"] {
        assert_eq!(series(prefix), 0, "{prefix} left with its cgroup");
    }
}

#[test]
fn label_values_carry_no_character_that_steers_a_terminal() {
    let metrics = Arc::new(Metrics::new().unwrap());
    let mut sink = MetricsSink::new(metrics.clone(), "n".into(), 10, Duration::from_secs(300));
    let owner = backend_pod().pod_name("web\u{1b}]0;owned\u{7}\u{202e}gpj.exe\u{9b}31m").namespace("shop\r\nfake_metric 1").build();
    sink.counters(&CountersRecord { unix_ns: 0, owner: &owner, delta: CgroupCounters { execs: 1, ..Default::default() } }).unwrap();
    let text = String::from_utf8(metrics.encode()).unwrap();
    let line = text.lines().find(|l| l.starts_with("podtop_execs_total{")).expect(&text);
    for c in ['\u{1b}', '\u{7}', '\u{202e}', '\u{9b}', '\r'] {
        assert!(!text.contains(c), "{c:?} in {line}");
    }
    assert!(line.contains("pod=\"web\u{fffd}]0;owned\u{fffd}\u{fffd}gpj.exe\u{fffd}31m\""), "{line}");
    assert!(!text.lines().any(|l| l.starts_with("fake_metric")), "no line of its own from a label: {text}");
}

#[test]
fn cgroups_past_the_cap_are_counted_and_quiet_ones_leave() {
    let metrics = Arc::new(Metrics::new().unwrap());
    let mut sink = MetricsSink::new(metrics.clone(), "n".into(), 1, Duration::from_millis(50));
    let pod = pod_owner();
    let host = crate::records::fixtures::host_owner();
    let delta = CgroupCounters { execs: 2, ..Default::default() };
    sink.counters(&CountersRecord { unix_ns: 0, owner: &pod, delta }).unwrap();
    sink.counters(&CountersRecord { unix_ns: 0, owner: &host, delta }).unwrap();
    sink.counters(&CountersRecord { unix_ns: 0, owner: &host, delta }).unwrap();
    let text = String::from_utf8(metrics.encode()).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("podtop_execs_total{")).count(), 1, "{text}");
    assert!(text.contains(r#"podtop_metrics_cgroups_dropped_total{node="n"} 1"#), "one cgroup refused, twice: {text}");
    std::thread::sleep(Duration::from_millis(60));
    sink.stats(0, &Stats::default()).unwrap();
    let text = String::from_utf8(metrics.encode()).unwrap();
    assert!(!text.lines().any(|l| l.starts_with("podtop_execs_total{")), "the quiet pod left:\n{text}");
    assert!(text.contains(r#"podtop_metrics_cgroups{node="n"} 0"#), "{text}");
}
