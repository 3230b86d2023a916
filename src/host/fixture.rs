//! Fixture trees for tests: a directory laid out as a host's `/` (proc,
//! cgroupfs, runtime state), written file by file, removed on drop.
//! Everything a [`Host`] reads can be given here, without root.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Host;

pub struct Fixture {
    root: PathBuf,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    /// An empty host whose cgroup v2 hierarchy is at /sys/fs/cgroup.
    pub fn new() -> Fixture {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "podtop-host-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("sys/fs/cgroup")).expect("creating the fixture tree");
        let fixture = Fixture { root };
        fixture.write("proc/self/mountinfo", "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev - cgroup2 cgroup2 rw\n");
        fixture
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn host(&self) -> Host {
        Host::at(&self.root)
    }

    /// The host as process `pid` sees it: its /proc/self is `pid`.
    pub fn host_as_pid(&self, pid: u32) -> Host {
        let link = self.root.join("proc/self");
        let _ = fs::remove_dir_all(&link);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(pid.to_string(), &link).expect("linking /proc/self");
        self.host()
    }

    /// Writes `contents` to `relative`, making its directories.
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let path = self.root.join(relative);
        fs::create_dir_all(path.parent().expect("a file in a directory")).expect("creating a fixture directory");
        fs::write(&path, contents).expect("writing a fixture file");
    }

    /// Makes cgroup `path` ("/kubepods.slice/...") and returns its id.
    pub fn cgroup(&self, path: &str) -> u64 {
        let dir = self.root.join("sys/fs/cgroup").join(path.trim_start_matches('/'));
        fs::create_dir_all(&dir).expect("creating a fixture cgroup");
        fs::metadata(dir).expect("a fixture cgroup").ino()
    }

    /// A namespace file: processes given the same name share the namespace (one inode).
    fn namespace(&self, kind: &str, name: &str) -> PathBuf {
        let path = self.root.join("namespaces").join(format!("{kind}-{name}"));
        if !path.exists() {
            self.write(&format!("namespaces/{kind}-{name}"), "");
        }
        path
    }

    /// The id (inode, as u32) a namespace named `name` has.
    pub fn namespace_id(&self, kind: &str, name: &str) -> u32 {
        fs::metadata(self.namespace(kind, name)).expect("a fixture namespace").ino() as u32
    }

    pub fn process(&self, pid: u32) -> FixtureProcess<'_> {
        FixtureProcess { fixture: self, dir: format!("proc/{pid}"), pid }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// /proc/PID of a fixture host, written one file at a time.
pub struct FixtureProcess<'a> {
    fixture: &'a Fixture,
    dir: String,
    pid: u32,
}

impl FixtureProcess<'_> {
    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> &Self {
        self.fixture.write(&format!("{}/{name}", self.dir), contents);
        self
    }

    /// /proc/PID/status as the kernel writes it.
    pub fn status(&self, ppid: u32, uid: u32, gid: u32, effective_capabilities: u64) -> &Self {
        let pid = self.pid;
        self.write(
            "status",
            format!(
                "Name:\tfixture\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{ppid}\n\
                 TracerPid:\t0\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{gid}\t{gid}\t{gid}\t{gid}\nFDSize:\t64\nGroups:\t \n\
                 NStgid:\t{pid}\nNSpid:\t{pid}\nNSpgid:\t{pid}\nNSsid:\t{pid}\nThreads:\t1\nSigQ:\t0/96365\n\
                 SigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\n\
                 SigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\nCapInh:\t0000000000000000\n\
                 CapPrm:\t{effective_capabilities:016x}\nCapEff:\t{effective_capabilities:016x}\n\
                 CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t0\n\
                 voluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t0\n"
            ),
        )
    }

    /// /proc/PID/stat: started `start_ticks` after boot, `cpu_ticks` of CPU used (user).
    pub fn stat(&self, comm: &str, start_ticks: u64, cpu_ticks: u64) -> &Self {
        let pid = self.pid;
        self.write(
            "stat",
            format!(
                "{pid} ({comm}) S 1 {pid} {pid} 0 -1 4194304 100 0 0 0 {cpu_ticks} 0 0 0 20 0 1 0 {start_ticks} 3133440 409 \
                 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
            ),
        )
    }

    pub fn statm(&self, resident_pages: u64) -> &Self {
        self.write("statm", format!("1000 {resident_pages} 300 5 0 90 0\n"))
    }

    pub fn comm(&self, comm: &str) -> &Self {
        self.write("comm", format!("{comm}\n"))
    }

    /// In cgroup v2 `path`, on a hybrid host (a v1 line first, as there).
    pub fn cgroup(&self, path: &str) -> &Self {
        self.write("cgroup", format!("1:name=systemd:/ignored\n0::{path}\n"))
    }

    /// In the network and mount namespaces named `name`.
    pub fn namespaces(&self, name: &str) -> &Self {
        fs::create_dir_all(self.fixture.root.join(&self.dir).join("ns")).expect("creating ns/");
        for kind in ["net", "mnt"] {
            let link = self.fixture.root.join(&self.dir).join("ns").join(kind);
            let _ = fs::remove_file(&link);
            fs::hard_link(self.fixture.namespace(kind, name), link).expect("linking a namespace");
        }
        self
    }

    /// A file of /proc/PID/net (tcp, tcp6, fib_trie, if_inet6).
    pub fn net(&self, table: &str, text: &str) -> &Self {
        self.write(&format!("net/{table}"), text)
    }

    pub fn mountinfo(&self, text: &str) -> &Self {
        self.write("mountinfo", text)
    }

    /// Descriptor `fd`, a socket with inode `inode`.
    pub fn socket(&self, fd: u32, inode: u64) -> &Self {
        self.link_fd(fd, &format!("socket:[{inode}]"));
        self.write(&format!("fdinfo/{fd}"), format!("pos:\t0\nflags:\t02\nmnt_id:\t8\nino:\t{inode}\n"))
    }

    /// Descriptor `fd`, a file opened as `path`, inode `inode` on mount `mount_id`.
    pub fn file(&self, fd: u32, path: &str, mount_id: u64, inode: u64) -> &Self {
        self.link_fd(fd, path);
        self.write(&format!("fdinfo/{fd}"), format!("pos:\t0\nflags:\t0100002\nmnt_id:\t{mount_id}\nino:\t{inode}\n"))
    }

    fn link_fd(&self, fd: u32, target: &str) {
        let dir = self.fixture.root.join(&self.dir).join("fd");
        fs::create_dir_all(&dir).expect("creating fd/");
        std::os::unix::fs::symlink(target, dir.join(fd.to_string())).expect("linking a descriptor");
    }
}
