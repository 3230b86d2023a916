//! Container and pod names from what the container runtimes keep on the node.
//!
//! No Kubernetes API: the CRI runtimes write the pod's name, namespace and UID
//! into each container's OCI config (annotations), docker keeps its own
//! config.v2.json, and containers/storage (podman, cri-o) keeps names in
//! containers.json. Anything not found stays `None`: never a guess.
//!
//! Every read goes through `safe_fs`: below each runtime's state directory,
//! never through a link, never onto a filesystem that can stop answering.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cgroup_path::Runtime;
use super::printable::printable_owned;
use crate::host::{safe_fs, Host, Mounts};

/// The largest metadata file podtop parses.
const MAX_METADATA_BYTES: u64 = 16 * 1024 * 1024;
/// Namespace directories listed per runtime, at most.
const MAX_NAMESPACES: usize = 256;
/// A runtime directory that does not exist is looked for again this often.
const REOPEN_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerMetadata {
    pub runtime: Option<Runtime>,
    pub name: Option<String>,
    pub pod_name: Option<String>,
    pub pod_namespace: Option<String>,
    pub pod_uid: Option<String>,
    /// The pod's sandbox ("pause") container rather than a workload container.
    pub is_sandbox: bool,
}

impl ContainerMetadata {
    /// Names as whoever made the pod wrote them can hold anything: they reach
    /// terminals, dashboards and label values from here, so what would steer a
    /// terminal or turn text around is replaced once, here, for every sink.
    fn printable(self) -> ContainerMetadata {
        let clean = |name: Option<String>| name.map(printable_owned);
        ContainerMetadata {
            name: clean(self.name),
            pod_name: clean(self.pod_name),
            pod_namespace: clean(self.pod_namespace),
            pod_uid: clean(self.pod_uid),
            ..self
        }
    }
}

/// Where the runtimes keep their state, on the host (a fixture tree in tests).
#[derive(Debug)]
pub struct MetadataSources {
    host: Host,
    /// Runtime state directories, opened once they exist.
    dirs: HashMap<&'static str, (Option<OwnedFd>, Instant)>,
}


/// The runtimes' state directories, relative to the root: each the deepest
/// directory podtop needs, since nothing is read across a mount point and a
/// DaemonSet mounts exactly these (deploy/podtop.yaml).
const DOCKER: &str = "var/lib/docker/containers";
const CONTAINERD_TASKS: &str = "run/containerd/io.containerd.runtime.v2.task";
const STORAGES: [&str; 2] = ["run/containers/storage/overlay-containers", "var/lib/containers/storage/overlay-containers"];
const RUNC: &str = "run/runc";
/// runc state kept per namespace by containerd's and docker's shims.
const RUNC_BY_NAMESPACE: [&str; 2] = ["run/containerd/runc", "run/docker/runtime-runc"];

/// Annotation keys, in the order they are tried.
const CONTAINER_NAME: &[&str] = &["io.kubernetes.cri.container-name", "io.kubernetes.container.name"];
const POD_NAME: &[&str] = &["io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"];
const POD_NAMESPACE: &[&str] = &["io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"];
const POD_UID: &[&str] = &["io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"];

fn first_of(map: &serde_json::Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| map.get(*k)?.as_str()).map(str::to_string).filter(|s| !s.is_empty())
}

/// Kubernetes names from an OCI config's annotations (CRI) or docker labels.
pub fn from_kubernetes_labels(labels: &serde_json::Map<String, Value>) -> ContainerMetadata {
    let container_type = labels
        .get("io.kubernetes.cri.container-type")
        .or_else(|| labels.get("io.kubernetes.docker.type"))
        .and_then(Value::as_str);
    ContainerMetadata {
        runtime: None,
        name: first_of(labels, CONTAINER_NAME),
        pod_name: first_of(labels, POD_NAME),
        pod_namespace: first_of(labels, POD_NAMESPACE),
        pod_uid: first_of(labels, POD_UID),
        is_sandbox: matches!(container_type, Some("sandbox" | "podsandbox")),
    }
}

/// Reads an OCI runtime config (config.json).
pub fn from_oci_config(config: &Value) -> ContainerMetadata {
    match config.get("annotations").and_then(Value::as_object) {
        Some(annotations) => from_kubernetes_labels(annotations),
        None => ContainerMetadata::default(),
    }
}

