//! The background half of a dispatcher: the run loop and its worker loops.
//!
//! Workers are long-lived loops, not a task per job: each takes the next task
//! under the state lock, runs it inline, and records its end in the same
//! critical section that takes the following task. The run loop owns them in
//! a [`JoinSet`], spawns more when the target rises, and awaits them all
//! before it returns; dropping the run future aborts them, and a drop guard
//! reports the task each was running as cancelled.

use std::any::Any;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::error::DispatchError;
use crate::event::{Event, EventKind, Failure, Stage};
use crate::executor::{Context, Executor, TaskError};
use crate::shared::{Ended, Job, Next, Shared, Terminal};
use crate::summary::Summary;

/// Executes a dispatcher's tasks; from [`Builder::build`](crate::Builder::build).
///
/// Spawn [`run`](Self::run) (or await it beside the code that submits). If
/// the runner is dropped without running, or its `run` future is dropped,
/// the dispatcher is cancelled: queued tasks end as cancelled, and so does
/// whatever the workers were running.
pub struct Runner<E: Executor> {
    shared: Arc<Shared<E>>,
    executor: Arc<E>,
}

impl<E: Executor> Runner<E> {
    pub(crate) fn new(shared: Arc<Shared<E>>, executor: Arc<E>) -> Self {
        Self { shared, executor }
    }

    /// Runs the workers until the dispatcher is closed (by
    /// [`Dispatcher::shutdown`](crate::Dispatcher::shutdown),
    /// [`close`](crate::Dispatcher::close) or dropping every handle) and every
    /// accepted task has ended; returns the final summary.
    ///
    /// Cancelling `shutdown` is global cancellation, as
    /// [`Dispatcher::cancel_all`](crate::Dispatcher::cancel_all): queued tasks
    /// end as cancelled, running ones are cancelled through their tokens, and
    /// `run` returns once they have ended.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future aborts the workers and cancels
    /// every queued and running task (each still ends exactly once, as
    /// cancelled).
    pub async fn run(self, shutdown: CancellationToken) -> Summary {
        let shared = &self.shared;
        let mut workers = JoinSet::new();
        let mut cancelled = false;
        tracing::debug!("dispatcher running");
        loop {
            let (spawn, settled) = {
                let mut state = shared.state.lock();
                (state.workers_to_spawn(), state.is_settled())
            };
            for id in spawn {
                workers.spawn(work(Arc::clone(shared), Arc::clone(&self.executor), id));
            }
            if settled {
                break;
            }
            tokio::select! {
                biased;
                () = shutdown.cancelled(), if !cancelled => {
                    cancelled = true;
                    shared.cancel_all();
                }
                // Cancel safe: a notification the dropped future received is
                // handed on, and the loop re-reads the state anyway.
                () = shared.control.notified() => {}
                Some(joined) = workers.join_next() => log_worker_exit(joined),
            }
        }
        // Every task has ended; idle workers see the closed state and exit.
        shared.work.notify_waiters();
        while let Some(joined) = workers.join_next().await {
            log_worker_exit(joined);
        }
        let summary = shared.state.lock().summary();
        tracing::debug!(%summary, "dispatcher stopped");
        summary
    }
}

impl<E: Executor> Drop for Runner<E> {
    fn drop(&mut self) {
        let settled = self.shared.state.lock().is_settled();
        if !settled {
            self.shared.cancel_all();
        }
    }
}

impl<E: Executor> fmt::Debug for Runner<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner").field("shared", &self.shared).finish_non_exhaustive()
    }
}

fn log_worker_exit(joined: Result<(), tokio::task::JoinError>) {
    // Executor and callback panics are caught inside; this is a bug.
    if let Err(err) = joined
        && err.is_panic()
    {
        tracing::error!(error = %err, "dispatcher worker panicked");
    }
}

