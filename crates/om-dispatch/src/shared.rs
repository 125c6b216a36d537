//! The dispatcher's shared state and every transition of a task through it.
//!
//! One `Arc<Shared>` holds one `Mutex<State>` (mini-redis's shape): the queue,
//! the live counters, the worker bookkeeping and the [`Tally`]. Critical
//! sections are short and synchronous; events are emitted and handles resolved
//! only after the lock is released, so callbacks may call back into the
//! dispatcher. The lock order is state, then slot.
//!
//! Wake-ups use three [`Notify`]s:
//! - `work`: idle workers. A worker registers (`enable`) under the state lock
//!   before it counts itself `idle`, so a submitter that sees `idle > 0` after
//!   pushing always finds a registered waiter for its `notify_one`, and no
//!   wake-up is lost. `idle` counts registered, not yet notified waiters.
//! - `control`: the run loop (spawn workers, stop). `notify_one` keeps a
//!   permit when the loop is busy.
//! - `settled`: callers of `shutdown`, woken when the dispatcher is closed and
//!   nothing is outstanding.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use om_core::TaskId;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{DispatchError, SubmitError};
use crate::event::{Event, EventKind, Events, Failure, Stage};
use crate::executor::Executor;
use crate::handle::TaskHandle;
use crate::queue::PriorityQueue;
use crate::slot::{Outcome, Slot};
use crate::summary::{Summary, Tally};
use crate::task::Task;

/// How many entries a batch pushes per lock acquisition, so workers can take
/// tasks while a large batch is still being enqueued.
const PUSH_CHUNK: usize = 256;

pub(crate) struct Shared<E: Executor> {
    pub(crate) state: Mutex<State<E>>,
    pub(crate) work: Notify,
    pub(crate) control: Notify,
    pub(crate) settled: Notify,
    /// The global token; every running task's token is a child of it.
    pub(crate) root: CancellationToken,
    pub(crate) events: Events<E::Progress>,
    /// Live [`Dispatcher`](crate::Dispatcher) handles; the last one to drop
    /// closes the dispatcher.
    pub(crate) handles: AtomicUsize,
}

pub(crate) struct State<E: Executor> {
    queue: PriorityQueue<Entry<E>>,
    /// Entries in `queue` still `Queued` (cancelled ones stay as tombstones
    /// until a worker or a drain reaches them).
    queued: usize,
    /// Accepted by a submit whose entries are not pushed yet.
    reserved: usize,
    running: usize,
    /// Workers registered on `work` and not yet notified.
    idle: usize,
    /// Worker loops alive (or being spawned).
    workers: usize,
    target: usize,
    free_ids: BinaryHeap<Reverse<usize>>,
    next_id: usize,
    closed: bool,
    /// Set by global cancellation: anything still to be pushed is cancelled.
    cancelling: bool,
    /// Tasks that ended cancelled after `closed` was set, for the shutdown report.
    cancelled_after_close: Vec<(TaskId, Stage)>,
    pub(crate) tally: Tally,
}

/// A queued task: its shared slot and the payload for the executor.
pub(crate) struct Entry<E: Executor> {
    pub(crate) slot: Arc<Slot<E>>,
    pub(crate) payload: E::Payload,
}

/// A task a worker has taken.
pub(crate) struct Job<E: Executor> {
    pub(crate) slot: Arc<Slot<E>>,
    pub(crate) payload: E::Payload,
    pub(crate) waited: Duration,
}

/// What a worker does next.
pub(crate) enum Next<E: Executor> {
    Run(Job<E>),
    /// Wait on `work`; the unused token is handed back for the next task.
    Wait(CancellationToken),
    Exit,
}

/// How a task ended, as the tally and the terminal event see it.
#[derive(Debug, Clone)]
pub(crate) enum Terminal {
    Finished { ran: Duration },
    Failed { ran: Duration, failure: Failure },
    Cancelled { stage: Stage },
}