/// Reads docker's config.v2.json: its own name, and kubernetes labels (dockershim).
pub fn from_docker_config(config: &Value) -> ContainerMetadata {
    let mut meta = config
        .pointer("/Config/Labels")
        .and_then(Value::as_object)
        .map(from_kubernetes_labels)
        .unwrap_or_default();
    if meta.name.is_none() {
        meta.name = config
            .get("Name")
            .and_then(Value::as_str)
            .map(|n| n.trim_start_matches('/').to_string())
            .filter(|n| !n.is_empty());
    }
    meta.runtime = Some(Runtime::Docker);
    meta
}

/// The first name of container `id` in a containers/storage containers.json.
pub fn name_in_containers_json(list: &Value, id: &str) -> Option<String> {
    list.as_array()?
        .iter()
        .find(|c| c.get("id").and_then(Value::as_str) == Some(id))?
        .get("names")?
        .as_array()?
        .first()?
        .as_str()
        .map(str::to_string)
}

/// The bundle directory of a runc container, from its state.json (`bundle=` label).
pub fn bundle_from_runc_state(state: &Value) -> Option<PathBuf> {
    state
        .pointer("/config/labels")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|l| l.strip_prefix("bundle="))
        .map(PathBuf::from)
}

impl MetadataSources {
    pub fn new(host: Host) -> Self {
        MetadataSources { host, dirs: HashMap::new() }
    }

    /// A runtime's state directory, opened safely once it exists.
    fn dir(&mut self, relative: &'static str) -> Option<&OwnedFd> {
        let stale = self.dirs.get(relative).is_none_or(|(fd, at)| fd.is_none() && at.elapsed() >= REOPEN_AFTER);
        if stale {
            let fd = safe_fs::open_dir(&self.host.path(relative), &Mounts::of_this_process()).ok();
            self.dirs.insert(relative, (fd, Instant::now()));
        }
        self.dirs.get(relative)?.0.as_ref()
    }

    fn read_json(&mut self, dir: &'static str, relative: &str) -> Option<Value> {
        let bytes = safe_fs::read_beneath(self.dir(dir)?, relative, MAX_METADATA_BYTES).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The entries of a runtime directory: its namespaces.
    fn namespaces(&mut self, dir: &'static str) -> Vec<String> {
        let Some(fd) = self.dir(dir) else { return Vec::new() };
        safe_fs::list_beneath(fd, "", MAX_NAMESPACES)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n: OsString| n.into_string().ok())
            .collect()
    }

    /// Everything the node knows of container `id`, `None` if nothing; its
    /// names fit to print.
    pub fn lookup(&mut self, id: &str) -> Option<ContainerMetadata> {
        self.lookup_as_written(id).map(ContainerMetadata::printable)
    }

