//! Network namespaces for pods, and the links between them. Addresses live
//! inside the namespaces only, with no route out: nothing leaves the machine.

use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// Runs `ip ARGS`, failing with its message.
pub fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).stdin(Stdio::null()).output().context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!("ip {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// A new network namespace with its loopback up.
pub fn add_namespace(name: &str) -> Result<()> {
    ip(&["netns", "add", name])?;
    ip(&["-n", name, "link", "set", "lo", "up"])
}

pub fn delete_namespace(name: &str) {
    let _ = Command::new("ip").args(["netns", "del", name]).stdin(Stdio::null()).output();
}

/// A veth pair between two namespaces, `a_if` in `a` with `a_addr` and
/// `b_if` in `b` with `b_addr` (CIDR), both up. Removed with the namespaces.
pub fn link(a: &str, a_if: &str, a_addr: &[&str], b: &str, b_if: &str, b_addr: &[&str]) -> Result<()> {
    ip(&["link", "add", a_if, "netns", a, "type", "veth", "peer", "name", b_if, "netns", b])?;
    for (ns, iface, addrs) in [(a, a_if, a_addr), (b, b_if, b_addr)] {
        for addr in addrs {
            let mut args = vec!["-n", ns, "addr", "add", *addr, "dev", iface];
            if addr.contains(':') {
                args.push("nodad"); // IPv6: usable at once
            }
            ip(&args)?;
        }
        ip(&["-n", ns, "link", "set", iface, "up"])?;
    }
    Ok(())
}

/// A bridge in a namespace of its own: pods joined to it reach each other.
pub struct Bridge {
    pub netns: String,
}

impl Bridge {
    pub fn create(netns: &str) -> Result<Bridge> {
        ip(&["netns", "add", netns])?;
        let bridge = Bridge { netns: netns.to_string() };
        ip(&["-n", netns, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", netns, "link", "set", "br0", "up"])?;
        Ok(bridge)
    }

    /// Joins a pod's namespace to the bridge: `eth0` with `address` (CIDR) in the pod.
    pub fn attach(&self, pod_netns: &str, host_side: &str, address: &str) -> Result<()> {
        ip(&["-n", pod_netns, "link", "add", "eth0", "type", "veth", "peer", "name", host_side, "netns", &self.netns])?;
        ip(&["-n", pod_netns, "addr", "add", address, "dev", "eth0"])?;
        ip(&["-n", pod_netns, "link", "set", "eth0", "up"])?;
        ip(&["-n", &self.netns, "link", "set", host_side, "master", "br0", "up"])
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        delete_namespace(&self.netns);
    }
}