impl Terminal {
    fn into_kind<P>(self) -> EventKind<P> {
        match self {
            Self::Finished { ran } => EventKind::Finished { ran },
            Self::Failed { ran, failure } => EventKind::Failed { ran, failure },
            Self::Cancelled { stage } => EventKind::Cancelled { stage },
        }
    }
}

/// A task whose end is decided: recorded under the lock, then published.
pub(crate) struct Ended<E: Executor> {
    pub(crate) slot: Arc<Slot<E>>,
    pub(crate) terminal: Terminal,
    pub(crate) outcome: Outcome<E>,
}

impl<E: Executor> Ended<E> {
    pub(crate) fn cancelled(slot: Arc<Slot<E>>, stage: Stage) -> Self {
        Self {
            slot,
            terminal: Terminal::Cancelled { stage },
            outcome: Err(DispatchError::Cancelled { stage }),
        }
    }
}

/// Wake-ups decided under the lock, performed after it is released.
#[must_use]
#[derive(Debug, Default)]
pub(crate) struct Signals {
    wake_workers: usize,
    wake_all_workers: bool,
    settled: bool,
    control: bool,
}

// === impl State ===

impl<E: Executor> State<E> {
    fn new(workers: usize, aging: Option<Duration>) -> Self {
        Self {
            queue: PriorityQueue::new(aging),
            queued: 0,
            reserved: 0,
            running: 0,
            idle: 0,
            workers: 0,
            target: workers,
            free_ids: BinaryHeap::new(),
            next_id: 0,
            closed: false,
            cancelling: false,
            cancelled_after_close: Vec::new(),
            tally: Tally::default(),
        }
    }

    /// Tasks accepted and not yet ended.
    fn outstanding(&self) -> usize {
        self.reserved + self.queued + self.running
    }

