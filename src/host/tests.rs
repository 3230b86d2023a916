//! The host seam on fixture trees: what each reader makes of the kernel's
//! formats, and which host a fixture's paths are read from.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use super::fixture::Fixture;
use super::process::{parse_fdinfo, parse_fib_trie, parse_if_inet6};
use super::*;

/// Listening sockets of a net/tcp text, through a fixture process.
fn fixture_tcp(text: &str) -> Vec<(u64, u16)> {
    let fixture = Fixture::new();
    fixture.process(10).net("tcp", text);
    fixture.host().process(10).tcp_listeners()
}

#[test]
fn node_facts() {
    let fixture = Fixture::new();
    fixture.write("proc/sys/kernel/hostname", "node-7\n");
    fixture.write("proc/sys/kernel/osrelease", "6.1.0-50-cloud-amd64\n");
    fixture.write("proc/sys/kernel/bpf_stats_enabled", "1\n");
    fixture.write("proc/stat", "cpu  1 0 1 1 0 0 0 0 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\nintr 1 0\nctxt 5\nbtime 1795937112\nprocesses 9\nprocs_running 1\nprocs_blocked 0\nsoftirq 1 0 0 0 0 0 0 0 0 0 0\n");
    let host = fixture.host();
    assert_eq!(host.node_name(), "node-7");
    assert_eq!(host.kernel_release(), "6.1.0-50-cloud-amd64");
    assert!(host.bpf_stats_enabled());
    assert_eq!(host.boot_time_unix_ns(), Some(1_795_937_112_000_000_000));
    let empty = Fixture::new().host();
    assert_eq!((empty.node_name(), empty.kernel_release(), empty.bpf_stats_enabled()), (String::new(), String::new(), false));
    assert_eq!(empty.boot_time_unix_ns(), None);
}

#[test]
fn finds_cgroup2_in_hybrid_and_pure_mountinfo() {
    let fixture = Fixture::new();
    let cgroup2_of = |mountinfo: &str| {
        fixture.write("proc/self/mountinfo", mountinfo);
        fixture.host().cgroupfs().map(|c| c.mount().strip_prefix(fixture.root()).unwrap().to_path_buf())
    };
    let hybrid = "\
35 24 0:30 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
37 35 0:32 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd";
    assert_eq!(cgroup2_of(hybrid), Some(PathBuf::from("sys/fs/cgroup/unified")));
    let pure = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw";
    assert_eq!(cgroup2_of(pure), Some(PathBuf::from("sys/fs/cgroup")));
    assert_eq!(cgroup2_of("1 0 0:1 / / rw - ext4 /dev/vda rw"), None);
    let escaped = r"36 35 0:31 / /mnt/my\040cgroups rw - cgroup2 cgroup2 rw";
    assert_eq!(cgroup2_of(escaped), Some(PathBuf::from("mnt/my cgroups")));
}

#[test]
fn the_live_host_reads_from_slash() {
    let host = Host::live();
    assert_eq!(host.path("/proc/self"), PathBuf::from("/proc/self"));
    assert_eq!(host.process(std::process::id()).status().map(|s| s.ppid), Some(std::os::unix::process::parent_id()));
    assert!(host.pids().contains(&std::process::id()));
}

