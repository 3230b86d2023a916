//! Enrichment of a whole node, read from a fixture tree (no root, none of
//! this machine's processes): a kubelet pod with containerd's metadata, its
//! network namespace and listener, a file its process has open.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::json;

use super::files::{FileKey, FilePaths};
use super::listeners;
use super::Enricher;
use crate::host::fixture::Fixture;

const CONTAINER: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const POD_SLICE: &str = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_0000_1111_2222_333344445555.slice";

fn container_cgroup() -> String {
    format!("{POD_SLICE}/cri-containerd-{CONTAINER}.scope")
}

/// One pod (container `api` of pod shop/backend-7d4b9) whose process 200
/// listens on port 8080 with 10.244.1.7, next to the host's process 1.
fn node() -> (Fixture, u64, u64) {
    let fixture = Fixture::new();
    let pod_id = fixture.cgroup(POD_SLICE);
    let container_id = fixture.cgroup(&container_cgroup());
    fixture.cgroup("/init.scope");
    fixture.write(
        &format!("run/containerd/io.containerd.runtime.v2.task/k8s.io/{CONTAINER}/config.json"),
        json!({"ociVersion": "1.1.0", "annotations": {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.container-name": "api",
            "io.kubernetes.cri.sandbox-name": "backend-7d4b9",
            "io.kubernetes.cri.sandbox-namespace": "shop",
            "io.kubernetes.cri.sandbox-uid": "1a2b3c4d-0000-1111-2222-333344445555"}})
        .to_string(),
    );
    fixture.process(1).status(0, 0, 0, 0).comm("systemd").cgroup("/init.scope").namespaces("host");
    let listen = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
                  0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0\n";
    let fib_trie = "Local:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.244.1.7\n        /32 host LOCAL\n     |-- 127.0.0.1\n        /32 host LOCAL\n";
    // A pre-fork server: parent 200 and child 201 share the listening socket.
    for pid in [200, 201] {
        fixture
            .process(pid)
            .status(if pid == 200 { 1 } else { 200 }, 65534, 65534, 0)
            .comm("api")
            .cgroup(&container_cgroup())
            .namespaces("pod")
            .net("tcp", listen)
            .net("fib_trie", fib_trie)
            .socket(3, 31337)
            .mountinfo("29 1 254:1 / / rw - ext4 /dev/vda1 rw\n");
    }
    fixture.process(200).file(4, "/var/log/api.log", 29, 777);
    (fixture, pod_id, container_id)
}

#[test]
fn names_a_pods_container_from_the_runtimes_state() {
    let (fixture, pod_id, container_id) = node();
    let host = fixture.host();
    let mut enricher = Enricher::new(host.clone(), host.cgroupfs());
    let who = enricher.attribution(container_id);
    assert_eq!(who.cgroup_path.as_deref(), Some(container_cgroup().as_str()));
    let container = who.container.as_ref().unwrap();
    assert_eq!((container.id.as_str(), container.name.as_deref()), (CONTAINER, Some("api")));
    let pod = who.pod.as_ref().unwrap();
    assert_eq!((pod.name.as_deref(), pod.namespace.as_deref()), (Some("backend-7d4b9"), Some("shop")));
    // The pod's own cgroup has no metadata of its own: its names come from its container.
    let pod_level = enricher.attribution(pod_id);
    assert!(pod_level.container.is_none());
    assert_eq!(pod_level.pod.as_ref().unwrap().name.as_deref(), Some("backend-7d4b9"));
}

#[test]
fn finds_listeners_and_their_owner() {
    let (fixture, _, container_id) = node();
    let host = fixture.host();
    let found = listeners::scan(&host);
    let netns = fixture.namespace_id("net", "pod");
    assert_eq!(found, vec![listeners::Listener { netns, port: 8080, pid: 200 }], "the parent of the pre-fork server");
    let who = listeners::identity_of(&host, 200, &host.cgroupfs().unwrap()).unwrap();
    assert_eq!((who.cgroup_id, who.pid, who.ppid, who.uid, who.netns), (container_id, 200, 1, 65534, netns));
    assert_eq!(&who.comm[..4], &[b'a' as i8, b'p' as i8, b'i' as i8, 0]);
}

