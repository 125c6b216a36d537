//! The [`Pool`] handle: checkouts, observation, and the maintenance worker.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::agent::AgentFactory;
use crate::config::{Builder, Config};
use crate::error::{CheckoutError, StateError};
use crate::event::{Event, Events, SpawnCause};
use crate::placement::{Placement, Request};
use crate::pooled::PooledAgent;
use crate::snapshot::Snapshot;
use crate::state::{Effects, Grant, Lease, Refusal, Reservation, State, Step};
use crate::stats::Stats;

/// A pool of agents made by `F`: a cheap, cloneable handle.
///
/// [`checkout`](Self::checkout) lends an agent as a [`PooledAgent`], which
/// goes back to the pool when dropped. [`run`](Self::run) is the maintenance
/// worker (autoscaling, warm spares, idle kills, restores, saving); the pool
/// works without it, but then only grows on demand up to its minimum and
/// spares and never shrinks. See the crate docs for the whole picture.
pub struct Pool<F: AgentFactory> {
    pub(crate) shared: Arc<Shared<F>>,
}

/// What every handle, lent agent and the worker share.
pub(crate) struct Shared<F: AgentFactory> {
    pub(crate) state: Mutex<State<F::Agent>>,
    pub(crate) factory: F,
    /// Wakes the maintenance worker.
    control: Notify,
    state_file: Option<PathBuf>,
    /// Serialises writes of the state file; taken before the state lock.
    save_lock: Mutex<()>,
    restored: Option<Snapshot>,
}

impl<F: AgentFactory> Clone for Pool<F> {
    fn clone(&self) -> Self {
        Self { shared: Arc::clone(&self.shared) }
    }
}

impl<F: AgentFactory> fmt::Debug for Pool<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .field("state_file", &self.shared.state_file)
            .finish_non_exhaustive()
    }
}

impl<F: AgentFactory> Pool<F> {
    /// Starts building a pool whose agents `factory` makes.
    pub fn builder(factory: F) -> Builder<F> {
        Builder::new(factory)
    }