    /// True when closed and every accepted task has ended.
    pub(crate) fn is_settled(&self) -> bool {
        self.closed && self.outstanding() == 0
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    pub(crate) fn summary(&self) -> Summary {
        self.tally.summary(self.reserved + self.queued, self.running, self.workers)
    }

    /// The tasks cancelled since the dispatcher closed, split by stage.
    pub(crate) fn cancelled_after_close(&self) -> (Vec<TaskId>, Vec<TaskId>) {
        let mut queued = Vec::new();
        let mut running = Vec::new();
        for (id, stage) in &self.cancelled_after_close {
            match stage {
                Stage::Queued => queued.push(id.clone()),
                Stage::Running => running.push(id.clone()),
            }
        }
        (queued, running)
    }

    /// Queues one accepted entry, or cancels it when global cancellation has
    /// begun (it is then returned for publishing).
    fn push(&mut self, entry: Entry<E>, now: Instant) -> Option<Entry<E>> {
        if self.cancelling && entry.slot.end_queued() {
            self.record_cancelled(&entry.slot.id, Stage::Queued);
            return Some(entry);
        }
        self.queue.push(entry.slot.priority, now, entry);
        self.queued += 1;
        None
    }

    fn record_cancelled(&mut self, id: &TaskId, stage: Stage) {
        self.tally.cancelled(stage);
        if self.closed {
            self.cancelled_after_close.push((id.clone(), stage));
        }
    }

    /// Records the end of a task a worker had taken.
    pub(crate) fn record_ended(&mut self, ended: &Ended<E>) {
        self.running -= 1;
        match &ended.terminal {
            Terminal::Finished { ran } => self.tally.finished(*ran),
            Terminal::Failed { ran, failure } => self.tally.failed(&ended.slot.id, *ran, failure),
            Terminal::Cancelled { stage } => self.record_cancelled(&ended.slot.id, *stage),
        }
    }

    /// The next step of worker `id` at `now`; `token` becomes the task's
    /// cancellation token if a task is taken.
    pub(crate) fn next(
        &mut self,
        id: usize,
        now: Instant,
        mut token: CancellationToken,
    ) -> Next<E> {
        // Retiring the highest numbers keeps worker numbers in `0..target`.
        if id >= self.target {
            self.retire(id);
            return Next::Exit;
        }
        while let Some(popped) = self.queue.pop(now) {
            let Entry { slot, payload } = popped.item;
            match slot.start(token) {
                Ok(()) => {
                    self.queued -= 1;
                    self.running += 1;
                    let waited = now.saturating_duration_since(popped.enqueued);
                    self.tally.wait.record(waited);
                    return Next::Run(Job { slot, payload, waited });
                }
                // A tombstone: cancelled while queued. Skip it.
                Err(unused) => token = unused,
            }
        }
        if self.closed && self.reserved == 0 {
            self.retire(id);
            return Next::Exit;
        }
        self.idle += 1;
        Next::Wait(token)
    }

    /// Forgets worker `id`.
    pub(crate) fn retire(&mut self, id: usize) {
        self.workers -= 1;
        self.free_ids.push(Reverse(id));
    }

    /// Ids for the workers the run loop must spawn now.
    pub(crate) fn workers_to_spawn(&mut self) -> Vec<usize> {
        let mut ids = Vec::new();
        // Once closed, only spawn while there is still work to take.
        while self.workers < self.target && (!self.closed || self.queued + self.reserved > 0) {
            self.workers += 1;
            let id = self.free_ids.pop().map_or_else(
                || {
                    self.next_id += 1;
                    self.next_id - 1
                },
                |Reverse(id)| id,
            );
            ids.push(id);
        }
        ids
    }

    /// The wake-ups owed after a change that pushed `pushed` entries.
    pub(crate) fn signals(&mut self, pushed: usize) -> Signals {
        let mut signals = Signals::default();
        if pushed > 0 {
            let wake = pushed.min(self.idle);
            self.idle -= wake;
            signals.wake_workers = wake;
        }
        // Idle workers of a closed dispatcher with nothing left to take exit.
        if self.closed && self.queued + self.reserved == 0 && self.idle > 0 {
            self.idle = 0;
            signals.wake_all_workers = true;
        }
        if self.is_settled() {
            signals.settled = true;
            signals.control = true;
        }
        // A worker left while the target still wants it (a gap in the numbers).
        if !self.closed && self.workers < self.target {
            signals.control = true;
        }
        signals
    }
}

// === impl Signals ===

impl Signals {
    pub(crate) fn apply<E: Executor>(self, shared: &Shared<E>) {
        for _ in 0..self.wake_workers {
            shared.work.notify_one();
        }
        if self.wake_all_workers {
            shared.work.notify_waiters();
        }
        if self.settled {
            shared.settled.notify_waiters();
        }
        if self.control {
            shared.control.notify_one();
        }
    }

    fn with_control(mut self) -> Self {
        self.control = true;
        self
    }
}

// === impl Shared ===

impl<E: Executor> Shared<E> {
    pub(crate) fn new(
        workers: usize,
        aging: Option<Duration>,
        events: Events<E::Progress>,
    ) -> Self {
        Self {
            state: Mutex::new(State::new(workers, aging)),
            work: Notify::new(),
            control: Notify::new(),
            settled: Notify::new(),
            root: CancellationToken::new(),
            events,
            handles: AtomicUsize::new(1),
        }
    }

