//! A real container started by a real OCI runtime (runc), named only by what
//! the runtime keeps on the node: podtop reads the pod and container names
//! from the bundle's CRI annotations, and filters on them in the kernel.

mod common;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use podtop::enrich::cgroup_path::QosClass;
use podtop::sandbox::runc::{self, Container, Rootfs};
use podtop::sandbox::PodSpec;
use serde_json::{json, Value};

struct RuncContainer {
    id: String,
    bundle: PathBuf,
    cgroup: String,
}

impl RuncContainer {
    /// A busybox container in a kubelet (cgroupfs driver) layout, with the
    /// annotations containerd's CRI plugin writes (podtop's sandbox).
    fn start(pod_uid: &str, script: &str) -> RuncContainer {
        let id = hex(64);
        let bundle = std::env::temp_dir().join(format!("podtop-runc-{}", &id[..12]));
        let cgroup = format!("/kubepods/besteffort/pod{pod_uid}/{id}");
        let container = RuncContainer { id: id.clone(), bundle: bundle.clone(), cgroup: cgroup.clone() };
        let spec = PodSpec { name: "web-0".into(), namespace: "shop".into(), uid: pod_uid.into(), qos: QosClass::BestEffort };
        let runc_container = Container {
            id,
            name: "app".into(),
            args: vec!["/bin/sh".into(), "-c".into(), script.into()],
            rootfs: Rootfs::Busybox,
            bundle,
            files: Vec::new(),
        };
        runc::run_in(&runc_container, &spec, &cgroup, None).expect("runc starts the container");
        container
    }
}

impl Drop for RuncContainer {
    fn drop(&mut self) {
        runc::remove(&self.id);
        remove_cgroup_tree(&self.cgroup, "/kubepods");
        let _ = fs::remove_dir_all(&self.bundle);
    }
}

#[test]
fn runc_container_is_named_from_its_annotations_and_filtered_in_the_kernel() {
    require_root();
    let pod_uid = format!("{}-{}-{}-{}-{}", hex(8), hex(4), hex(4), hex(4), hex(12));
    let container = RuncContainer::start(
        &pod_uid,
        "while [ ! -e /bin/go ]; do sleep 0.05; done; cat /etc/hostname; /bin/true; exit 3",
    );
    let bystander = Pod::new("bystander");
    // Filtered by the name found in the runtime's metadata, not by id.
    let mut podtop = Podtop::start(&["--container", "app"]);
    bystander.run(&["/bin/true"]);
    std::os::unix::fs::symlink("busybox", container.bundle.join("rootfs/bin/go")).unwrap();
    let exit = podtop.wait_for(Duration::from_secs(10), |r| r["type"] == "exit" && r["exit"]["code"] == 3);
    bystander.run(&["/bin/true"]);
    std::thread::sleep(Duration::from_millis(300));
    let records = podtop.stop();

    let expected_container = json!({"id": container.id, "runtime": "runc", "name": "app"});
    let expected_pod = json!({"uid": pod_uid, "name": "web-0", "namespace": "shop", "qos": "besteffort"});
    assert_eq!(exit["container"], expected_container);
    assert_eq!(exit["pod"], expected_pod);
    assert_eq!(exit["cgroup"]["path"], container.cgroup.as_str());

    let true_exec = of_type(&records, "exec").find(|r| r["exec"]["filename"] == "/bin/true").expect("exec in the container");
    assert_eq!(true_exec["container"], expected_container);
    assert_eq!(true_exec["pod"], expected_pod);
    let cat = of_type(&records, "open")
        .find(|r| r["process"]["comm"] == "cat" && r["file"]["path"] == "/etc/hostname")
        .expect("cat's open of /etc/hostname");
    assert_eq!(cat["container"]["id"], container.id.as_str());
    assert!(cat["file"]["ret"].as_i64().unwrap() >= 0);

    let events: Vec<&Value> = records.iter().filter(|r| !matches!(r["type"].as_str(), Some("start" | "stats" | "sidecars" | "counters"))).collect();
    assert!(!events.is_empty());
    for r in events {
        assert_eq!(r["container"]["id"], container.id.as_str(), "the bystander pod is filtered out in the kernel: {r}");
    }
}

#[test]
fn a_pod_copied_into_a_users_delegated_subtree_is_not_that_pod() {
    require_root();
    let pod_uid = format!("{}-{}-{}-{}-{}", hex(8), hex(4), hex(4), hex(4), hex(12));
    let container = RuncContainer::start(&pod_uid, "sleep 60");
    // nobody's delegated subtree, as systemd gives every user one, holding a
    // copy of the real container's cgroup path: pod uid and container id.
    let delegated = "/user.slice/user-65534.slice/user@65534.service";
    let spoof = format!("{delegated}{}", container.cgroup);
    let root = cgroup2_mount();
    fs::create_dir_all(root.join(spoof.trim_start_matches('/'))).unwrap();
    sh(&format!("chown -R 65534:65534 {}", root.join(delegated.trim_start_matches('/')).display()));
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            remove_cgroup_tree(&self.0, "/user.slice");
        }
    }
    let _cleanup = Cleanup(spoof.clone());

    let mut all = Podtop::start(&[]);
    let mut filtered = Podtop::start(&["--pod", &pod_uid]);
    let procs = root.join(spoof.trim_start_matches('/')).join("cgroup.procs");
    sh(&format!(
        "sh -c 'echo $$ > {} && exec setpriv --reuid=65534 --regid=65534 --clear-groups /bin/echo podtop-spoof-marker' > /dev/null",
        procs.display()
    ));
    // The real container, for contrast: named from its metadata.
    sh(&format!("runc exec {} /bin/true", container.id));
    let spoofed = all.wait_for(Duration::from_secs(10), |r| r["type"] == "exec" && r["exec"]["args"][1] == "podtop-spoof-marker");
    let real = all.wait_for(Duration::from_secs(10), |r| r["type"] == "exec" && r["exec"]["filename"] == "/bin/true" && r["container"]["id"] == container.id.as_str());
    std::thread::sleep(Duration::from_millis(500));
    let filtered_records = filtered.stop();
    all.stop();

    assert_eq!(real["pod"]["uid"], pod_uid.as_str());
    assert_eq!(real["container"]["name"], "app");
    assert_eq!(spoofed["cgroup"]["path"], spoof.as_str());
    assert_eq!(spoofed["pod"], Value::Null, "a user's cgroup is not a pod: {spoofed}");
    assert_eq!(spoofed["container"], Value::Null, "nor the container it copies: {spoofed}");
    assert!(
        !filtered_records.iter().any(|r| r["exec"]["args"][1] == "podtop-spoof-marker"),
        "--pod does not take in the copy"
    );
    assert!(filtered_records.iter().any(|r| r["type"] == "exec" && r["container"]["id"] == container.id.as_str()));
}
