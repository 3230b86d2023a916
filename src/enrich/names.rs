//! Names that processes looked up, by the addresses they got back, per
//! network namespace (a pod's processes share one): a connection to an
//! address that a process of the same pod resolved carries the name it
//! asked for. The last lookup that gave an address wins; the least recently
//! used entries leave first.

use std::net::IpAddr;
use std::sync::Arc;


/// Addresses remembered at once, over all namespaces.
const MAX_ADDRESSES: usize = 65_536;

pub struct ResolvedNames {
    by_address: crate::bounded::Table<(u32, IpAddr), Arc<str>>,
}

impl Default for ResolvedNames {
    fn default() -> Self {
        ResolvedNames { by_address: crate::bounded::Table::new("resolved_names", MAX_ADDRESSES) }
    }
}

impl ResolvedNames {
    pub fn size(&self) -> crate::bounded::TableSize {
        self.by_address.size()
    }

    /// A process in `netns` looked up `name` and got `addresses`.
    pub fn resolved(&mut self, netns: u32, name: &str, addresses: impl Iterator<Item = IpAddr>) {
        let name: Arc<str> = Arc::from(name.to_ascii_lowercase());
        for addr in addresses {
            self.by_address.put((netns, canonical(addr)), name.clone());
        }
    }

    /// The name a process in `netns` looked up and got `addr` for.
    pub fn name_of(&mut self, netns: u32, addr: IpAddr) -> Option<Arc<str>> {
        self.by_address.get(&(netns, canonical(addr))).cloned()
    }
}

/// An IPv4 address mapped into IPv6 (a dual-stack socket's view) is the IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_known_in_the_namespace_that_resolved_it_only() {
        let mut names = ResolvedNames::default();
        let shop: IpAddr = "10.0.0.7".parse().unwrap();
        names.resolved(1, "Shop.Test", ["10.0.0.7".parse().unwrap(), "fd00::7".parse().unwrap()].into_iter());
        assert_eq!(names.name_of(1, shop).as_deref(), Some("shop.test"));
        assert_eq!(names.name_of(1, "::ffff:10.0.0.7".parse().unwrap()).as_deref(), Some("shop.test"));
        assert_eq!(names.name_of(1, "fd00::7".parse().unwrap()).as_deref(), Some("shop.test"));
        assert_eq!(names.name_of(2, shop), None, "another pod did not look it up");
        names.resolved(1, "cdn.test", [shop].into_iter());
        assert_eq!(names.name_of(1, shop).as_deref(), Some("cdn.test"), "the last lookup wins");
    }
}