    /// Accepts one task.
    pub(crate) fn submit(
        self: &Arc<Self>,
        task: Task<E::Payload>,
    ) -> Result<TaskHandle<E>, SubmitError<Task<E::Payload>>> {
        let Task { id, priority, payload } = task;
        let slot = Arc::new(Slot::new(id, priority));
        let entry = Entry { slot: Arc::clone(&slot), payload };
        let now = Instant::now();
        if self.events.is_observed() {
            // Queued must reach observers before a worker can start the task.
            if !self.reserve(1) {
                return Err(SubmitError::Closed(into_task(entry)));
            }
            self.emit_queued(&slot, now);
            self.push_reserved(vec![entry], now);
        } else {
            let signals = {
                let mut state = self.state.lock();
                if state.closed {
                    drop(state);
                    return Err(SubmitError::Closed(into_task(entry)));
                }
                state.tally.submitted += 1;
                // Not cancelling: that needs `closed`, checked above.
                let _ = state.push(entry, now);
                state.signals(1)
            };
            signals.apply(self);
        }
        Ok(TaskHandle::new(slot, Arc::clone(self)))
    }

    /// Accepts every task or none.
    #[expect(clippy::type_complexity, reason = "the public signature, spelled out")]
    pub(crate) fn submit_batch(
        self: &Arc<Self>,
        tasks: Vec<Task<E::Payload>>,
    ) -> Result<Vec<TaskHandle<E>>, SubmitError<Vec<Task<E::Payload>>>> {
        let mut entries = Vec::with_capacity(tasks.len());
        let mut handles = Vec::with_capacity(tasks.len());
        for Task { id, priority, payload } in tasks {
            let slot = Arc::new(Slot::new(id, priority));
            handles.push(TaskHandle::new(Arc::clone(&slot), Arc::clone(self)));
            entries.push(Entry { slot, payload });
        }
        let now = Instant::now();
        let refuse = |handles: Vec<TaskHandle<E>>, entries: Vec<Entry<E>>| {
            drop(handles);
            SubmitError::Closed(entries.into_iter().map(into_task).collect())
        };
        let observed = self.events.is_observed();
        if observed || entries.len() > PUSH_CHUNK {
            if !self.reserve(entries.len()) {
                return Err(refuse(handles, entries));
            }
            if observed {
                for entry in &entries {
                    self.emit_queued(&entry.slot, now);
                }
            }
            self.push_reserved(entries, now);
        } else {
            let signals = {
                let mut state = self.state.lock();
                if state.closed {
                    drop(state);
                    return Err(refuse(handles, entries));
                }
                state.tally.submitted += entries.len() as u64;
                let pushed = entries.len();
                for entry in entries {
                    let _ = state.push(entry, now);
                }
                state.signals(pushed)
            };
            signals.apply(self);
        }
        Ok(handles)
    }

    /// Counts `n` tasks as accepted unless the dispatcher is closed.
    fn reserve(&self, n: usize) -> bool {
        let mut state = self.state.lock();
        if state.closed {
            return false;
        }
        state.reserved += n;
        state.tally.submitted += n as u64;
        true
    }

    /// Pushes reserved entries in chunks, waking workers as it goes.
    fn push_reserved(&self, entries: Vec<Entry<E>>, now: Instant) {
        let mut entries = entries.into_iter().peekable();
        while entries.peek().is_some() {
            let mut cancelled = Vec::new();
            let signals = {
                let mut state = self.state.lock();
                let mut pushed = 0;
                for entry in entries.by_ref().take(PUSH_CHUNK) {
                    state.reserved -= 1;
                    match state.push(entry, now) {
                        None => pushed += 1,
                        Some(entry) => cancelled.push(entry),
                    }
                }
                state.signals(pushed)
            };
            signals.apply(self);
            for entry in cancelled {
                self.publish(Ended::cancelled(entry.slot, Stage::Queued), now);
            }
        }
    }

    fn emit_queued(&self, slot: &Slot<E>, now: Instant) {
        self.events.emit(|| Event {
            task: slot.id.clone(),
            priority: slot.priority,
            at: now,
            kind: EventKind::Queued,
        });
    }

    /// Delivers the terminal event, then resolves the handle.
    pub(crate) fn publish(&self, ended: Ended<E>, now: Instant) {
        let Ended { slot, terminal, outcome } = ended;
        self.events.emit(|| Event {
            task: slot.id.clone(),
            priority: slot.priority,
            at: now,
            kind: terminal.into_kind(),
        });
        slot.resolve(outcome);
    }

