//! What already runs when a live run starts: every pod and container on the
//! node that holds processes, with those processes, as observations. A pod
//! that sleeps never sends a record, and without these it would have no
//! row until it did something; with them it is listed from the start, with
//! zeros, as top lists sleeping processes.

use std::sync::Arc;

use super::observation::{Observation, ProcessRef};
use crate::enrich::{Attribution, Enricher};
use crate::host::Host;

/// One observation per pod or container cgroup that holds processes now
/// (cgroups left behind without any are no pod that runs), its processes
/// those `keep` accepts (the run's filters). The host's own cgroups are not
/// listed: the host row stands for them.
pub fn observations(enricher: &mut Enricher, host: &Host, unix_ns: u64, keep: impl Fn(&Attribution, u32) -> bool) -> Vec<Observation> {
    let Some(cgroupfs) = enricher.cgroupfs().cloned() else { return Vec::new() };
    enricher
        .all_cgroups()
        .into_iter()
        .filter(|owner| owner.pod.is_some() || owner.container.is_some())
        .filter_map(|owner: Arc<Attribution>| {
            let path = owner.cgroup_path.as_deref()?;
            let processes: Vec<ProcessRef> = cgroupfs
                .pids(path)
                .into_iter()
                .filter(|pid| keep(&owner, *pid))
                .filter_map(|pid| process(host, pid))
                .collect();
            (!processes.is_empty()).then(|| Observation::Present { unix_ns, owner, processes })
        })
        .collect()
}

/// A process as the records name it; None once it is gone.
fn process(host: &Host, pid: u32) -> Option<ProcessRef> {
    let p = host.process(pid);
    Some(ProcessRef { pid, ppid: p.status()?.ppid, comm: p.comm()? })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::aggregate::model::{GroupKey, NodeModel};
    use crate::host::fixture::Fixture;

    const POD: &str = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b3c4d_0000_1111_2222_333344445555.slice";
    const APP: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const LEFTOVER: &str = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod99999999_0000_1111_2222_333344445555.slice";

    /// A node with one sleeping pod (two processes in its container), a
    /// pod cgroup left behind with no process, and the host's init.
    fn node() -> Fixture {
        let fixture = Fixture::new();
        let app = format!("{POD}/cri-containerd-{APP}.scope");
        fixture.cgroup(&app);
        fixture.cgroup(LEFTOVER);
        fixture.cgroup("/init.scope");
        fixture.write(&format!("sys/fs/cgroup{app}/cgroup.procs"), "300\n301\n");
        fixture.write(&format!("sys/fs/cgroup{LEFTOVER}/cgroup.procs"), "");
        fixture.write("sys/fs/cgroup/init.scope/cgroup.procs", "1\n");
        fixture.write(
            &format!("run/containerd/io.containerd.runtime.v2.task/k8s.io/{APP}/config.json"),
            json!({"annotations": {
                "io.kubernetes.cri.container-type": "container",
                "io.kubernetes.cri.container-name": "worker",
                "io.kubernetes.cri.sandbox-name": "queue-0",
                "io.kubernetes.cri.sandbox-namespace": "jobs",
                "io.kubernetes.cri.sandbox-uid": "1a2b3c4d-0000-1111-2222-333344445555"}})
            .to_string(),
        );
        fixture.process(1).status(0, 0, 0, 0).comm("systemd");
        fixture.process(300).status(1, 0, 0, 0).comm("sleep");
        fixture.process(301).status(300, 0, 0, 0).comm("worker");
        fixture
    }

    #[test]
    fn a_sleeping_pod_is_a_row_with_its_processes_and_zeros() {
        let fixture = node();
        let host = fixture.host();
        let mut enricher = Enricher::new(host.clone(), host.cgroupfs());
        let found = observations(&mut enricher, &host, 1_000, |_, _| true);
        assert_eq!(found.len(), 1, "the pod that runs; not the leftover cgroup, not the host: {found:?}");
        let mut model = NodeModel::new(1.0);
        for o in found {
            model.apply(o);
        }
        let pod = &model.groups[&GroupKey::Pod("1a2b3c4d-0000-1111-2222-333344445555".into())];
        assert_eq!((pod.title.as_str(), pod.namespace.as_deref()), ("queue-0", Some("jobs")));
        assert_eq!(pod.containers[APP].name.as_deref(), Some("worker"));
        assert_eq!(pod.processes.keys().copied().collect::<Vec<_>>(), [300, 301]);
        assert_eq!((pod.processes[&301].comm.as_str(), pod.processes[&301].ppid), ("worker", 300));
        assert_eq!(pod.activity.totals, Default::default(), "nothing seen yet: zeros");
        assert!(!model.groups.contains_key(&GroupKey::Host), "the host row comes from the host's records");
    }

    #[test]
    fn the_runs_filters_choose_what_is_listed() {
        let fixture = node();
        let host = fixture.host();
        let mut enricher = Enricher::new(host.clone(), host.cgroupfs());
        let only_301 = observations(&mut enricher, &host, 1_000, |_, pid| pid == 301);
        let Some(Observation::Present { processes, .. }) = only_301.first() else { panic!("{only_301:?}") };
        assert_eq!(processes.iter().map(|p| p.pid).collect::<Vec<_>>(), [301]);
        assert!(observations(&mut enricher, &host, 1_000, |_, _| false).is_empty());
    }
}
