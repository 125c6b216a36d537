//! A scripted executor that records what ran, when and how many at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use om_core::{Priority, TaskId};
use om_dispatch::{Context, Dispatcher, Event, EventKind, Executor, Runner, Task, TaskError};
use parking_lot::Mutex;
use tokio::time::Instant;

/// What one task does.
#[derive(Debug, Clone)]
pub(crate) struct Work {
    /// How long it runs (virtual time).
    pub(crate) duration: Duration,
    /// How many progress reports it makes first.
    pub(crate) progress: u32,
    /// How it ends.
    pub(crate) end: End,
}

/// How a task ends.
#[derive(Debug, Clone)]
pub(crate) enum End {
    Succeed,
    Fail { kind: &'static str, message: String },
    Panic,
}

impl Work {
    pub(crate) fn ms(ms: u64) -> Self {
        Self { duration: Duration::from_millis(ms), progress: 0, end: End::Succeed }
    }

    pub(crate) fn secs(secs: u64) -> Self {
        Self::ms(secs * 1000)
    }

    pub(crate) fn failing(mut self, kind: &'static str, message: &str) -> Self {
        self.end = End::Fail { kind, message: message.to_owned() };
        self
    }

    pub(crate) fn panicking(mut self) -> Self {
        self.end = End::Panic;
        self
    }

    pub(crate) fn reporting(mut self, progress: u32) -> Self {
        self.progress = progress;
        self
    }
}

/// The error a scripted task fails with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct ScriptError {
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

impl TaskError for ScriptError {
    fn kind_name(&self) -> &'static str {
        self.kind
    }
}

/// The executor: runs [`Work`], records starts and concurrency.
#[derive(Debug, Clone, Default)]
pub(crate) struct Probe {
    inner: Arc<ProbeInner>,
}

#[derive(Debug, Default)]
struct ProbeInner {
    started: Mutex<Vec<(TaskId, Instant)>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
}

impl Probe {
    /// Ids in the order the executor saw them.
    pub(crate) fn started(&self) -> Vec<String> {
        self.inner.started.lock().iter().map(|(id, _)| id.to_string()).collect()
    }

    /// When the executor saw `id`.
    pub(crate) fn started_at(&self, id: &str) -> Option<Instant> {
        self.inner.started.lock().iter().find(|(task, _)| task.as_str() == id).map(|(_, at)| *at)
    }

    /// Tasks executing right now (futures not yet dropped).
    pub(crate) fn running(&self) -> usize {
        self.inner.running.load(Ordering::SeqCst)
    }

    /// The most tasks ever executing at once.
    pub(crate) fn max_running(&self) -> usize {
        self.inner.max_running.load(Ordering::SeqCst)
    }

    /// Forgets the maximum, to measure a new phase.
    pub(crate) fn reset_max(&self) {
        self.inner.max_running.store(self.running(), Ordering::SeqCst);
    }
}

/// Counts a task as running until dropped (also when its future is dropped).
struct Running<'a>(&'a ProbeInner);

impl<'a> Running<'a> {
    fn enter(inner: &'a ProbeInner) -> Self {
        let now = inner.running.fetch_add(1, Ordering::SeqCst) + 1;
        inner.max_running.fetch_max(now, Ordering::SeqCst);
        Self(inner)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Executor for Probe {
    type Payload = Work;
    type Output = String;
    type Error = ScriptError;
    type Progress = u32;

    async fn execute(&self, work: Work, cx: &Context<'_, u32>) -> Result<String, ScriptError> {
        self.inner.started.lock().push((cx.id().clone(), Instant::now()));
        let _running = Running::enter(&self.inner);
        for step in 0..work.progress {
            cx.report(step);
        }
        if work.duration.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(work.duration).await;
        }
        match work.end {
            End::Succeed => Ok(format!("done {}", cx.id())),
            End::Fail { kind, message } => Err(ScriptError { kind, message }),
            End::Panic => panic!("scripted panic in {}", cx.id()),
        }
    }
}

/// Every event a dispatcher emitted, in delivery order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorder {
    events: Arc<Mutex<Vec<Event<u32>>>>,
}

impl Recorder {
    pub(crate) fn callback(&self) -> impl Fn(&Event<u32>) + Send + Sync + 'static {
        let events = Arc::clone(&self.events);
        move |event| events.lock().push(event.clone())
    }

    pub(crate) fn all(&self) -> Vec<Event<u32>> {
        self.events.lock().clone()
    }

    /// The kinds of event `id` saw, in order.
    pub(crate) fn of(&self, id: &str) -> Vec<EventKind<u32>> {
        self.events
            .lock()
            .iter()
            .filter(|event| event.task.as_str() == id)
            .map(|event| event.kind.clone())
            .collect()
    }

    /// Short names of the kinds `id` saw.
    pub(crate) fn names(&self, id: &str) -> Vec<&'static str> {
        self.of(id).iter().map(kind_name).collect()
    }
}

/// A short name for an event kind.
pub(crate) fn kind_name(kind: &EventKind<u32>) -> &'static str {
    match kind {
        EventKind::Queued => "queued",
        EventKind::Started { .. } => "started",
        EventKind::Progress(_) => "progress",
        EventKind::Finished { .. } => "finished",
        EventKind::Failed { .. } => "failed",
        EventKind::Cancelled { .. } => "cancelled",
        _ => "other",
    }
}

/// A task named `id` doing `work` at `priority`.
pub(crate) fn task(id: &str, priority: Priority, work: Work) -> Task<Work> {
    Task::new(id, work).with_priority(priority)
}

/// A dispatcher over a fresh probe with `workers` workers, recording events.
pub(crate) fn dispatcher(workers: usize) -> (Dispatcher<Probe>, Runner<Probe>, Probe, Recorder) {
    let probe = Probe::default();
    let recorder = Recorder::default();
    let (dispatcher, runner) = Dispatcher::builder(probe.clone())
        .workers(std::num::NonZeroUsize::new(workers).expect("workers > 0"))
        .on_event(recorder.callback())
        .build();
    (dispatcher, runner, probe, recorder)
}

/// Lets every ready task run without moving the paused clock.
pub(crate) async fn settle() {
    for _ in 0..64 {
        tokio::task::yield_now().await;
    }
}

/// Task ids as strings, for comparisons.
pub(crate) fn ids(ids: &[TaskId]) -> Vec<&str> {
    ids.iter().map(TaskId::as_str).collect()
}

/// A summary with the live worker count zeroed: a shutdown report is taken
/// while workers are still exiting, `run`'s summary after they have.
pub(crate) fn totals(summary: &om_dispatch::Summary) -> om_dispatch::Summary {
    let mut summary = summary.clone();
    summary.workers = 0;
    summary
}
