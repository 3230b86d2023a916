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

fn container_in(component: &str, parent: Option<&str>) -> Option<ContainerRef> {
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
        let runtime = match parent {
            Some("docker") => Some(Runtime::Docker),
            _ => None,
        };
        return found(component, runtime);
    }
    None
}

/// `kubepods-besteffort-pod1234_5678.slice` (systemd) or `pod1234-5678` (cgroupfs).
fn pod_uid_in(component: &str) -> Option<String> {
    let systemd = component
        .strip_suffix(".slice")
        .and_then(|c| c.rsplit_once("-pod"))
        .filter(|(prefix, _)| prefix.contains("kubepods"))
        .map(|(_, uid)| uid.replace('_', "-"));
    let uid = systemd.or_else(|| component.strip_prefix("pod").map(str::to_string))?;
    let valid = !uid.is_empty() && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    valid.then_some(uid)
}

fn qos_in(component: &str) -> Option<QosClass> {
    if component == "besteffort" || component.ends_with("kubepods-besteffort.slice") {
        Some(QosClass::BestEffort)
    } else if component == "burstable" || component.ends_with("kubepods-burstable.slice") {
        Some(QosClass::Burstable)
    } else {
        None
    }
}

/// Reads a cgroup path (relative to the cgroup v2 root, e.g. from /proc/PID/cgroup).
///
/// Components are matched anywhere in the path, so kubelet nested under a
/// systemd service (kind, k3s) or a cgroup namespace parses alike.
pub fn parse(path: &str) -> PathInfo {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let mut info = PathInfo::default();
    let mut in_kubepods = false;
    let mut qos = QosClass::Guaranteed;
    let mut offset = 0;
    for component in &components {
        offset += 1 + component.len();
        if component.contains("kubepods") {
            in_kubepods = true;
        }
        if !in_kubepods {
            continue;
        }
        if let Some(q) = qos_in(component) {
            qos = q;
        } else if info.pod.is_none() {
            if let Some(uid) = pod_uid_in(component) {
                info.pod = Some(PodRef { uid, qos, cgroup_path: path_prefix(path, offset) });
            }
        }
    }
    // The container is the innermost component that names one; podman's
    // `libpod-<id>.scope/container` puts it one level up.
    for (i, component) in components.iter().enumerate().rev() {
        let parent = i.checked_sub(1).map(|p| components[p]);
        if let Some(container) = container_in(component, parent) {
            info.container = Some(container);
            break;
        }
    }
    info
}

/// The first `len` bytes of `path` once leading slashes are normalised to one.
fn path_prefix(path: &str, len: usize) -> String {
    let trimmed = path.trim_start_matches('/');
    format!("/{}", &trimmed[..(len - 1).min(trimmed.len())])
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
    fn pod_without_container_is_the_pod_sandbox_level() {
        let info = parse("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podaa_bb.slice");
        assert_eq!(info.pod.unwrap().uid, "aa-bb");
        assert_eq!(info.container, None);
    }
}