#[test]
fn knows_which_namespace_owns_an_address() {
    let (fixture, _, container_id) = node();
    let host = fixture.host();
    let mut enricher = Enricher::new(host.clone(), host.cgroupfs());
    let pod_netns = fixture.namespace_id("net", "pod");
    assert_eq!(enricher.netns.host_netns(), fixture.namespace_id("net", "host"));
    assert_eq!(enricher.netns.owner_of(IpAddr::V4(Ipv4Addr::new(10, 244, 1, 7))), Some(pod_netns));
    assert_eq!(enricher.netns.owner_of(IpAddr::V4(Ipv4Addr::LOCALHOST)), None, "loopback names no one");
    assert!(enricher.netns.is_local(pod_netns, IpAddr::V4(Ipv4Addr::new(10, 244, 1, 7))));
    assert!(enricher.netns.members(pod_netns).iter().any(|m| m.cgroup_id == container_id));
}

#[test]
fn names_an_open_file_from_its_descriptor() {
    let (fixture, _, _) = node();
    let mut paths = FilePaths::new(fixture.host());
    let dev = (254 << 20) | 1;
    let mntns = fixture.namespace_id("mnt", "pod");
    assert_eq!(paths.path_of(FileKey { mntns, dev, ino: 777 }, 200).as_deref(), Some(&b"/var/log/api.log"[..]));
    assert_eq!(paths.path_of(FileKey { mntns, dev: dev + 1, ino: 777 }, 200), None, "same inode on another device is another file");
}

/// A pod whose author put ESC, BEL, a C1 CSI and a right-to-left override in
/// its names: what podtop enriches with, and the JSON it writes, carry none
/// of them raw, and the visible rest of each name is kept.
#[test]
fn names_from_a_forged_runtime_state_steer_no_terminal() {
    use crate::enrich::printable::is_disguising;
    use crate::output::JsonSink;
    use crate::records::{CountersRecord, Sink};

    let fixture = Fixture::new();
    let container_id = fixture.cgroup(&container_cgroup());
    let hostile_pod = "web\u{1b}[2J\u{7}-\u{9b}31m\u{202e}exe.txt";
    fixture.write(
        &format!("run/containerd/io.containerd.runtime.v2.task/k8s.io/{CONTAINER}/config.json"),
        json!({"ociVersion": "1.1.0", "annotations": {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.container-name": "api\u{85}\u{2066}",
            "io.kubernetes.cri.sandbox-name": hostile_pod,
            "io.kubernetes.cri.sandbox-namespace": "shop\u{7f}\u{200f}",
            "io.kubernetes.cri.sandbox-uid": "1a2b3c4d-0000-1111-2222-333344445555"}})
        .to_string(),
    );
    let host = fixture.host();
    let mut enricher = Enricher::new(host.clone(), host.cgroupfs());
    let who = enricher.attribution(container_id);
    let pod = who.pod.as_ref().unwrap();
    let names = [who.container.as_ref().unwrap().name.as_deref(), pod.name.as_deref(), pod.namespace.as_deref()];
    assert_eq!(names, [Some("api\u{fffd}\u{fffd}"), Some("web\u{fffd}[2J\u{fffd}-\u{fffd}31m\u{fffd}exe.txt"), Some("shop\u{fffd}\u{fffd}")]);

    let mut sink = JsonSink::new(Vec::new(), "node-1".into());
    sink.counters(&CountersRecord { unix_ns: 1, owner: &who, delta: Default::default() }).unwrap();
    let written = String::from_utf8(sink.into_inner()).unwrap();
    let line = written.strip_suffix('\n').unwrap();
    assert!(!line.chars().any(is_disguising), "{line:?}");
    let record: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(record["pod"]["name"], "web\u{fffd}[2J\u{fffd}-\u{fffd}31m\u{fffd}exe.txt");
    assert_eq!(record["container"]["name"], "api\u{fffd}\u{fffd}");
}
