//! Error aggregation and timing: what a dispatcher did, as one value.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use om_core::TaskId;

use crate::event::{Failure, Stage};

/// A snapshot of what the dispatcher has done: counts per status, failures
/// grouped by kind and message, queue and run times.
///
/// Taken by [`Dispatcher::summary`](crate::Dispatcher::summary), returned by
/// [`Runner::run`](crate::Runner::run) and inside a
/// [`ShutdownReport`](crate::ShutdownReport). Every accepted task is counted
/// in exactly one of `queued`, `running`, `finished`, `failed` and
/// `cancelled`, so `submitted` is their sum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// Tasks accepted by `submit` or `submit_batch`.
    pub submitted: u64,
    /// Tasks waiting for a worker (including ones being enqueued).
    pub queued: usize,
    /// Tasks a worker is executing.
    pub running: usize,
    /// Tasks whose executor returned an output.
    pub finished: u64,
    /// Tasks whose executor returned an error or panicked.
    pub failed: u64,
    /// Tasks cancelled while queued or running.
    pub cancelled: u64,
    /// Of `cancelled`, those cancelled while still queued.
    pub cancelled_queued: u64,
    /// Worker loops alive right now.
    pub workers: usize,
    /// Time in the queue, for every task a worker took.
    pub wait: DurationStats,
    /// Execution time of finished tasks.
    pub run_finished: DurationStats,
    /// Execution time of failed tasks.
    pub run_failed: DurationStats,
    /// Failures grouped by kind and message, most frequent first.
    pub failures: Vec<FailureGroup>,
}

impl Summary {
    /// Tasks that reached a terminal status.
    pub fn completed(&self) -> u64 {
        self.finished + self.failed + self.cancelled
    }

    /// Tasks not yet completed.
    pub fn outstanding(&self) -> usize {
        self.queued + self.running
    }

    /// True when every accepted task finished successfully.
    pub fn is_all_finished(&self) -> bool {
        self.finished == self.submitted
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} submitted: {} finished, {} failed, {} cancelled, {} running, {} queued",
            self.submitted, self.finished, self.failed, self.cancelled, self.running, self.queued
        )
    }
}

/// Count, total, minimum and maximum of a set of durations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DurationStats {
    /// How many durations were recorded.
    pub count: u64,
    /// Their sum.
    pub total: Duration,
    /// The shortest (zero when `count` is zero).
    pub min: Duration,
    /// The longest.
    pub max: Duration,
}

impl DurationStats {
    /// The mean, or `None` when nothing was recorded.
    pub fn mean(&self) -> Option<Duration> {
        let count = u32::try_from(self.count).unwrap_or(u32::MAX);
        (count > 0).then(|| self.total / count)
    }

    pub(crate) fn record(&mut self, duration: Duration) {
        self.min = if self.count == 0 { duration } else { self.min.min(duration) };
        self.max = self.max.max(duration);
        self.total = self.total.saturating_add(duration);
        self.count += 1;
    }
}

/// Failures that share a kind and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailureGroup {
    /// The kind and message they share.
    pub failure: Failure,
    /// The tasks that failed this way, in completion order.
    pub tasks: Vec<TaskId>,
}

impl FailureGroup {
    /// How many tasks failed this way.
    pub fn count(&self) -> usize {
        self.tasks.len()
    }
}

/// The running totals behind a [`Summary`]; lives in the dispatcher's state.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) submitted: u64,
    pub(crate) finished: u64,
    pub(crate) failed: u64,
    pub(crate) cancelled: u64,
    pub(crate) cancelled_queued: u64,
    pub(crate) wait: DurationStats,
    pub(crate) run_finished: DurationStats,
    pub(crate) run_failed: DurationStats,
    /// Ordered by failure so the summary is deterministic.
    failures: BTreeMap<Failure, Vec<TaskId>>,
}

impl Tally {
    pub(crate) fn finished(&mut self, ran: Duration) {
        self.finished += 1;
        self.run_finished.record(ran);
    }

    pub(crate) fn failed(&mut self, task: &TaskId, ran: Duration, failure: &Failure) {
        self.failed += 1;
        self.run_failed.record(ran);
        match self.failures.get_mut(failure) {
            Some(tasks) => tasks.push(task.clone()),
            None => {
                self.failures.insert(failure.clone(), vec![task.clone()]);
            }
        }
    }

    pub(crate) fn cancelled(&mut self, stage: Stage) {
        self.cancelled += 1;
        if stage == Stage::Queued {
            self.cancelled_queued += 1;
        }
    }

    /// The summary, with the live counts supplied by the caller.
    pub(crate) fn summary(&self, queued: usize, running: usize, workers: usize) -> Summary {
        let mut failures: Vec<FailureGroup> = self
            .failures
            .iter()
            .map(|(failure, tasks)| FailureGroup { failure: failure.clone(), tasks: tasks.clone() })
            .collect();
        // Stable: equal counts keep the map's (kind, message) order.
        failures.sort_by_key(|group| std::cmp::Reverse(group.count()));
        Summary {
            submitted: self.submitted,
            queued,
            running,
            finished: self.finished,
            failed: self.failed,
            cancelled: self.cancelled,
            cancelled_queued: self.cancelled_queued,
            workers,
            wait: self.wait,
            run_finished: self.run_finished,
            run_failed: self.run_failed,
            failures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_group_by_kind_and_message_most_frequent_first() {
        let mut tally = Tally::default();
        let timeout = Failure { kind: "timeout", message: "took too long".to_owned() };
        let busy = Failure { kind: "busy", message: "server busy".to_owned() };
        tally.failed(&TaskId::new("a"), Duration::from_secs(1), &busy);
        tally.failed(&TaskId::new("b"), Duration::from_secs(3), &timeout);
        tally.failed(&TaskId::new("c"), Duration::from_secs(2), &timeout);
        tally.finished(Duration::from_secs(4));
        tally.cancelled(Stage::Queued);
        tally.cancelled(Stage::Running);
        tally.submitted = 6;

        let summary = tally.summary(0, 0, 2);
        assert_eq!(summary.completed(), 6);
        assert_eq!((summary.cancelled, summary.cancelled_queued), (2, 1));
        assert_eq!(summary.failures.len(), 2);
        assert_eq!(summary.failures[0].failure, timeout);
        assert_eq!(summary.failures[0].tasks, [TaskId::new("b"), TaskId::new("c")]);
        assert_eq!(summary.failures[1].count(), 1);
        assert_eq!(summary.run_failed.count, 3);
        assert_eq!(summary.run_failed.min, Duration::from_secs(1));
        assert_eq!(summary.run_failed.max, Duration::from_secs(3));
        assert_eq!(summary.run_failed.mean(), Some(Duration::from_secs(2)));
        assert_eq!(summary.wait.mean(), None);
        assert_eq!(
            summary.to_string(),
            "6 submitted: 1 finished, 3 failed, 2 cancelled, 0 running, 0 queued"
        );
    }
}
