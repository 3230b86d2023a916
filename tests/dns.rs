//! `--events dns`: DNS queries and answers seen from the kernel at both ends,
//! with a real resolver (dnsmasq, answering from a hosts file) in one pod
//! and real clients in another, whose resolv.conf points at it; the names
//! then carried by the connections to the addresses they resolved.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A resolver pod's dnsmasq: answers for *.shop.test from its hosts file,
/// NXDOMAIN for other names under .test, nothing else asked upstream.
fn start_dnsmasq(pod: &Pod, dir: &OpenDir, listen: &str, port: u16, hosts: &str) -> Killed {
    let hosts_file = dir.0.join(format!("hosts-{port}"));
    fs::write(&hosts_file, hosts).unwrap();
    let mut child = pod
        .command(&[
            "dnsmasq",
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            &format!("--addn-hosts={}", hosts_file.display()),
            &format!("--listen-address={listen}"),
            "--bind-interfaces",
            &format!("--port={port}"),
            "--local=/test/",
            "--user=root",
            "--pid-file",
            "--log-facility=-",
            "--log-queries",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Ready once it says it started (it binds before it logs).
    let mut line = String::new();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("started") {
        line.clear();
    }
    assert!(line.contains("started"), "dnsmasq did not start: {line}");
    std::thread::spawn(move || for _ in err.lines() {});
    Killed(child)
}

/// `/etc/netns/<netns>/resolv.conf`: what `ip netns exec` mounts over
/// /etc/resolv.conf for the commands it runs. Removed on drop.
struct Resolver(PathBuf);

impl Resolver {
    fn for_pod(pod: &Pod, nameserver: &str) -> Resolver {
        let dir = PathBuf::from("/etc/netns").join(&pod.netns);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("resolv.conf"), format!("nameserver {nameserver}\noptions attempts:1 timeout:2\n")).unwrap();
        Resolver(dir)
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
        // /etc/netns itself, when no other namespace has files there.
        let _ = fs::remove_dir("/etc/netns");
    }
}

/// Runs `argv` in the pod as `ip netns exec` does (its resolv.conf mounted); returns stdout.
fn resolving(pod: &Pod, argv: &[&str]) -> String {
    let procs = cgroup2_mount().join(pod.container_cgroup.trim_start_matches('/')).join("cgroup.procs");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("echo $$ > {} && exec ip netns exec {} \"$@\"", procs.display(), pod.netns))
        .arg("sh")
        .args(argv)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn dns_records<'a>(records: &'a [Value], pod_uid: &'a str, role: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    of_type(records, "dns").filter(move |r| r["pod"]["uid"] == pod_uid && r["dns"]["role"] == role)
}

/// The one record of (qname, qtype) among `records`; fails on none or several.
fn one<'a>(records: &[&'a Value], qname: &str, qtype: &str) -> &'a Value {
    let found: Vec<&&Value> = records.iter().filter(|r| r["dns"]["qname"] == qname && r["dns"]["qtype"] == qtype).collect();
    assert_eq!(found.len(), 1, "{qname} {qtype}: {found:#?}");
    found[0]
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect()
}

