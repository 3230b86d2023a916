//! The feed the TUI reads: batches of observations from a thread that makes
//! them (live collection, or a recording played back), over a bounded channel,
//! so that drawing never holds up the source and the source never outgrows
//! what the UI takes.

use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;

use anyhow::{anyhow, Result};

use super::model::NodeModel;
use super::observation::Observation;
use crate::records::run::RunInfo;

/// Where observations come from, and the thread producing them.
pub struct Feed {
    pub run: RunInfo,
    observations: Receiver<Vec<Observation>>,
    worker: JoinHandle<Result<()>>,
    /// What is left to do once the thread has ended (a recording's writer to wait for).
    then: Option<Box<dyn FnOnce()>>,
}

/// A bounded channel of batches: its sending end for the thread that makes
/// them, its receiving end for `Feed::new`.
pub fn channel(batches: usize) -> (SyncSender<Vec<Observation>>, Receiver<Vec<Observation>>) {
    mpsc::sync_channel(batches)
}

impl Feed {
    pub fn new(run: RunInfo, observations: Receiver<Vec<Observation>>, worker: JoinHandle<Result<()>>) -> Feed {
        Feed { run, observations, worker, then: None }
    }

    /// `then` runs at `finish`, once the thread has ended.
    pub fn then(mut self, then: impl FnOnce() + 'static) -> Feed {
        self.then = Some(Box::new(then));
        self
    }

    /// Applies what has arrived: (whether anything did, whether the source
    /// is still there; false once it has ended and is drained).
    pub fn drain_into(&self, model: &mut NodeModel) -> (bool, bool) {
        let mut changed = false;
        loop {
            match self.observations.try_recv() {
                Ok(batch) => {
                    changed = true;
                    for o in batch {
                        model.apply(o);
                    }
                }
                Err(TryRecvError::Empty) => return (changed, true),
                Err(TryRecvError::Disconnected) => return (changed, false),
            }
        }
    }

    /// Applies everything the source sends, until it ends.
    pub fn drain_all_into(&self, model: &mut NodeModel) {
        while let Ok(batch) = self.observations.recv() {
            for o in batch {
                model.apply(o);
            }
        }
    }

    pub fn finish(self) -> Result<()> {
        // Dropping the receiver first ends a producer waiting for room in it.
        drop(self.observations);
        let result = join(self.worker);
        if let Some(then) = self.then {
            then();
        }
        result
    }
}

/// The thread's own result, or the error that it panicked.
fn join(worker: JoinHandle<Result<()>>) -> Result<()> {
    worker.join().map_err(|_| anyhow!("the collection thread panicked"))?
}