    pub(crate) fn new(
        factory: F,
        config: Config,
        events: Events,
        state_file: Option<PathBuf>,
        restored: Option<Snapshot>,
        now: Instant,
    ) -> Self {
        let state = State::new(config, events, restored.as_ref(), now);
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                factory,
                control: Notify::new(),
                state_file,
                save_lock: Mutex::new(()),
                restored,
            }),
        }
    }

    /// Lends an agent that satisfies `request`.
    ///
    /// In order: an idle matching agent (the most recently returned one);
    /// else, when the pool is below its target size and the quotas allow, a
    /// new agent made for this checkout (evicting idle agents at other
    /// placements if they are in the way); else the checkout waits, first in
    /// first served, until an agent comes back, a slot frees up or the
    /// autoscaler raises the target.
    ///
    /// # Errors
    ///
    /// - [`CheckoutError::Closed`] once the pool is closed (also for
    ///   checkouts waiting at that moment);
    /// - [`CheckoutError::BudgetExhausted`] once the token budget is spent
    ///   (also for checkouts waiting at that moment);
    /// - [`CheckoutError::NoPlacement`] when no placement the pool may use
    ///   matches `request`;
    /// - [`CheckoutError::Spawn`] when the factory failed to make the agent
    ///   for this checkout.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future gives everything back: a waiting checkout leaves
    /// the queue (an agent handed to it in the meantime goes to the next
    /// waiter), and an agent being made for it is abandoned and its slot
    /// freed.
    pub async fn checkout(
        &self,
        request: Request,
    ) -> Result<PooledAgent<F>, CheckoutError<F::Error>> {
        let started = Instant::now();
        let mut fx = Effects::default();
        let step = self.shared.state.lock().checkout(&request, started, &mut fx);
        self.shared.settle(fx);
        let grant = match step {
            Step::Ready(lease) => Grant::Agent(lease),
            Step::Spawn(reservation) => Grant::Spawn(reservation),
            Step::Refused(refusal) => Grant::Refused(refusal),
            Step::Wait { waiter, notify } => {
                let mut guard = WaitGuard { shared: &self.shared, waiter: Some(waiter) };
                loop {
                    notify.notified().await;
                    if let Some(grant) = self.shared.state.lock().collect(waiter) {
                        guard.waiter = None;
                        break grant;
                    }
                }
            }
        };
        match grant {
            Grant::Agent(lease) => Ok(self.lent(lease, request)),
            Grant::Spawn(reservation) => self.spawn_for(reservation, request, started).await,
            Grant::Refused(refusal) => Err(match refusal {
                Refusal::Closed => CheckoutError::Closed,
                Refusal::Budget { used, budget } => CheckoutError::BudgetExhausted { used, budget },
                Refusal::NoPlacement => CheckoutError::NoPlacement { request },
            }),
        }
    }

    fn lent(&self, lease: Lease<F::Agent>, request: Request) -> PooledAgent<F> {
        PooledAgent::new(Arc::clone(&self.shared), lease, request.task)
    }

    /// Makes the agent for a slot reserved for this checkout.
    async fn spawn_for(
        &self,
        reservation: Reservation,
        request: Request,
        started: Instant,
    ) -> Result<PooledAgent<F>, CheckoutError<F::Error>> {
        let guard = SpawnGuard::new(&self.shared, &reservation, SpawnCause::Demand);
        let made = self.shared.factory.spawn(reservation.id, &reservation.placement).await;
        guard.disarm();
        let now = Instant::now();
        let mut fx = Effects::default();
        let result = {
            let mut state = self.shared.state.lock();
            match made {
                Ok(agent) => {
                    let lend = Some((request.task.clone(), now - started));
                    state
                        .spawned(&reservation, agent, SpawnCause::Demand, lend, now, &mut fx)
                        .ok_or(CheckoutError::Closed)
                }
                Err(source) => {
                    state.spawn_failed(
                        &reservation,
                        SpawnCause::Demand,
                        source.to_string(),
                        now,
                        &mut fx,
                    );
                    Err(CheckoutError::Spawn {
                        placement: Placement::clone(&reservation.placement),
                        source,
                    })
                }
            }
        };
        self.shared.settle(fx);
        let agent = result?;
        let lease = Lease { id: reservation.id, placement: reservation.placement, agent };
        Ok(self.lent(lease, request))
    }

    /// Receives every [`Event`] from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.state.lock().subscribe()
    }

    /// The pool's numbers now.
    pub fn stats(&self) -> Stats {
        self.shared.state.lock().stats()
    }

    /// The pool's state now, as it would be saved.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.state.lock().snapshot()
    }

    /// The state restored from the state file when the pool was built, if
    /// there was one.
    pub fn restored(&self) -> Option<&Snapshot> {
        self.shared.restored.as_ref()
    }

    /// Writes the state file now (atomically); does nothing without one.
    /// Blocking: in async code, prefer letting [`run`](Self::run) save, or
    /// call this from `spawn_blocking`.
    ///
    /// # Errors
    ///
    /// [`StateError`] when the file cannot be written.
    pub fn save(&self) -> Result<(), StateError> {
        self.shared.save(Instant::now())
    }

    /// Closes the pool: checkouts fail with [`CheckoutError::Closed`]
    /// (waiting ones too), idle agents are killed, and agents still checked
    /// out are killed when they come back. Idempotent.
    pub fn close(&self) {
        let mut fx = Effects::default();
        self.shared.state.lock().close(&mut fx);
        self.shared.settle(fx);
    }

    /// The maintenance worker: scales up when checkouts wait, kills agents
    /// idle too long, keeps warm spares and the minimum size, brings back
    /// saved agents, and rewrites the state file while anything changes.
    ///
    /// It sleeps until its next deadline (the earliest scale-up, idle kill,
    /// spawn retry or save) or until a change needs it sooner; there is no
    /// fixed tick. Spares and restored agents are made concurrently, in
    /// tasks it owns and awaits.
    ///
    /// When `shutdown` is cancelled it closes the pool (see
    /// [`close`](Self::close)), abandons spawns in progress, writes the state
    /// file a last time and returns.
    ///
    /// # Errors
    ///
    /// [`StateError`] when the last write of the state file fails. Failed
    /// periodic writes are logged and retried.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future instead of cancelling `shutdown` aborts the spawns
    /// in progress (their slots are freed) but neither closes the pool nor
    /// saves.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), StateError> {
        let shared = self.shared;
        let mut spawns = JoinSet::new();
        loop {
            let now = Instant::now();
            let mut fx = Effects::default();
            let plan = shared.state.lock().step(now, &mut fx);
            shared.settle(fx);
            for (reservation, cause) in plan.spawns {
                spawns.spawn(spawn_in_background(Arc::clone(&shared), reservation, cause));
            }
            if plan.save
                && let Err(err) = Shared::save_in_background(&shared, now).await
            {
                tracing::warn!(error = %err, "saving the agent pool state failed; will retry");
                shared.state.lock().save_failed();
            }
            let alarm = plan.alarm;
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(joined) = spawns.join_next(), if !spawns.is_empty() => {
                    if let Err(err) = joined {
                        tracing::error!(error = %err, "an agent spawn panicked");
                    }
                }
                () = shared.control.notified() => {}
                () = tokio::time::sleep_until(alarm.unwrap_or(now)), if alarm.is_some() => {}
            }
        }
        let mut fx = Effects::default();
        shared.state.lock().close(&mut fx);
        shared.settle(fx);
        spawns.shutdown().await;
        if shared.state_file.is_some() {
            Shared::save_in_background(&shared, Instant::now()).await?;
        }
        Ok(())
    }
}