#[test]
fn a_process_as_proc_shows_it() {
    let fixture = Fixture::new();
    let pod = fixture.cgroup("/kubepods.slice/kubepods-pod1.slice");
    fixture
        .process(42)
        .status(7, 1000, 1001, 0x3)
        .stat("api server", 12_345, 250)
        .statm(321)
        .comm("api")
        .cgroup("/kubepods.slice/kubepods-pod1.slice")
        .namespaces("pod1");
    fixture.process(43).namespaces("pod1");
    fixture.process(44).namespaces("host");
    let host = fixture.host();
    let process = host.process(42);
    assert_eq!(process.status(), Some(ProcessStatus { ppid: 7, uid: 1000, gid: 1001, effective_capabilities: 3 }));
    assert_eq!(process.comm().as_deref(), Some("api"));
    assert_eq!(process.start_ticks(), Some(12_345), "a comm with a space does not shift the fields");
    assert_eq!(process.cpu_ticks(), Some(250));
    assert_eq!(process.resident_pages(), Some(321));
    assert_eq!(process.cgroup_path().as_deref(), Some("/kubepods.slice/kubepods-pod1.slice"), "the v2 line, not the v1 one");
    assert_eq!(process.cgroup_id(&host.cgroupfs().unwrap()), Some(pod));
    assert_eq!(process.netns(), Some(fixture.namespace_id("net", "pod1")));
    assert_eq!(process.netns(), host.process(43).netns(), "one namespace, one id");
    assert_ne!(process.netns(), host.process(44).netns());
    assert_eq!(host.pids(), vec![42, 43, 44]);
    let gone = host.process(99);
    assert_eq!((gone.status(), gone.comm(), gone.start_ticks(), gone.netns()), (None, None, None, None));
    assert!(gone.fds().is_empty() && gone.tcp_listeners().is_empty() && gone.local_addresses().is_empty());
}

#[test]
fn descriptors_named_from_the_kernels_tables() {
    let fixture = Fixture::new();
    fixture.process(5).socket(3, 31337).file(4, "/var/log/app.log", 29, 1234567);
    let process = fixture.host().process(5);
    let mut fds = process.fds();
    fds.sort();
    assert_eq!(fds, vec![3, 4]);
    assert_eq!(process.socket_inode(3), Some(31337));
    assert_eq!(process.socket_inode(4), None, "a file is no socket");
    assert_eq!(process.open_file(4), Some(OpenFile { mount_id: 29, inode: 1234567 }));
    assert_eq!(process.fd_path(4).as_deref(), Some(&b"/var/log/app.log"[..]));
}

#[test]
fn local_addresses_of_both_families() {
    let fixture = Fixture::new();
    fixture
        .process(8)
        .net("fib_trie", "Local:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.244.1.7\n        /32 host LOCAL\n")
        .net("if_inet6", "fd000000000000000000000000000002 02 40 00 80     eth0\n");
    assert_eq!(
        fixture.host().process(8).local_addresses(),
        vec![IpAddr::V4(Ipv4Addr::new(10, 244, 1, 7)), IpAddr::V6("fd00::2".parse().unwrap())]
    );
}

    #[test]
    fn local_v4_addresses_from_fib_trie() {
        let text = "\
Main:
  +-- 0.0.0.0/0 3 0 5
     +-- 10.244.1.0/24 2 0 2
        |-- 10.244.1.0
           /24 link UNICAST
        |-- 10.244.1.7
           /32 host LOCAL
     |-- 127.0.0.1
        /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 10.244.1.7
        /32 host LOCAL
     |-- 10.244.1.255
        /32 link BROADCAST
";
        let addrs = parse_fib_trie(text);
        assert_eq!(addrs, vec![Ipv4Addr::new(10, 244, 1, 7), Ipv4Addr::new(127, 0, 0, 1)]);
    }

    #[test]
    fn v6_addresses_from_if_inet6() {
        let text = "00000000000000000000000000000001 01 80 10 80       lo\n\
                    fd000000000000000000000000000002 02 40 00 80     eth0\n";
        let addrs = parse_if_inet6(text);
        assert_eq!(addrs, vec![Ipv6Addr::LOCALHOST, "fd00::2".parse::<Ipv6Addr>().unwrap()]);
    }

    #[test]
    fn listening_sockets_from_proc_net_tcp() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:8AE2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 31338 1 0000000000000000 20 4 30 10 -1
";
        assert_eq!(fixture_tcp(text), vec![(31337, 8080)]);
        let v6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
";
        assert_eq!(fixture_tcp(v6), vec![(4242, 443)]);
    }

    #[test]
    fn fdinfo_gives_mount_and_inode() {
        let text = "pos:\t0\nflags:\t0100002\nmnt_id:\t29\nino:\t1234567\n";
        assert_eq!(parse_fdinfo(text), Some((29, 1234567)));
        assert_eq!(parse_fdinfo("pos:\t0\nflags:\t02\nmnt_id:\t29\n"), None, "kernels before 5.14: no inode, no guess");
    }