    /// Ends a running task (a worker was dropped mid-task, or finished it
    /// outside the usual loop).
    pub(crate) fn end_running(&self, ended: Ended<E>) {
        let signals = {
            let mut state = self.state.lock();
            state.record_ended(&ended);
            state.signals(0)
        };
        signals.apply(self);
        self.publish(ended, Instant::now());
    }

    /// Cancels one task: a queued one ends now, a running one has its token
    /// cancelled and ends when its worker notices.
    pub(crate) fn cancel_task(&self, slot: &Arc<Slot<E>>) {
        let signals = {
            let mut state = self.state.lock();
            if slot.end_queued() {
                state.queued -= 1;
                state.record_cancelled(&slot.id, Stage::Queued);
                Some(state.signals(0))
            } else {
                None
            }
        };
        match signals {
            Some(signals) => {
                signals.apply(self);
                self.publish(Ended::cancelled(Arc::clone(slot), Stage::Queued), Instant::now());
            }
            None => {
                if let Some(token) = slot.token() {
                    token.cancel();
                }
            }
        }
    }

    /// Stops accepting tasks; queued and running ones carry on.
    pub(crate) fn close(&self) {
        let signals = {
            let mut state = self.state.lock();
            if !state.closed {
                tracing::debug!(
                    queued = state.queued,
                    running = state.running,
                    "dispatcher closed to new tasks"
                );
            }
            state.closed = true;
            state.signals(0).with_control()
        };
        signals.apply(self);
    }

    /// Global cancellation: closes, cancels every queued task now and every
    /// running one through the global token.
    pub(crate) fn cancel_all(&self) {
        let (drained, signals) = {
            let mut state = self.state.lock();
            state.closed = true;
            state.cancelling = true;
            let entries: Vec<Entry<E>> = state.queue.drain().collect();
            let mut drained = Vec::with_capacity(entries.len());
            for entry in entries {
                // Tombstones were already reported when they were cancelled.
                if entry.slot.end_queued() {
                    state.queued -= 1;
                    state.record_cancelled(&entry.slot.id, Stage::Queued);
                    drained.push(entry);
                }
            }
            tracing::debug!(
                queued = drained.len(),
                running = state.running,
                "cancelling every task"
            );
            (drained, state.signals(0).with_control())
        };
        self.root.cancel();
        signals.apply(self);
        let now = Instant::now();
        for entry in drained {
            self.publish(Ended::cancelled(entry.slot, Stage::Queued), now);
        }
    }

    /// Changes the number of workers; the run loop spawns, workers retire.
    pub(crate) fn set_workers(&self, workers: usize) {
        let signals = {
            let mut state = self.state.lock();
            tracing::info!(from = state.target, to = workers, "dispatcher workers changed");
            state.target = workers;
            let mut signals = Signals::default().with_control();
            if state.workers > workers && state.idle > 0 {
                // Idle workers re-check and the surplus retires.
                state.idle = 0;
                signals.wake_all_workers = true;
            }
            signals
        };
        signals.apply(self);
    }

    /// Waits until the dispatcher is closed and every accepted task has ended.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub(crate) async fn settled(&self) {
        loop {
            let mut notified = pin!(self.settled.notified());
            notified.as_mut().enable();
            if self.state.lock().is_settled() {
                return;
            }
            notified.await;
        }
    }
}

/// Rebuilds the task of an entry that was refused.
fn into_task<E: Executor>(entry: Entry<E>) -> Task<E::Payload> {
    Task { id: entry.slot.id.clone(), priority: entry.slot.priority, payload: entry.payload }
}

impl<E: Executor> fmt::Debug for Shared<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("summary", &self.state.lock().summary())
            .finish_non_exhaustive()
    }
}
