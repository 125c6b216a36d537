//! What is known of the tasks running now, so that one that ends — even
//! cancelled — is journaled with when it started, on which worker, and
//! where it went.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use om_core::{Priority, Task, TaskCategory, TaskId};
use parking_lot::Mutex;

/// What the batch knows of a task before it runs, for its results line.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    /// The task's id.
    pub(crate) id: TaskId,
    /// The queue priority.
    pub(crate) priority: Priority,
    /// The category, when the file gave one.
    pub(crate) category: Option<TaskCategory>,
}

impl Meta {
    pub(crate) fn of(task: &Task) -> Self {
        Self { id: task.id.clone(), priority: task.priority, category: task.category }
    }
}

/// A task that is running.
#[derive(Debug, Clone)]
pub(crate) struct RunningTask {
    /// Wall-clock start.
    pub(crate) started_at: SystemTime,
    /// The dispatcher worker.
    pub(crate) worker: usize,
    /// Model and endpoint of the latest placement.
    pub(crate) placement: Option<(String, String)>,
    /// Placements made (attempts, for a task the fleet retries).
    pub(crate) attempts: u32,
}

/// The running tasks, shared by the executor (which adds and places) and
/// the collector (which takes each one out when its task ends).
#[derive(Debug, Clone, Default)]
pub(crate) struct Running {
    tasks: Arc<Mutex<HashMap<TaskId, RunningTask>>>,
}

impl Running {
    /// `id` starts on `worker`.
    pub(crate) fn start(&self, id: &TaskId, worker: usize) {
        let task =
            RunningTask { started_at: SystemTime::now(), worker, placement: None, attempts: 0 };
        self.tasks.lock().insert(id.clone(), task);
    }

    /// `id` is placed (again) on `model` at `endpoint`; returns its worker.
    pub(crate) fn place(&self, id: &TaskId, model: String, endpoint: String) -> Option<usize> {
        let mut tasks = self.tasks.lock();
        let task = tasks.get_mut(id)?;
        task.placement = Some((model, endpoint));
        task.attempts += 1;
        Some(task.worker)
    }

    /// Removes and returns what is known of `id`, once its task has ended.
    pub(crate) fn take(&self, id: &TaskId) -> Option<RunningTask> {
        self.tasks.lock().remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placements_count_and_take_removes() {
        let running = Running::default();
        let id = TaskId::new("t");
        assert_eq!(running.place(&id, "m".into(), "e".into()), None, "not started");
        running.start(&id, 3);
        assert_eq!(running.place(&id, "m".into(), "a".into()), Some(3));
        assert_eq!(running.place(&id, "m".into(), "b".into()), Some(3));
        let task = running.take(&id).expect("it ran");
        assert_eq!((task.worker, task.attempts), (3, 2));
        assert_eq!(task.placement, Some(("m".to_owned(), "b".to_owned())));
        assert!(running.take(&id).is_none());
    }
}
