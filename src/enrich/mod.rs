//! Enrichment: the cgroup id captured in the kernel becomes a container and a pod with names.
//!
//! cgroup id -> path (`cgroups`) -> runtime, container id, pod UID, QoS (`cgroup_path`)
//! -> names from the runtime's metadata (`metadata`); network peers through the
//! namespaces that own their addresses (`netns`, `peers`). Every cache is bounded.

pub mod cgroup_path;
pub mod cgroups;
pub mod files;
pub mod filter;
pub mod listeners;
pub mod metadata;
pub mod names;
pub mod netns;
pub mod peers;
pub mod printable;
pub mod redact;

pub use printable::printable;

use std::sync::OnceLock;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};


use crate::host::{Cgroupfs, Host};

use cgroup_path::{QosClass, Runtime};
use cgroups::CgroupDirectory;
use metadata::{ContainerMetadata, MetadataSources};
use netns::NetnsDirectory;

/// Cgroups whose attribution is kept at once, the least recently seen going
/// first; `podtop replay` keeps a recording's owners within the same bound.
pub const ATTRIBUTION_CAPACITY: usize = 8192;
const METADATA_CAPACITY: usize = 4096;
/// Names can appear a moment after a cgroup (a runtime writes its state as it
/// starts the container): incomplete answers are asked again after this long.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// A removed cgroup is forgotten this long after its rmdir: records about it
/// that come later (counters read at the next tick, sockets closing after
/// their process) are still attributed, and memory stays flat under churn.
const FORGET_REMOVED_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    pub runtime: Option<Runtime>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    pub uid: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub qos: QosClass,
    /// The pod's cgroup path, whose subtree holds all of its containers.
    pub cgroup_path: String,
}

/// Who owns a cgroup, as far as the node can tell.
#[derive(Debug)]
pub struct Attribution {
    pub cgroup_id: u64,
    pub cgroup_path: Option<String>,
    pub container: Option<Container>,
    pub pod: Option<Pod>,
    /// The rendered JSON of the fields above, made once by the output sink.
    pub rendered: OnceLock<String>,
}

impl Attribution {
    fn is_complete(&self) -> bool {
        self.cgroup_path.is_some()
            && self.container.as_ref().is_none_or(|c| c.name.is_some() && c.runtime.is_some())
            && self.pod.as_ref().is_none_or(|p| p.name.is_some())
    }
}

struct CachedAttribution {
    attribution: Arc<Attribution>,
    resolved_at: Instant,
}

pub struct Enricher {
    cgroups: CgroupDirectory,
    metadata: MetadataSources,
    container_metadata: crate::bounded::Table<String, (Option<ContainerMetadata>, Instant)>,
    pod_names: crate::bounded::Table<String, (String, Option<String>)>,
    attributions: crate::bounded::Table<u64, CachedAttribution>,
    /// Removed cgroups, oldest first, to forget once they are old enough.
    removed: VecDeque<(u64, Instant)>,
    pub netns: NetnsDirectory,
    host: Host,
}

impl Enricher {
    /// Names what lives on `host`, whose cgroup v2 hierarchy is `cgroupfs`.
    pub fn new(host: Host, cgroupfs: Option<Cgroupfs>) -> Self {
        Enricher {
            host: host.clone(),
            cgroups: CgroupDirectory::new(cgroupfs.clone()),
            metadata: MetadataSources::new(host.clone()),
            container_metadata: crate::bounded::Table::new("container_metadata", METADATA_CAPACITY),
            pod_names: crate::bounded::Table::new("pod_names", METADATA_CAPACITY),
            attributions: crate::bounded::Table::new("attributions", ATTRIBUTION_CAPACITY),
            removed: VecDeque::new(),
            netns: NetnsDirectory::new(host, cgroupfs),
        }
    }