#[test]
fn every_lookup_once_on_each_end_and_its_name_on_the_connection_after() {
    require_root();
    let mut client = Pod::new("d-client");
    let mut resolver = Pod::new("d-resolver");
    link(&mut resolver, &mut client, 93);
    let (dns_addr, dns_addr6) = (resolver.addr.clone().unwrap(), resolver.addr6.clone().unwrap());
    let client_addr = client.addr.clone().unwrap();
    let dir = OpenDir::new("dns");
    let hosts = format!("{dns_addr} api.shop.test\n{dns_addr6} api.shop.test\n10.244.93.7 db.shop.test\n");
    let _dnsmasq = start_dnsmasq(&resolver, &dir, &dns_addr, 53, &hosts);
    let _other_port = start_dnsmasq(&resolver, &dir, &dns_addr, 5353, "10.244.93.8 cache.shop.test\n");
    let _resolv_conf = Resolver::for_pod(&client, &dns_addr);
    // A pod's pause process: what keeps a real pod's namespace, and podtop's
    // view of its address, alive between its short-lived clients.
    let _pause = Killed(client.command(&["sleep", "600"]).spawn().unwrap());
    // Something to connect to at api.shop.test's address.
    let mut tcp = resolver.command(&["python3", &script("counting_server.py"), &dns_addr, "8080"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut ready = String::new();
    BufReader::new(tcp.stdout.as_mut().unwrap()).read_line(&mut ready).unwrap();
    let _tcp = Killed(tcp);

    let mut podtop = Podtop::start(&["--events", "dns", "--interval", "0.5", "--dns-port", "5353"]);
    let mut port_53_only = Podtop::start(&["--events", "dns", "--pod", &client.uid]);

    // glibc: A and AAAA in one sendmmsg on a connected socket, answers by recvfrom.
    let ahosts = resolving(&client, &["getent", "ahosts", "api.shop.test"]);
    assert!(ahosts.contains(&dns_addr) && ahosts.contains(&dns_addr6), "{ahosts}");
    assert_eq!(resolving(&client, &["getent", "ahosts", "missing.shop.test"]), "");
    // python's resolver is glibc's too: getaddrinfo.
    let py = resolving(&client, &["python3", &script("resolve.py"), "db.shop.test"]);
    assert_eq!(py.trim(), "10.244.93.7");
    // An unconnected socket (a stub resolver of its own, as musl's is):
    // sendto and recvfrom, on 53 and on --dns-port 5353.
    let raw_query = script("dns_raw_query.py");
    assert_ne!(client.run(&["python3", &raw_query, &dns_addr, "53", "db.shop.test", "4242"]).trim(), "timeout");
    assert_ne!(client.run(&["python3", &raw_query, &dns_addr, "5353", "cache.shop.test", "4343"]).trim(), "timeout");
    // A query nobody answers (no host has that address): reported unanswered after 5 s.
    assert_eq!(client.run(&["python3", &raw_query, "10.244.93.9", "53", "lost.shop.test", "4444"]).trim(), "timeout");
    // A connection to the address the pod resolved.
    client.run(&["python3", &script("connect.py"), &dns_addr, "8080"]);

    podtop.wait_for(Duration::from_secs(12), |r| r["type"] == "dns" && r["dns"]["qname"] == "lost.shop.test");
    let records = podtop.stop();
    let only_53 = port_53_only.stop();

    let clients: Vec<&Value> = dns_records(&records, &client.uid, "client").collect();
    let servers: Vec<&Value> = dns_records(&records, &resolver.uid, "server").collect();
    let a = one(&clients, "api.shop.test", "A");
    let aaaa = one(&clients, "api.shop.test", "AAAA");
    assert_eq!((a["dns"]["rcode"].as_str(), strings(&a["dns"]["answers"])), (Some("NOERROR"), vec![dns_addr.as_str()]));
    assert_eq!((aaaa["dns"]["rcode"].as_str(), strings(&aaaa["dns"]["answers"])), (Some("NOERROR"), vec![dns_addr6.as_str()]));
    for qtype in ["A", "AAAA"] {
        let nx = one(&clients, "missing.shop.test", qtype);
        assert_eq!((nx["dns"]["rcode"].as_str(), strings(&nx["dns"]["answers"])), (Some("NXDOMAIN"), vec![]), "{nx}");
    }
    let db: Vec<&&Value> = clients.iter().filter(|r| r["dns"]["qname"] == "db.shop.test").collect();
    assert_eq!(db.len(), 2, "getaddrinfo's A, and the raw query: {db:#?}");
    for r in &db {
        assert_eq!((r["dns"]["rcode"].as_str(), strings(&r["dns"]["answers"])), (Some("NOERROR"), vec!["10.244.93.7"]), "{r}");
    }
    let raw = db.iter().find(|r| r["dns"]["id"] == 4242).expect("the unconnected socket's query");
    assert_eq!((raw["net"]["daddr"].as_str(), raw["net"]["dport"].as_u64()), (Some(dns_addr.as_str()), Some(53)));
    assert_eq!(raw["process"]["comm"], "python3");
    let cache = one(&clients, "cache.shop.test", "A");
    assert_eq!((cache["net"]["dport"].as_u64(), strings(&cache["dns"]["answers"])), (Some(5353), vec!["10.244.93.8"]));
    let lost = one(&clients, "lost.shop.test", "A");
    assert!(lost["dns"]["rcode"].is_null() && lost["dns"]["latency_ns"].is_null(), "{lost}");

    for r in &clients {
        assert_eq!(r["container"]["id"], client.container_id.as_str(), "{r}");
        let answered = !r["dns"]["rcode"].is_null();
        let latency = r["dns"]["latency_ns"].as_u64();
        assert!(!answered || latency.is_some_and(|ns| ns > 0 && ns < 1_000_000_000), "{r}");
        assert!(r["dns"]["query_bytes"].as_u64().unwrap() > 12, "{r}");
        if r["net"]["daddr"] == dns_addr.as_str() {
            assert_eq!(r["peer"]["pod"]["uid"], resolver.uid.as_str(), "{r}");
        }
    }
    // The resolver's end: one record per query it answered, the client named as its peer.
    let answered: Vec<&&Value> = clients.iter().filter(|r| !r["dns"]["rcode"].is_null()).collect();
    assert_eq!(servers.len(), answered.len(), "server records: {servers:#?}");
    for c in answered {
        let s = servers
            .iter()
            .find(|s| s["dns"]["id"] == c["dns"]["id"] && s["dns"]["qtype"] == c["dns"]["qtype"] && s["dns"]["qname"] == c["dns"]["qname"])
            .unwrap_or_else(|| panic!("no server record of {c}"));
        assert_eq!((s["dns"]["rcode"].as_str(), &s["dns"]["answers"]), (c["dns"]["rcode"].as_str(), &c["dns"]["answers"]));
        assert_eq!((s["net"]["daddr"].as_str(), s["net"]["dport"].as_u64()), (Some(client_addr.as_str()), c["net"]["sport"].as_u64()), "{s}");
        assert_eq!((s["dns"]["query_bytes"].as_u64(), s["dns"]["answer_bytes"].as_u64()), (c["dns"]["query_bytes"].as_u64(), c["dns"]["answer_bytes"].as_u64()));
        assert_eq!(s["peer"]["pod"]["uid"], client.uid.as_str(), "{s}");
    }

    // The connection to api.shop.test's address carries the name on its connect and close.
    let to_api: Vec<&Value> =
        of_type(&records, "connect").chain(of_type(&records, "close")).filter(|r| r["pod"]["uid"] == client.uid && r["net"]["dport"] == 8080).collect();
    assert_eq!(to_api.len(), 2, "{to_api:#?}");
    assert!(to_api.iter().all(|r| r["net"]["dname"] == "api.shop.test"), "{to_api:#?}");
    // The server's end of it did not look anything up.
    assert!(of_type(&records, "accept").all(|r| r["net"].get("dname").is_none()));

    // Without --dns-port 5353, port 5353 is not DNS to podtop.
    assert!(of_type(&only_53, "dns").any(|r| r["dns"]["qname"] == "db.shop.test"));
    assert!(!of_type(&only_53, "dns").any(|r| r["dns"]["qname"] == "cache.shop.test"));
    assert!(podtop.stderr().contains(" 0 lost"), "{}", podtop.stderr());
}

#[test]
fn too_many_dns_ports_is_one_clear_line() {
    let out = Command::new(PODTOP)
        .args(["--json", "--events", "dns", "--dns-port", "1", "--dns-port", "2", "--dns-port", "3", "--dns-port", "4"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", said(&out));
    assert_eq!(stderr.trim(), "podtop: --dns-port: at most 3 ports besides 53", "{stderr}");
}
