//! `--pod`, `--namespace`, `--container`: which cgroups the kernel lets through.
//!
//! The kernel checks each event's cgroup ancestors against a set of cgroup
//! ids, so a pod's cgroup covers all of its containers, also those started
//! later; filtered-out events never reach user space.

use std::sync::Arc;

use anyhow::{bail, Result};

use super::Attribution;

#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Pod name or UID.
    pub pod: Option<String>,
    pub namespace: Option<String>,
    /// Container name, full id, or an id prefix of at least 12 characters.
    pub container: Option<String>,
}

impl Filter {
    pub fn is_active(&self) -> bool {
        self.pod.is_some() || self.namespace.is_some() || self.container.is_some()
    }

    pub fn matches(&self, a: &Attribution) -> bool {
        let pod_ok = match (&self.pod, &a.pod) {
            (None, _) => true,
            (Some(want), Some(pod)) => pod.uid == *want || pod.name.as_deref() == Some(want),
            (Some(_), None) => false,
        };
        let namespace_ok = match (&self.namespace, &a.pod) {
            (None, _) => true,
            (Some(want), Some(pod)) => pod.namespace.as_deref() == Some(want),
            (Some(_), None) => false,
        };
        let container_ok = match (&self.container, &a.container) {
            (None, _) => true,
            (Some(want), Some(c)) => {
                c.name.as_deref() == Some(want) || c.id == *want || (want.len() >= 12 && c.id.starts_with(want.as_str()))
            }
            (Some(_), None) => false,
        };
        pod_ok && namespace_ok && container_ok
    }

    /// The cgroup that stands for a matching attribution: the container's own
    /// cgroup when filtering by container, else the pod's (its whole subtree).
    pub fn selected_cgroup(&self, a: &Attribution, id_of_path: impl Fn(&str) -> Option<u64>) -> Option<u64> {
        if !self.matches(a) {
            return None;
        }
        if self.container.is_some() {
            return Some(a.cgroup_id);
        }
        a.pod.as_ref().and_then(|p| id_of_path(&p.cgroup_path)).or(Some(a.cgroup_id))
    }

    /// The cgroup ids to load into the kernel's filter; an error names what was not found.
    pub fn resolve(&self, all: &[Arc<Attribution>]) -> Result<Vec<u64>> {
        let id_of_path = |path: &str| all.iter().find(|a| a.cgroup_path.as_deref() == Some(path)).map(|a| a.cgroup_id);
        let mut ids: Vec<u64> = all.iter().filter_map(|a| self.selected_cgroup(a, id_of_path)).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            let mut wanted = Vec::new();
            if let Some(p) = &self.pod {
                wanted.push(format!("pod {p:?}"));
            }
            if let Some(n) = &self.namespace {
                wanted.push(format!("namespace {n:?}"));
            }
            if let Some(c) = &self.container {
                wanted.push(format!("container {c:?}"));
            }
            bail!("no {} on this node", wanted.join(" in "));
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::cgroup_path::QosClass;

    fn attribution(id: u64, path: &str, container: Option<(&str, &str)>, pod: Option<(&str, &str, &str)>) -> Arc<Attribution> {
        let mut a = crate::records::fixtures::attribution(id).path(path);
        if let Some((id, name)) = container {
            a = a.container(id, name);
        }
        if let Some((uid, name, ns)) = pod {
            a = a.pod(uid, name).namespace(ns).qos(QosClass::BestEffort).pod_cgroup(&format!("/kubepods/pod{uid}"));
        }
        a.build()
    }

    fn node() -> Vec<Arc<Attribution>> {
        vec![
            attribution(1, "/", None, None),
            attribution(10, "/kubepods/poduid-a", None, Some(("uid-a", "web-0", "shop"))),
            attribution(11, "/kubepods/poduid-a/c1", Some(("aaaaaaaaaaaaaaaa", "nginx")), Some(("uid-a", "web-0", "shop"))),
            attribution(20, "/kubepods/poduid-b", None, Some(("uid-b", "db-0", "data"))),
            attribution(21, "/kubepods/poduid-b/c2", Some(("bbbbbbbbbbbbbbbb", "postgres")), Some(("uid-b", "db-0", "data"))),
        ]
    }

    #[test]
    fn pod_by_name_or_uid_selects_the_pod_cgroup() {
        let all = node();
        let by_name = Filter { pod: Some("web-0".into()), ..Default::default() };
        assert_eq!(by_name.resolve(&all).unwrap(), vec![10]);
        let by_uid = Filter { pod: Some("uid-b".into()), ..Default::default() };
        assert_eq!(by_uid.resolve(&all).unwrap(), vec![20]);
        let by_namespace = Filter { namespace: Some("data".into()), ..Default::default() };
        assert_eq!(by_namespace.resolve(&all).unwrap(), vec![20]);
    }

    #[test]
    fn container_by_name_or_id_prefix_selects_the_container_cgroup() {
        let all = node();
        let by_name = Filter { container: Some("postgres".into()), ..Default::default() };
        assert_eq!(by_name.resolve(&all).unwrap(), vec![21]);
        let by_prefix = Filter { container: Some("aaaaaaaaaaaa".into()), ..Default::default() };
        assert_eq!(by_prefix.resolve(&all).unwrap(), vec![11]);
        let too_short = Filter { container: Some("aaaa".into()), ..Default::default() };
        assert!(too_short.resolve(&all).is_err());
        let both = Filter { pod: Some("db-0".into()), container: Some("nginx".into()), ..Default::default() };
        assert!(both.resolve(&all).is_err());
    }

    #[test]
    fn unknown_pod_is_a_clear_error() {
        let err = Filter { pod: Some("nope".into()), namespace: Some("shop".into()), ..Default::default() }
            .resolve(&node())
            .unwrap_err();
        assert_eq!(err.to_string(), "no pod \"nope\" in namespace \"shop\" on this node");
    }
}