/// One worker loop: take a task, run it, record it, repeat.
async fn work<E: Executor>(shared: Arc<Shared<E>>, executor: Arc<E>, id: usize) {
    let mut guard = WorkerGuard { shared: &shared, id, exited: false };
    let mut ended: Option<Ended<E>> = None;
    let mut spare: Option<CancellationToken> = None;
    let mut now = Instant::now();
    loop {
        // Made outside the lock; kept for the next task when unused.
        let token = spare.take().unwrap_or_else(|| shared.root.child_token());
        let mut notified = pin!(shared.work.notified());
        let (next, signals) = {
            let mut state = shared.state.lock();
            if let Some(ended) = &ended {
                state.record_ended(ended);
            }
            let next = state.next(id, now, token);
            if matches!(next, Next::Wait(_)) {
                // Registered before `idle` is visible to submitters.
                notified.as_mut().enable();
            }
            (next, state.signals(0))
        };
        signals.apply(&shared);
        if let Some(ended) = ended.take() {
            shared.publish(ended, now);
        }
        match next {
            Next::Run(job) => {
                let done = execute(&shared, &executor, job, id, now).await;
                now = Instant::now();
                ended = Some(done.finish(now));
            }
            Next::Wait(token) => {
                spare = Some(token);
                notified.await;
                now = Instant::now();
            }
            Next::Exit => {
                guard.exited = true;
                return;
            }
        }
    }
}

/// Keeps the worker count right if a worker loop unwinds or is aborted.
struct WorkerGuard<'a, E: Executor> {
    shared: &'a Shared<E>,
    id: usize,
    exited: bool,
}

impl<E: Executor> Drop for WorkerGuard<'_, E> {
    fn drop(&mut self) {
        if !self.exited {
            self.shared.state.lock().retire(self.id);
            self.shared.control.notify_one();
        }
    }
}

/// A task being executed; reports it cancelled if dropped before `finish`.
struct InFlight<'a, E: Executor> {
    shared: &'a Shared<E>,
    ended: Option<Ended<E>>,
}

/// What `execute` hands back: the task's end, not yet timed.
struct Done<'a, E: Executor> {
    flight: InFlight<'a, E>,
    started: Instant,
    result: Option<std::thread::Result<Result<E::Output, E::Error>>>,
    stage: Stage,
}

impl<E: Executor> Done<'_, E> {
    /// Turns the raw result into the task's end, timed at `now`.
    fn finish(mut self, now: Instant) -> Ended<E> {
        let slot = self
            .flight
            .ended
            .take()
            .map(|ended| ended.slot)
            .expect("an in-flight task is only finished once");
        let ran = now.saturating_duration_since(self.started);
        let (terminal, outcome) = match self.result.take() {
            Some(Ok(Ok(output))) => (Terminal::Finished { ran }, Ok(output)),
            Some(Ok(Err(err))) => {
                let failure = Failure { kind: err.kind_name(), message: err.to_string() };
                (Terminal::Failed { ran, failure }, Err(DispatchError::Failed(err)))
            }
            Some(Err(panic)) => {
                let message = panic_message(panic.as_ref());
                tracing::debug!(task = %slot.id, %message, "executor panicked");
                let failure = Failure { kind: "panic", message: message.clone() };
                (Terminal::Failed { ran, failure }, Err(DispatchError::Panicked { message }))
            }
            None => {
                let stage = self.stage;
                (Terminal::Cancelled { stage }, Err(DispatchError::Cancelled { stage }))
            }
        };
        Ended { slot, terminal, outcome }
    }
}

impl<E: Executor> Drop for InFlight<'_, E> {
    fn drop(&mut self) {
        if let Some(ended) = self.ended.take() {
            self.shared.end_running(ended);
        }
    }
}

/// Runs one task until it returns, panics or is cancelled.
async fn execute<'a, E: Executor>(
    shared: &'a Shared<E>,
    executor: &E,
    job: Job<E>,
    worker: usize,
    now: Instant,
) -> Done<'a, E> {
    let Job { slot, payload, waited } = job;
    let flight =
        InFlight { shared, ended: Some(Ended::cancelled(Arc::clone(&slot), Stage::Running)) };
    let token = slot.token().expect("a started task has a token");
    if token.is_cancelled() {
        // Cancelled between being taken and starting: the executor never saw it.
        return Done { flight, started: now, result: None, stage: Stage::Queued };
    }
    shared.events.emit(|| Event {
        task: slot.id.clone(),
        priority: slot.priority,
        at: now,
        kind: EventKind::Started { worker, waited },
    });
    let cx =
        Context { id: &slot.id, priority: slot.priority, worker, token, events: &shared.events };
    let span = tracing::debug_span!("task", task = %slot.id, priority = %slot.priority, worker);
    let run = AssertUnwindSafe(async { executor.execute(payload, &cx).await }).catch_unwind();
    let result = tokio::select! {
        biased;
        result = run.instrument(span) => Some(result),
        () = token.cancelled() => None,
    };
    Done { flight, started: now, result, stage: Stage::Running }
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic payload is not a string".to_owned()
    }
}