    fn lookup_as_written(&mut self, id: &str) -> Option<ContainerMetadata> {
        if id.is_empty() || id.contains('/') || id.starts_with('.') {
            return None;
        }
        // docker first: its own name beats the bundle's missing annotations.
        if let Some(config) = self.read_json(DOCKER, &format!("{id}/config.v2.json")) {
            return Some(from_docker_config(&config));
        }
        // containerd's shim v2 bundles: <tasks>/<namespace>/<id>/config.json
        for namespace in self.namespaces(CONTAINERD_TASKS) {
            if let Some(config) = self.read_json(CONTAINERD_TASKS, &format!("{namespace}/{id}/config.json")) {
                let mut meta = from_oci_config(&config);
                meta.runtime = Some(if namespace == "moby" { Runtime::Docker } else { Runtime::Containerd });
                if meta.name.is_none() && !meta.is_sandbox && !has_cri_annotations(&config) {
                    // plain `ctr run`, in any namespace: the id is the name the user chose
                    meta.name = Some(id.to_string());
                }
                return Some(meta);
            }
        }
        // containers/storage: podman and cri-o
        for storage in STORAGES {
            if let Some(config) = self.read_json(storage, &format!("{id}/userdata/config.json")) {
                let mut meta = from_oci_config(&config);
                let is_crio = meta.pod_name.is_some();
                meta.runtime = Some(if is_crio { Runtime::CriO } else { Runtime::Podman });
                if meta.name.is_none() && !is_crio {
                    meta.name = self.containers_storage_name(id);
                }
                return Some(meta);
            }
        }
        // a bare OCI runtime: runc's state names the bundle
        let mut states: Vec<(&'static str, String)> = vec![(RUNC, format!("{id}/state.json"))];
        for dir in RUNC_BY_NAMESPACE {
            states.extend(self.namespaces(dir).into_iter().map(|ns| (dir, format!("{ns}/{id}/state.json"))));
        }
        for (dir, state) in states {
            let Some(bundle) = self.read_json(dir, &state).as_ref().and_then(bundle_from_runc_state) else { continue };
            let mut meta = self.bundle_config(&bundle).map(|c| from_oci_config(&c)).unwrap_or_default();
            meta.runtime = Some(Runtime::Runc);
            if meta.name.is_none() && !has_kubernetes_names(&meta) {
                meta.name = Some(id.to_string()); // `runc run <id>`: the id is the name
            }
            return Some(meta);
        }
        None
    }

    /// A bundle's config.json, wherever runc's state says the bundle is:
    /// resolved without stepping onto a filesystem that can stop answering.
    fn bundle_config(&self, bundle: &Path) -> Option<Value> {
        if !bundle.is_absolute() {
            return None;
        }
        let dir = safe_fs::open_dir(&self.host.path(bundle), &Mounts::of_this_process()).ok()?;
        serde_json::from_slice(&safe_fs::read_beneath(&dir, "config.json", MAX_METADATA_BYTES).ok()?).ok()
    }

    fn containers_storage_name(&mut self, id: &str) -> Option<String> {
        [STORAGES[1], STORAGES[0]].into_iter().find_map(|storage| {
            let list = self.read_json(storage, "containers.json")?;
            name_in_containers_json(&list, id)
        })
    }
}

/// Whether an OCI config was written by a CRI runtime for a Kubernetes pod.
fn has_cri_annotations(config: &Value) -> bool {
    config.get("annotations").and_then(Value::as_object).is_some_and(|a| {
        a.keys().any(|k| k.starts_with("io.kubernetes.cri.") || k.starts_with("io.kubernetes.cri-o.") || k.starts_with("io.kubernetes.pod."))
    })
}

fn has_kubernetes_names(meta: &ContainerMetadata) -> bool {
    meta.pod_name.is_some() || meta.pod_uid.is_some() || meta.is_sandbox
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::fs;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn write(root: &Path, rel: &str, value: &Value) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, serde_json::to_vec(value).unwrap()).unwrap();
    }

    fn temp_root(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("podtop-meta-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn containerd_cri_annotations() {
        let root = temp_root("containerd");
        write(
            &root,
            &format!("run/containerd/io.containerd.runtime.v2.task/k8s.io/{ID}/config.json"),
            &json!({"ociVersion": "1.1.0", "annotations": {
                "io.kubernetes.cri.container-type": "container",
                "io.kubernetes.cri.container-name": "api",
                "io.kubernetes.cri.sandbox-name": "backend-7d4b9",
                "io.kubernetes.cri.sandbox-namespace": "shop",
                "io.kubernetes.cri.sandbox-uid": "1a2b-3c4d"}}),
        );
        let meta = MetadataSources::new(Host::at(&root)).lookup(ID).unwrap();
        assert_eq!(
            meta,
            ContainerMetadata {
                runtime: Some(Runtime::Containerd),
                name: Some("api".into()),
                pod_name: Some("backend-7d4b9".into()),
                pod_namespace: Some("shop".into()),
                pod_uid: Some("1a2b-3c4d".into()),
                is_sandbox: false,
            }
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn crio_annotations_and_sandbox() {
        let root = temp_root("crio");
        write(
            &root,
            &format!("run/containers/storage/overlay-containers/{ID}/userdata/config.json"),
            &json!({"annotations": {
                "io.kubernetes.container.name": "POD",
                "io.kubernetes.cri-o.ContainerType": "sandbox",
                "io.kubernetes.pod.name": "web-0",
                "io.kubernetes.pod.namespace": "default",
                "io.kubernetes.pod.uid": "aa-bb"}}),
        );
        let meta = MetadataSources::new(Host::at(&root)).lookup(ID).unwrap();
        assert_eq!(meta.runtime, Some(Runtime::CriO));
        assert_eq!(meta.pod_name.as_deref(), Some("web-0"));
        assert_eq!(meta.pod_namespace.as_deref(), Some("default"));
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn docker_name_and_podman_storage_name() {
        let root = temp_root("docker");
        write(
            &root,
            &format!("var/lib/docker/containers/{ID}/config.v2.json"),
            &json!({"ID": ID, "Name": "/redis-cache", "Config": {"Labels": {}}}),
        );
        let meta = MetadataSources::new(Host::at(&root)).lookup(ID).unwrap();
        assert_eq!((meta.runtime, meta.name.as_deref()), (Some(Runtime::Docker), Some("redis-cache")));
        fs::remove_dir_all(&root).unwrap();

        let root = temp_root("podman");
        write(
            &root,
            &format!("var/lib/containers/storage/overlay-containers/{ID}/userdata/config.json"),
            &json!({"ociVersion": "1.0.0", "annotations": {"io.container.manager": "libpod"}}),
        );
        write(
            &root,
            "var/lib/containers/storage/overlay-containers/containers.json",
            &json!([{"id": "ff", "names": ["other"]}, {"id": ID, "names": ["quirky_tesla"]}]),
        );
        let meta = MetadataSources::new(Host::at(&root)).lookup(ID).unwrap();
        assert_eq!((meta.runtime, meta.name.as_deref()), (Some(Runtime::Podman), Some("quirky_tesla")));
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn runc_state_points_at_the_bundle() {
        let root = temp_root("runc");
        write(&root, &format!("run/runc/{ID}/state.json"), &json!({"id": ID, "config": {"labels": ["bundle=/bundles/x"]}}));
        write(
            &root,
            "bundles/x/config.json",
            &json!({"annotations": {"io.kubernetes.cri.container-name": "db", "io.kubernetes.cri.sandbox-name": "db-0"}}),
        );
        let meta = MetadataSources::new(Host::at(&root)).lookup(ID).unwrap();
        assert_eq!(meta.runtime, Some(Runtime::Runc));
        assert_eq!((meta.name.as_deref(), meta.pod_name.as_deref()), (Some("db"), Some("db-0")));
        fs::remove_dir_all(root).unwrap();
    }

    /// JSON values shaped like the runtimes' files, and anything else.
    fn json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let key = prop_oneof![
            Just("annotations".to_string()),
            Just("io.kubernetes.cri.container-name".to_string()),
            Just("io.kubernetes.cri.sandbox-name".to_string()),
            Just("io.kubernetes.cri.container-type".to_string()),
            Just("Config".to_string()),
            Just("Labels".to_string()),
            Just("Name".to_string()),
            Just("names".to_string()),
            Just("id".to_string()),
            Just("config".to_string()),
            Just("labels".to_string()),
            "[a-z.-]{0,8}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,20}".prop_map(Value::from),
            Just(Value::from(format!("bundle=/{ID}"))),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::btree_map(key.clone(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn any_json_in_the_runtimes_files_is_read_without_panicking(v in json()) {
            let _ = from_oci_config(&v);
            let _ = from_docker_config(&v);
            let _ = name_in_containers_json(&v, ID);
            let _ = bundle_from_runc_state(&v);
        }

        #[test]
        fn any_bytes_in_the_runtimes_files_are_read_without_panicking(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let root = temp_root("bytes");
            for rel in [
                format!("var/lib/docker/containers/{ID}/config.v2.json"),
                format!("run/containerd/io.containerd.runtime.v2.task/k8s.io/{ID}/config.json"),
                format!("run/runc/{ID}/state.json"),
            ] {
                let path = root.join(rel);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, &bytes).unwrap();
            }
            let _ = MetadataSources::new(Host::at(&root)).lookup(ID);
            fs::remove_dir_all(root).unwrap();
        }
    }

    #[test]
    fn unknown_ids_and_hostile_ids_find_nothing() {
        let root = temp_root("none");
        let mut sources = MetadataSources::new(Host::at(&root));
        assert_eq!(sources.lookup(ID), None);
        assert_eq!(sources.lookup("../../etc"), None);
        assert_eq!(sources.lookup(""), None);
        fs::remove_dir_all(root).unwrap();
    }
}