    /// How full each of its caches is.
    pub fn sizes(&self) -> [crate::bounded::TableSize; 4] {
        [
            self.attributions.size(),
            self.container_metadata.size(),
            self.pod_names.size(),
            self.cgroups.size(),
        ]
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The cgroup v2 hierarchy, where podtop found one.
    pub fn cgroupfs(&self) -> Option<&Cgroupfs> {
        self.cgroups.cgroupfs()
    }

    /// A cgroup the kernel just announced.
    pub fn cgroup_created(&mut self, id: u64, path: String) {
        self.cgroups.insert(id, path);
        self.attributions.pop(&id);
    }

    /// A cgroup the kernel removed: forgotten later, not at once. Returns
    /// the uids of the pods whose own cgroups are forgotten now, for what
    /// else keeps a pod (their names go here).
    pub fn cgroup_removed(&mut self, id: u64) -> Vec<String> {
        self.removed.push_back((id, Instant::now()));
        self.forget_old_removals()
    }

    fn forget_old_removals(&mut self) -> Vec<String> {
        let mut pods_gone = Vec::new();
        while let Some((id, at)) = self.removed.front().copied() {
            if at.elapsed() < FORGET_REMOVED_AFTER {
                break;
            }
            self.removed.pop_front();
            if let Some(cached) = self.attributions.pop(&id) {
                match (&cached.attribution.container, &cached.attribution.pod) {
                    (Some(container), _) => {
                        self.container_metadata.pop(&container.id);
                    }
                    (None, Some(pod)) => {
                        self.pod_names.pop(&pod.uid);
                        pods_gone.push(pod.uid.clone());
                    }
                    (None, None) => {}
                }
            }
            self.cgroups.forget(id);
        }
        pods_gone
    }

    /// Every cgroup on the node with its attribution, for filters.
    pub fn all_cgroups(&mut self) -> Vec<Arc<Attribution>> {
        let ids: Vec<u64> = self.cgroups.all().into_iter().map(|(id, _)| id).collect();
        ids.into_iter().map(|id| self.attribution(id)).collect()
    }

    pub fn attribution(&mut self, cgroup_id: u64) -> Arc<Attribution> {
        if let Some(cached) = self.attributions.get(&cgroup_id) {
            if cached.attribution.is_complete() || cached.resolved_at.elapsed() < RETRY_AFTER {
                return cached.attribution.clone();
            }
        }
        let attribution = Arc::new(self.resolve(cgroup_id));
        self.attributions.put(
            cgroup_id,
            CachedAttribution { attribution: attribution.clone(), resolved_at: Instant::now() },
        );
        attribution
    }

    fn resolve(&mut self, cgroup_id: u64) -> Attribution {
        let cgroup_path = self.cgroups.path_of(cgroup_id);
        let info = cgroup_path.as_deref().map(cgroup_path::parse).unwrap_or_default();
        let meta = info.container.as_ref().and_then(|c| self.container_metadata(&c.id));
        // A plain `ctr` container lives in /<namespace>/<name>: only its metadata tells.
        let container = match (&info.container, &meta, &cgroup_path) {
            (Some(c), _, _) => Some(Container {
                id: c.id.clone(),
                runtime: c.runtime.or(meta.as_ref().and_then(|m| m.runtime)),
                name: meta.as_ref().and_then(|m| m.name.clone()),
            }),
            (None, _, Some(path)) => self.plain_ctr_container(path),
            _ => None,
        };
        let pod = info.pod.map(|p| {
            let names = meta
                .as_ref()
                .and_then(|m| m.pod_name.clone().map(|n| (n, m.pod_namespace.clone())))
                .or_else(|| self.pod_names_from_siblings(&p.uid, &p.cgroup_path));
            if let Some(names) = &names {
                self.pod_names.put(p.uid.clone(), names.clone());
            }
            let (name, namespace) = names.map_or((None, None), |(n, ns)| (Some(n), ns));
            Pod { uid: p.uid, name, namespace, qos: p.qos, cgroup_path: p.cgroup_path }
        });
        Attribution { cgroup_id, cgroup_path, container, pod, rendered: OnceLock::new() }
    }

    fn container_metadata(&mut self, id: &str) -> Option<ContainerMetadata> {
        if let Some((meta, at)) = self.container_metadata.get(id) {
            if meta.is_some() || at.elapsed() < RETRY_AFTER {
                return meta.clone();
            }
        }
        let meta = self.metadata.lookup(id);
        self.container_metadata.put(id.to_string(), (meta.clone(), Instant::now()));
        meta
    }

    /// Containers whose cgroup only a runtime's state explains: plain `ctr`
    /// (`/<namespace>/<name>`) and plain runc (`/<id>`), both at the root of
    /// the tree, where only root makes cgroups.
    fn plain_ctr_container(&mut self, path: &str) -> Option<Container> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let name = match parts.as_slice() {
            [_, name] | [name] => *name,
            _ => return None,
        };
        // systemd's own units are no container: no need to ask the runtimes.
        if [".slice", ".scope", ".service", ".mount", ".socket"].iter().any(|unit| name.ends_with(unit)) {
            return None;
        }
        let meta = self.container_metadata(name)?;
        // Its id is a directory's name, not hex: printed as the names are.
        Some(Container { id: printable(name).into_owned(), runtime: meta.runtime, name: meta.name })
    }

    /// Pod names live in each container's metadata; a process in the pod's own
    /// cgroup, or in a container without metadata, borrows them from a sibling.
    fn pod_names_from_siblings(&mut self, uid: &str, pod_cgroup: &str) -> Option<(String, Option<String>)> {
        if let Some(names) = self.pod_names.get(uid) {
            return Some(names.clone());
        }
        let children = self.cgroups.cgroupfs()?.children(pod_cgroup);
        children.iter().find_map(|child| {
            let container = cgroup_path::parse(&format!("{pod_cgroup}/{child}")).container?;
            let meta = self.container_metadata(&container.id)?;
            meta.pod_name.map(|n| (n, meta.pod_namespace))
        })
    }
}

#[cfg(test)]
mod host_fixture_tests;