impl<F: AgentFactory> Shared<F> {
    /// Carries out what a state transition left to do outside the lock:
    /// drops dead agents, then frees their slots (which may free more),
    /// wakes the maintenance worker if asked, and last wakes the waiters
    /// handed a grant.
    pub(crate) fn settle(&self, mut fx: Effects<F::Agent>) {
        let mut granted = Vec::new();
        loop {
            if fx.wake {
                self.control.notify_one();
            }
            granted.append(&mut fx.granted);
            if fx.dead.is_empty() {
                break;
            }
            let ids: Vec<_> = fx.dead.iter().map(|(id, _)| *id).collect();
            // The agents are dropped here, outside the lock and before their
            // slots are freed, so quotas hold at every instant.
            drop(fx);
            fx = Effects::default();
            self.state.lock().bury(&ids, Instant::now(), &mut fx);
        }
        // Only now: a grant may be the slot of an agent evicted above, and
        // a waiter woken earlier could make its agent on another thread
        // while the evicted one still lived, one over the quota.
        for waiter in granted {
            waiter.notify_one();
        }
    }

    fn save(&self, now: Instant) -> Result<(), StateError> {
        let Some(path) = &self.state_file else { return Ok(()) };
        let _writing = self.save_lock.lock();
        let snapshot = self.state.lock().snapshot_for_save(now);
        snapshot.save(path)
    }

    async fn save_in_background(shared: &Arc<Self>, now: Instant) -> Result<(), StateError> {
        let shared = Arc::clone(shared);
        match tokio::task::spawn_blocking(move || shared.save(now)).await {
            Ok(result) => result,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }
}

/// Makes a spare or restored agent for the maintenance worker.
async fn spawn_in_background<F: AgentFactory>(
    shared: Arc<Shared<F>>,
    reservation: Reservation,
    cause: SpawnCause,
) {
    let guard = SpawnGuard::new(&shared, &reservation, cause);
    let made = shared.factory.spawn(reservation.id, &reservation.placement).await;
    guard.disarm();
    let now = Instant::now();
    let mut fx = Effects::default();
    {
        let mut state = shared.state.lock();
        match made {
            Ok(agent) => {
                // Not lent, so never handed back here.
                let _ = state.spawned(&reservation, agent, cause, None, now, &mut fx);
            }
            Err(err) => {
                tracing::warn!(agent = %reservation.id, placement = %reservation.placement, %cause, error = %err, "spawning an agent failed");
                state.spawn_failed(&reservation, cause, err.to_string(), now, &mut fx);
            }
        }
    }
    shared.settle(fx);
}

/// Takes a waiting checkout out of the queue if its future is dropped.
struct WaitGuard<'a, F: AgentFactory> {
    shared: &'a Shared<F>,
    waiter: Option<u64>,
}

impl<F: AgentFactory> Drop for WaitGuard<'_, F> {
    fn drop(&mut self) {
        if let Some(waiter) = self.waiter {
            let mut fx = Effects::default();
            self.shared.state.lock().abandon(waiter, Instant::now(), &mut fx);
            self.shared.settle(fx);
        }
    }
}

/// Frees a reserved slot if the spawn future is dropped before it finishes.
struct SpawnGuard<'a, F: AgentFactory> {
    shared: &'a Shared<F>,
    reservation: Option<(&'a Reservation, SpawnCause)>,
}

impl<'a, F: AgentFactory> SpawnGuard<'a, F> {
    fn new(shared: &'a Shared<F>, reservation: &'a Reservation, cause: SpawnCause) -> Self {
        Self { shared, reservation: Some((reservation, cause)) }
    }

    fn disarm(mut self) {
        self.reservation = None;
    }
}

impl<F: AgentFactory> Drop for SpawnGuard<'_, F> {
    fn drop(&mut self) {
        if let Some((reservation, cause)) = self.reservation.take() {
            let mut fx = Effects::default();
            let error = "abandoned before the agent was ready".to_owned();
            self.shared.state.lock().spawn_failed(
                reservation,
                cause,
                error,
                Instant::now(),
                &mut fx,
            );
            self.shared.settle(fx);
        }
    }
}
