//! What a cgroup v2 path says about its owner: container runtime and id, pod UID and QoS class.
//!
//! Pure string work on the path shapes that kubelet and the runtimes create;
//! names come later, from runtime metadata (see `metadata`).

/// The container runtime a cgroup path (or the runtime's metadata) points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    Docker,
    Containerd,
    CriO,
    Podman,
    /// A bare OCI runtime (runc, crun) started by something podtop does not know.
    Runc,
}

impl Runtime {
    pub const ALL: [Runtime; 5] = [Runtime::Docker, Runtime::Containerd, Runtime::CriO, Runtime::Podman, Runtime::Runc];

    /// The inverse of `name`, for recordings.
    pub fn from_name(name: &str) -> Option<Runtime> {
        Runtime::ALL.into_iter().find(|r| r.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Runc => "runc",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QosClass {
    Guaranteed,
    Burstable,
    BestEffort,
}

impl QosClass {
    /// The inverse of `name`, for recordings.
    pub fn from_name(name: &str) -> Option<QosClass> {
        [QosClass::Guaranteed, QosClass::Burstable, QosClass::BestEffort].into_iter().find(|q| q.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "guaranteed",
            QosClass::Burstable => "burstable",
            QosClass::BestEffort => "besteffort",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRef {
    /// Full 64-hex id, or the name a plain `ctr` container was given.
    pub id: String,
    /// None where the path alone does not say (kubelet's cgroupfs layout).
    pub runtime: Option<Runtime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    /// With dashes, as the API server writes it.
    pub uid: String,
    pub qos: QosClass,
    /// The pod's own cgroup: the prefix of the path up to and including the pod level.
    pub cgroup_path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathInfo {
    pub container: Option<ContainerRef>,
    pub pod: Option<PodRef>,
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// `prefix<64hex>suffix` -> the id.
fn id_between<'a>(component: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    let id = component.strip_prefix(prefix)?.strip_suffix(suffix)?;
    is_container_id(id).then_some(id)
}

/// A container's own cgroup, directly below the level that holds containers
/// (a pod, or a runtime's parent cgroup).
fn container_in(component: &str, parent_is_docker: bool) -> Option<ContainerRef> {
    let found = |id: &str, runtime| Some(ContainerRef { id: id.to_string(), runtime });
    if let Some(id) = id_between(component, "docker-", ".scope") {
        return found(id, Some(Runtime::Docker));
    }
    if let Some(id) = id_between(component, "cri-containerd-", ".scope") {
        return found(id, Some(Runtime::Containerd));
    }
    if let Some(id) = id_between(component, "crio-", ".scope").or_else(|| id_between(component, "crio-", "")) {
        return found(id, Some(Runtime::CriO));
    }
    if let Some(id) = id_between(component, "libpod-", ".scope").or_else(|| id_between(component, "libpod-", "")) {
        return found(id, Some(Runtime::Podman));
    }
    if is_container_id(component) {
        return found(component, parent_is_docker.then_some(Runtime::Docker));
    }
    None
}

/// `...-pod1234_5678.slice` (systemd) -> "1234-5678".
fn systemd_pod_uid(slice: &str) -> Option<String> {
    let (prefix, uid) = slice.strip_suffix(".slice")?.rsplit_once("-pod")?;
    (prefix.split('-').any(|part| part == "kubepods") && is_uid(uid)).then(|| uid.replace('_', "-"))
}

fn is_uid(uid: &str) -> bool {
    !uid.is_empty() && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_')
}

fn qos_of_slice(slice: &str) -> Option<QosClass> {
    let name = slice.strip_suffix(".slice")?;
    if name.ends_with("kubepods-besteffort") {
        Some(QosClass::BestEffort)
    } else if name.ends_with("kubepods-burstable") {
        Some(QosClass::Burstable)
    } else {
        None
    }
}

/// How many leading components form a chain of systemd slices from the
/// root (`a.slice/a-b.slice/a-b-c.slice`): only systemd makes those, as
/// root, so nothing a user was delegated can pose as one.
fn slice_chain_len(components: &[&str]) -> usize {
    let mut parent: Option<&str> = None;
    for (i, component) in components.iter().enumerate() {
        let Some(name) = component.strip_suffix(".slice") else { return i };
        let chained = match parent {
            None => !name.is_empty() && !name.contains('-'),
            Some(parent) => name.strip_prefix(parent).is_some_and(|rest| rest.starts_with('-') && rest.len() > 1),
        };
        if !chained {
            return i;
        }
        parent = Some(name);
    }
    components.len()
}

/// The pod level of a kubelet path, anchored at the cgroup root: kubelet's
/// systemd driver (a slice chain ending in the pod's slice, under
/// `kubepods.slice` or a nested `...-kubepods.slice`) or its cgroupfs driver
/// (`/kubepods[/<qos>]/pod<uid>`). Returns (uid, qos, index of the pod component).
fn pod_in(components: &[&str]) -> Option<(String, QosClass, usize)> {
    let chain = slice_chain_len(components);
    let mut qos = QosClass::Guaranteed;
    for (i, slice) in components[..chain].iter().enumerate() {
        if let Some(q) = qos_of_slice(slice) {
            qos = q;
        } else if let Some(uid) = systemd_pod_uid(slice) {
            return Some((uid, qos, i));
        }
    }
    if components.first() != Some(&"kubepods") {
        return None;
    }
    let (qos, at) = match components.get(1) {
        Some(&"besteffort") => (QosClass::BestEffort, 2),
        Some(&"burstable") => (QosClass::Burstable, 2),
        _ => (QosClass::Guaranteed, 1),
    };
    let uid = components.get(at)?.strip_prefix("pod").filter(|uid| is_uid(uid))?;
    Some((uid.to_string(), qos, at))
}

/// Reads a cgroup path (relative to the cgroup v2 root, e.g. from /proc/PID/cgroup).
///
/// Every shape is anchored where kubelet and the runtimes create it, at the
/// root of the cgroup tree: a user's delegated subtree
/// (`/user.slice/user-1000.slice/user@1000.service/...`) that copies a
/// pod's or a container's shape is what it is, a user's cgroup. Cgroups a
/// container makes below its own are that container's.
pub fn parse(path: &str) -> PathInfo {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let mut info = PathInfo::default();
    if let Some((uid, qos, at)) = pod_in(&components) {
        let cgroup_path = format!("/{}", components[..=at].join("/"));
        info.container = components.get(at + 1).and_then(|c| container_in(c, false));
        info.pod = Some(PodRef { uid, qos, cgroup_path });
        return info;
    }
    // Containers outside pods, below their runtime's own parent cgroup.
    info.container = match (components.first(), components.get(1)) {
        (Some(&"docker"), Some(c)) if is_container_id(c) => container_in(c, true),
        (Some(&"system.slice"), Some(c)) => id_between(c, "docker-", ".scope").and_then(|_| container_in(c, false)),
        (Some(&"machine.slice"), Some(c)) => id_between(c, "libpod-", ".scope").and_then(|_| container_in(c, false)),
        (Some(&"libpod_parent"), Some(c)) => id_between(c, "libpod-", "").and_then(|_| container_in(c, false)),
        _ => None,
    };
    info
}


#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn container(path: &str) -> Option<(String, Option<Runtime>)> {
        parse(path).container.map(|c| (c.id, c.runtime))
    }

    #[test]
    fn every_runtime_shape() {
        let table: &[(&str, Option<Runtime>)] = &[
            ("/docker/ID", Some(Runtime::Docker)),
            ("/system.slice/docker-ID.scope", Some(Runtime::Docker)),
            (
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234abcd_5678.slice/cri-containerd-ID.scope",
                Some(Runtime::Containerd),
            ),
            ("/kubepods/besteffort/pod1234abcd-5678/ID", None),
            ("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podab_cd.slice/crio-ID.scope", Some(Runtime::CriO)),
            ("/kubepods/burstable/podabcd/crio-ID", Some(Runtime::CriO)),
            ("/machine.slice/libpod-ID.scope", Some(Runtime::Podman)),
            ("/machine.slice/libpod-ID.scope/container", Some(Runtime::Podman)),
            ("/libpod_parent/libpod-ID", Some(Runtime::Podman)),
        ];
        for (shape, runtime) in table {
            let path = shape.replace("ID", ID);
            assert_eq!(container(&path), Some((ID.to_string(), *runtime)), "{path}");
        }
    }

    #[test]
    fn pods_uid_and_qos_for_both_drivers() {
        let systemd = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_0000_1111_2222_333344445555.slice/cri-containerd-{ID}.scope"
        );
        let pod = parse(&systemd).pod.unwrap();
        assert_eq!(pod.uid, "1a2b3c4d-0000-1111-2222-333344445555");
        assert_eq!(pod.qos, QosClass::Burstable);
        assert_eq!(
            pod.cgroup_path,
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_0000_1111_2222_333344445555.slice"
        );

        let guaranteed = format!("/kubepods.slice/kubepods-pod99aa_bb.slice/cri-containerd-{ID}.scope");
        let pod = parse(&guaranteed).pod.unwrap();
        assert_eq!((pod.uid.as_str(), pod.qos), ("99aa-bb", QosClass::Guaranteed));

        let cgroupfs = format!("/kubepods/besteffort/pod1a2b-3c4d/{ID}");
        let pod = parse(&cgroupfs).pod.unwrap();
        assert_eq!((pod.uid.as_str(), pod.qos), ("1a2b-3c4d", QosClass::BestEffort));
        assert_eq!(pod.cgroup_path, "/kubepods/besteffort/pod1a2b-3c4d");

        let guaranteed_fs = format!("/kubepods/podffee/{ID}");
        assert_eq!(parse(&guaranteed_fs).pod.unwrap().qos, QosClass::Guaranteed);
    }

    #[test]
    fn kubelet_nested_under_a_service() {
        let nested = format!(
            "/system.slice/containerd.service/kubepods-besteffort-pod12_34.slice:cri-containerd:{ID}"
        );
        // kind's cgroupfs-in-systemd names are not a shape podtop claims to read:
        // nothing is guessed from them.
        assert_eq!(parse(&nested).container, None);
        let nested = format!("/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod12_34.slice/cri-containerd-{ID}.scope");
        let info = parse(&nested);
        assert_eq!(info.pod.unwrap().uid, "12-34");
        assert_eq!(info.container.unwrap().runtime, Some(Runtime::Containerd));
    }

    #[test]
    fn host_paths_are_neither_container_nor_pod() {
        for path in ["/", "", "/user.slice/user-0.slice/session-1.scope", "/system.slice/sshd.service", "/init.scope"] {
            assert_eq!(parse(path), PathInfo::default(), "{path}");
        }
        // A pod-looking name outside kubepods is not a pod.
        assert_eq!(parse("/system.slice/pod1234.slice").pod, None);
        // Uppercase or short hex is not a container id.
        assert_eq!(parse(&format!("/docker/{}", ID.to_uppercase())).container, None);
        assert_eq!(parse("/docker/abc123").container, None);
    }

    #[test]
    fn shapes_copied_into_a_delegated_subtree_are_a_users_cgroups() {
        let pod = format!(
            "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b_3c4d.slice/cri-containerd-{ID}.scope"
        );
        for user in [
            "/user.slice/user-1000.slice/user@1000.service",
            "/user.slice/user-1000.slice/user@1000.service/app.slice",
            "/system.slice/foo.service",
        ] {
            let spoof = format!("{user}/{pod}");
            assert_eq!(parse(&spoof), PathInfo::default(), "{spoof}");
        }
        // Below a real pod's cgroup it stays that pod's, not the one it copies.
        let inside = format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podaa.slice/x.scope/{pod}");
        let info = parse(&inside);
        assert_eq!((info.pod.unwrap().uid.as_str(), info.container), ("aa", None));
        for user in ["/user.slice/user-1000.slice/user@1000.service", "/kubepods"] {
            for shape in [format!("docker/{ID}"), format!("system.slice/docker-{ID}.scope"), format!("kubepods/besteffort/pod12/{ID}")] {
                let spoof = format!("{user}/{shape}");
                assert_eq!(parse(&spoof).container, None, "{spoof}");
            }
        }
        // A slice chain must be a chain: a slice that does not extend its parent breaks it.
        let broken = format!("/kubepods.slice/other-burstable.slice/kubepods-burstable-pod12.slice/cri-containerd-{ID}.scope");
        assert_eq!(parse(&broken).pod, None);
    }

    #[test]
    fn cgroups_a_container_makes_below_its_own_are_that_container() {
        const OTHER: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
        let nested = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12_34.slice/cri-containerd-{ID}.scope/cri-containerd-{OTHER}.scope"
        );
        assert_eq!(parse(&nested).container.unwrap().id, ID, "not the id it writes below itself");
        let inside_docker = format!("/system.slice/docker-{ID}.scope/init.scope");
        assert_eq!(parse(&inside_docker).container.unwrap().id, ID);
    }

    fn component() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![
            proptest::string::string_regex("kubepods(\\.slice)?").unwrap(),
            proptest::string::string_regex("kubepods-(besteffort|burstable)\\.slice|besteffort|burstable").unwrap(),
            proptest::string::string_regex("kubepods(-(besteffort|burstable))?-pod[0-9a-f_]{1,12}\\.slice").unwrap(),
            proptest::string::string_regex("pod[0-9a-f-]{1,12}").unwrap(),
            proptest::string::string_regex("(cri-containerd-|docker-|crio-|libpod-)?[0-9a-f]{64}(\\.scope)?").unwrap(),
            proptest::string::string_regex("user\\.slice|user-1000\\.slice|user@1000\\.service|system\\.slice|machine\\.slice|docker|libpod_parent").unwrap(),
            proptest::string::string_regex("[a-z0-9.@_-]{1,10}").unwrap(),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]

        #[test]
        fn any_path_parses_to_anchored_shapes(parts in proptest::collection::vec(component(), 0..8)) {
            let path = format!("/{}", parts.join("/"));
            let info = parse(&path);
            if let Some(pod) = &info.pod {
                proptest::prop_assert!(path.starts_with(&pod.cgroup_path), "{} under {}", path, pod.cgroup_path);
                proptest::prop_assert!(parts[0] == "kubepods" || parts[0].ends_with(".slice"), "anchored at the root: {}", path);
            }
            if let Some(container) = &info.container {
                proptest::prop_assert!(is_container_id(&container.id), "{}", path);
            }
            // Below a user's delegated subtree, nothing is a pod or a container.
            let delegated = format!("/user.slice/user-1000.slice/user@1000.service{path}");
            proptest::prop_assert_eq!(parse(&delegated), PathInfo::default());
        }

        #[test]
        fn any_text_parses(path in "\\PC{0,200}") {
            let _ = parse(&path);
        }
    }

    #[test]
    fn pod_without_container_is_the_pod_sandbox_level() {
        let info = parse("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podaa_bb.slice");
        assert_eq!(info.pod.unwrap().uid, "aa-bb");
        assert_eq!(info.container, None);
    }
}
