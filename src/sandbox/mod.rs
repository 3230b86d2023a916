//! Kubelet-shaped pods on this machine, without a kubelet: the demo's
//! node, the integration tests' pods and the benchmark's are all made here.
//!
//! A pod is a pod cgroup where kubelet's systemd driver makes one
//! (`/kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid>.slice`),
//! a network namespace of its own, and containers: bare cgroups that a
//! command joins (`cri-containerd-<id>.scope`), or real runc containers
//! whose bundles carry the annotations containerd's CRI plugin writes, so
//! that podtop names them as it would on a real node. Dropping a pod kills
//! what runs in it and removes its containers, cgroups (in every hierarchy)
//! and namespace; nothing outlives it, also when a test fails half-way.

pub mod cgroups;
pub mod net;
pub mod runc;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::enrich::cgroup_path::QosClass;

/// Who a pod is, as kubelet and the API server name it.
#[derive(Debug, Clone)]
pub struct PodSpec {
    pub name: String,
    pub namespace: String,
    /// With dashes, as the API server writes it.
    pub uid: String,
    pub qos: QosClass,
}

impl PodSpec {
    /// The pod's cgroup, as kubelet's systemd driver makes it.
    pub fn cgroup(&self) -> String {
        let uid = self.uid.replace('-', "_");
        match self.qos {
            QosClass::Guaranteed => format!("/kubepods.slice/kubepods-pod{uid}.slice"),
            qos => {
                let q = qos.name();
                format!("/kubepods.slice/kubepods-{q}.slice/kubepods-{q}-pod{uid}.slice")
            }
        }
    }

    /// A container's cgroup in this pod, as containerd's CRI plugin makes it.
    pub fn container_cgroup(&self, id: &str) -> String {
        format!("{}/cri-containerd-{id}.scope", self.cgroup())
    }
}

/// A random lowercase hex string of `len` characters.
pub fn random_hex(len: usize) -> String {
    let mut out = String::new();
    while out.len() < len {
        let uuid = fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap_or_default();
        out.extend(uuid.chars().filter(char::is_ascii_hexdigit));
    }
    out.truncate(len);
    out
}

/// A random pod UID, in the API server's format.
pub fn random_uid() -> String {
    let h = random_hex(32);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// A pod on this machine; dropping it removes everything it holds.
pub struct Pod {
    pub spec: PodSpec,
    /// Its network namespace (`ip netns` name, /run/netns/<name>).
    pub netns: String,
    /// The cgroup v2 root, where its cgroups live.
    cgroup_root: PathBuf,
    /// Container cgroups made, relative to the root.
    container_cgroups: Vec<String>,
    /// runc containers started, by id.
    runc_containers: Vec<String>,
}

impl Pod {
    /// The pod's cgroup and its own network namespace, loopback up.
    pub fn create(spec: PodSpec, netns: &str) -> Result<Pod> {
        let cgroup_root = crate::host::Host::live().cgroupfs().map(|c| c.mount().to_path_buf()).context("no cgroup2 mount: pods need cgroup v2")?;
        let pod = Pod {
            spec,
            netns: netns.to_string(),
            cgroup_root,
            container_cgroups: Vec::new(),
            runc_containers: Vec::new(),
        };
        fs::create_dir_all(pod.path_of(&pod.spec.cgroup())).context("creating the pod's cgroup")?;
        net::add_namespace(netns)?;
        Ok(pod)
    }

    /// Where a cgroup of this pod lives in the cgroup v2 tree.
    pub fn path_of(&self, relative: &str) -> PathBuf {
        self.cgroup_root.join(relative.trim_start_matches('/'))
    }

    /// A bare container cgroup (no runtime), for commands to join.
    pub fn add_container_cgroup(&mut self, id: &str) -> Result<String> {
        let relative = self.spec.container_cgroup(id);
        fs::create_dir_all(self.path_of(&relative)).context("creating a container's cgroup")?;
        self.container_cgroups.push(relative.clone());
        Ok(relative)
    }

    /// A command that runs `argv` in one of the pod's container cgroups and
    /// in its network namespace: a shell joins the cgroup, then execs.
    pub fn command(&self, container_cgroup: &str, argv: &[&str]) -> Command {
        let procs = self.path_of(container_cgroup).join("cgroup.procs");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("echo $$ > {} && exec nsenter --net=/run/netns/{} \"$@\"", procs.display(), self.netns))
            .arg("sh")
            .args(argv);
        cmd
    }

    /// A real container, started by runc in this pod's namespace and cgroup.
    pub fn run_container(&mut self, container: &runc::Container) -> Result<()> {
        let cgroup = self.spec.container_cgroup(&container.id);
        self.runc_containers.push(container.id.clone());
        self.container_cgroups.push(cgroup.clone());
        runc::run(container, &self.spec, &cgroup, &self.netns)
    }

    /// CPU time used by everything in the pod so far, in microseconds.
    pub fn cpu_usec(&self) -> u64 {
        cgroups::cpu_usec(&self.path_of(&self.spec.cgroup()))
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        for id in self.runc_containers.drain(..).rev() {
            runc::remove(&id);
        }
        for cgroup in self.container_cgroups.drain(..).rev() {
            cgroups::remove(&cgroup, "/kubepods.slice");
        }
        cgroups::remove(&self.spec.cgroup(), "/kubepods.slice");
        net::delete_namespace(&self.netns);
    }
}

/// Whether `program` can be run from PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program))))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
