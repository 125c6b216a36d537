//! The pool's state and every transition of an agent through it.
//!
//! One `Mutex<State>` in the pool's `Shared` (mini-redis's shape) holds the
//! agent records, the idle agents, the waiting checkouts and the counters.
//! Every method here runs under that lock, is synchronous and short, and
//! takes the current time as an argument, so the rules can be read (and
//! tested) without any async machinery. Work that must not happen under the
//! lock comes back in [`Effects`]: agents to drop, and whether the
//! maintenance worker must wake.
//!
//! # Counting
//!
//! An agent has a record from the moment its slot is reserved (before the
//! factory runs) until after the agent object has been dropped. Quotas and
//! the size limits count records, so at no instant do more agents exist than
//! the limits allow: a slot is reserved before an agent is made and freed
//! only after it is gone ([`State::bury`]).
//!
//! # Sizes
//!
//! - `floor = clamp(max(min, busy + spares), ..max)`: what the maintenance
//!   worker keeps by spawning spares on its own.
//! - `target = clamp(max(floor, scaled), ..max)`: up to where a checkout may
//!   spawn an agent for itself. `scaled` rises when the autoscaler sees
//!   waiters for long enough (or enough of them at once) and falls when idle
//!   agents are killed.
//!
//! # Waiters
//!
//! A checkout that finds no agent and no room waits in a FIFO queue. Whenever
//! something frees up (a check-in, a slot, a raised target), [`State::serve`]
//! walks the queue in order and hands each waiter that can now be served a
//! [`Grant`]: an idle agent, or a reserved slot to spawn into. The grant is
//! stored here, under the lock, and the waiter is woken to collect it; a
//! waiter that gave up hands an uncollected grant back, so nothing is lost.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use om_core::TaskId;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::agent::Agent;
use crate::config::Config;
use crate::event::{EventKind, Events, KillReason, RecycleReason, SpawnCause};
use crate::placement::{AgentId, Placement, Request};
use crate::pooled::Disposition;
use crate::quota::Quota;
use crate::snapshot::{AgentRecord, AgentStatus, Finished, STATE_VERSION, Snapshot};
use crate::stats::Stats;

/// What a state transition leaves for the caller to do after unlocking.
pub(crate) struct Effects<A> {
    /// Agents to drop outside the lock, then [`State::bury`].
    pub(crate) dead: Vec<(AgentId, A)>,
    /// The maintenance worker has something to do sooner than it planned.
    pub(crate) wake: bool,
    /// Waiters handed a grant, to be woken once `dead` is dropped: a grant
    /// may be a slot freed by evicting an agent, and the waiter (on another
    /// thread) must not make its agent while the evicted one still exists.
    pub(crate) granted: Vec<Arc<Notify>>,
}

impl<A> Default for Effects<A> {
    fn default() -> Self {
        Self { dead: Vec::new(), wake: false, granted: Vec::new() }
    }
}

/// An agent lent to a checkout.
pub(crate) struct Lease<A> {
    pub(crate) id: AgentId,
    pub(crate) placement: Arc<Placement>,
    pub(crate) agent: A,
}

/// A reserved slot a new agent is to be made into.
#[derive(Debug, Clone)]
pub(crate) struct Reservation {
    pub(crate) id: AgentId,
    pub(crate) placement: Arc<Placement>,
}

/// Why a checkout is refused outright.
#[derive(Debug, Clone)]
pub(crate) enum Refusal {
    Closed,
    Budget { used: u64, budget: u64 },
    NoPlacement,
}

/// What a waiting checkout is handed.
pub(crate) enum Grant<A> {
    Agent(Lease<A>),
    Spawn(Reservation),
    Refused(Refusal),
}

/// What a checkout does next.
pub(crate) enum Step<A> {
    Ready(Lease<A>),
    Spawn(Reservation),
    Wait { waiter: u64, notify: Arc<Notify> },
    Refused(Refusal),
}

/// What a checkout brings back besides the agent.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) task: Option<TaskId>,
    pub(crate) runs: u64,
    pub(crate) errors: u64,
    pub(crate) tokens: u64,
    /// A run was dropped half-way.
    pub(crate) abandoned: bool,
    /// The caller asked for the agent to be recycled.
    pub(crate) retire: bool,
}

/// What the maintenance worker does after one step.
pub(crate) struct Plan {
    pub(crate) spawns: Vec<(Reservation, SpawnCause)>,
    pub(crate) save: bool,
    pub(crate) alarm: Option<Instant>,
}

/// Why a new agent cannot be placed right now.
enum Blocked {
    /// The pool is at its target (or maximum) size.
    Capacity,
    /// A quota is full (boxed: it is the rare, large case).
    Quota(Box<Quota>),
}

/// A placement a new agent can go to, and the idle agents (by index, in
/// ascending order) that must be evicted first.
struct Choice {
    placement: Arc<Placement>,
    evict: Vec<usize>,
}

struct Record {
    placement: Arc<Placement>,
    status: AgentStatus,
    runs: u64,
    errors: u64,
    tokens: u64,
}

struct Idle<A> {
    id: AgentId,
    placement: Arc<Placement>,
    agent: A,
    since: Instant,
}

struct Waiter {
    id: u64,
    request: Request,
    notify: Arc<Notify>,
    since: Instant,
    quota_reported: bool,
}

pub(crate) struct State<A> {
    config: Config,
    events: Events,
    agents: BTreeMap<AgentId, Record>,
    /// Oldest first: check-ins push at the end and checkouts take from the
    /// end, so the agents at the front are the ones idle the longest.
    idle: Vec<Idle<A>>,
    waiters: VecDeque<Waiter>,
    grants: HashMap<u64, Grant<A>>,
    /// Saved agents still to be brought back by the maintenance worker.
    restore: VecDeque<AgentRecord>,
    finished: VecDeque<Finished>,
    next_agent: u64,
    next_waiter: u64,
    tokens_used: u64,
    scaled: usize,
    spawning: usize,
    busy: usize,
    dying: usize,
    /// Since when checkouts have been waiting without a scale-up.
    waiting_since: Option<Instant>,
    closed: bool,
    budget_reported: bool,
    dirty: bool,
    last_save: Instant,
    /// When the maintenance worker plans to wake next; a change that needs
    /// it sooner sets [`Effects::wake`].
    alarm: Option<Instant>,
    /// Backoff after a failed spare or restore spawn.
    retry_at: Option<Instant>,
    backoff: Duration,
}

impl<A: Agent> State<A> {
    pub(crate) fn new(
        config: Config,
        events: Events,
        restored: Option<&Snapshot>,
        now: Instant,
    ) -> Self {
        let mut state = Self {
            scaled: config.min,
            backoff: config.spawn_backoff,
            config,
            events,
            agents: BTreeMap::new(),
            idle: Vec::new(),
            waiters: VecDeque::new(),
            grants: HashMap::new(),
            restore: VecDeque::new(),
            finished: VecDeque::new(),
            next_agent: 1,
            next_waiter: 0,
            tokens_used: 0,
            spawning: 0,
            busy: 0,
            dying: 0,
            waiting_since: None,
            closed: false,
            budget_reported: false,
            dirty: false,
            last_save: now,
            alarm: None,
            retry_at: None,
        };
        if let Some(snapshot) = restored {
            state.next_agent = snapshot
                .next_agent
                .max(snapshot.agents.iter().map(|agent| agent.id.as_u64() + 1).max().unwrap_or(1));
            state.tokens_used = snapshot.tokens_used;
            state.budget_reported = state.budget_spent().is_some();
            state.finished = snapshot.finished.iter().cloned().collect();
            state.trim_history();
            state.restore = snapshot
                .agents
                .iter()
                .filter(|agent| agent.status != AgentStatus::Dying)
                .cloned()
                .collect();
            state.scaled = state.scaled.max(state.restore.len());
        }
        state
    }

    // === sizes ===

    /// Records, including slots being spawned into and agents being dropped.
    fn size(&self) -> usize {
        self.agents.len()
    }

    /// Agents not on their way out.
    fn live(&self) -> usize {
        self.agents.len() - self.dying
    }

    fn floor(&self) -> usize {
        self.config.min.max(self.busy + self.config.spares).min(self.config.max)
    }

    fn target(&self) -> usize {
        self.floor().max(self.scaled).min(self.config.max)
    }

    fn budget_spent(&self) -> Option<u64> {
        self.config.budget.filter(|budget| self.tokens_used >= *budget)
    }

    // === checkout ===

    /// Why `request` cannot be served at all, if it cannot.
    fn refusal(&self, request: &Request) -> Option<Refusal> {
        if self.closed {
            return Some(Refusal::Closed);
        }
        if let Some(budget) = self.budget_spent() {
            return Some(Refusal::Budget { used: self.tokens_used, budget });
        }
        let placeable =
            self.config.placements.iter().any(|placement| {
                request.matches(placement) && self.config.quotas.admits(placement)
            }) || request.exact().is_some_and(|placement| self.config.quotas.admits(&placement));
        (!placeable).then_some(Refusal::NoPlacement)
    }

    /// Serves a checkout at once if it can, else queues it.
    pub(crate) fn checkout(
        &mut self,
        request: &Request,
        now: Instant,
        fx: &mut Effects<A>,
    ) -> Step<A> {
        if let Some(refusal) = self.refusal(request) {
            return Step::Refused(refusal);
        }
        let step = match self.acquire(request, fx) {
            Ok(Ok(lease)) => {
                self.lend(lease.id, request.task.clone(), Duration::ZERO);
                // A raised floor may make room for a waiter.
                self.serve(now, fx);
                Step::Ready(lease)
            }
            Ok(Err(reservation)) => Step::Spawn(reservation),
            Err(blocked) => {
                let mut waiter = Waiter {
                    id: self.next_waiter,
                    request: request.clone(),
                    notify: Arc::new(Notify::new()),
                    since: now,
                    quota_reported: false,
                };
                self.next_waiter += 1;
                self.report_blocked(&mut waiter, blocked);
                let step = Step::Wait { waiter: waiter.id, notify: Arc::clone(&waiter.notify) };
                self.waiters.push_back(waiter);
                self.waiting_since.get_or_insert(now);
                tracing::debug!(waiters = self.waiters.len(), "checkout waits");
                step
            }
        };
        self.poke(now, fx);
        step
    }

    /// Takes the grant handed to `waiter`, if there is one.
    pub(crate) fn collect(&mut self, waiter: u64) -> Option<Grant<A>> {
        self.grants.remove(&waiter)
    }

    /// A waiting checkout gave up: leaves the queue and hands back anything
    /// it was granted but had not collected.
    pub(crate) fn abandon(&mut self, waiter: u64, now: Instant, fx: &mut Effects<A>) {
        if let Some(position) = self.waiters.iter().position(|w| w.id == waiter) {
            self.waiters.remove(position);
            if self.waiters.is_empty() {
                self.waiting_since = None;
            }
        }
        match self.grants.remove(&waiter) {
            Some(Grant::Agent(lease)) => {
                self.checkin(lease.id, lease.agent, Report::default(), now, fx);
            }
            Some(Grant::Spawn(reservation)) => {
                self.release(reservation.id);
                self.serve(now, fx);
                self.poke(now, fx);
            }
            Some(Grant::Refused(_)) | None => {}
        }
    }

    /// An idle agent matching `request` (LIFO), or a reserved slot for a new
    /// one, evicting idle agents in the way; or why neither is possible.
    fn acquire(
        &mut self,
        request: &Request,
        fx: &mut Effects<A>,
    ) -> Result<Result<Lease<A>, Reservation>, Blocked> {
        let mut index = self.idle.len();
        while index > 0 {
            index -= 1;
            if !request.matches(&self.idle[index].placement) {
                continue;
            }
            let idle = self.idle.remove(index);
            if !idle.agent.is_healthy() {
                self.retire(idle.id, Retirement::Recycle(RecycleReason::Unhealthy));
                fx.dead.push((idle.id, idle.agent));
                continue;
            }
            return Ok(Ok(Lease { id: idle.id, placement: idle.placement, agent: idle.agent }));
        }
        let choice = self.choose(request, self.target(), true)?;
        for index in choice.evict.into_iter().rev() {
            let idle = self.idle.remove(index);
            self.retire(idle.id, Retirement::Kill(KillReason::Evicted));
            fx.dead.push((idle.id, idle.agent));
        }
        Ok(Err(self.reserve(choice.placement, None)))
    }

    /// Picks where a new agent for `request` goes, keeping the pool at or
    /// below `limit` agents and within quotas. Prefers a placement that needs
    /// no eviction and, among those, the one with the fewest agents (then the
    /// fewest on its endpoint), so agents spread over the fleet.
    fn choose(&self, request: &Request, limit: usize, evict: bool) -> Result<Choice, Blocked> {
        let exact = request
            .exact()
            .filter(|exact| !self.config.placements.iter().any(|p| **p == *exact))
            .map(Arc::new);
        let candidates = self
            .config
            .placements
            .iter()
            .chain(exact.as_ref())
            .filter(|placement| request.matches(placement));
        let mut best: Option<((usize, usize), &Arc<Placement>)> = None;
        let mut evicting: Option<Choice> = None;
        let mut blocked = Blocked::Capacity;
        for placement in candidates {
            let (model_limit, endpoint_limit) = (
                self.config.quotas.model(&placement.model),
                self.config.quotas.endpoint(&placement.endpoint),
            );
            let (mut same, mut model, mut endpoint) = (0, 0, 0);
            for record in self.agents.values() {
                let on_model = record.placement.model == placement.model;
                let on_endpoint = record.placement.endpoint == placement.endpoint;
                model += usize::from(on_model);
                endpoint += usize::from(on_endpoint);
                same += usize::from(on_model && on_endpoint);
            }
            let over = |count: usize, limit: usize| (count + 1).saturating_sub(limit);
            let deficit = [
                over(self.size(), limit.min(self.config.max)),
                over(model, model_limit),
                over(endpoint, endpoint_limit),
            ];
            if deficit == [0, 0, 0] {
                if best.is_none_or(|(rank, _)| (same, endpoint) < rank) {
                    best = Some(((same, endpoint), placement));
                }
                continue;
            }
            if deficit[0] == 0 && matches!(blocked, Blocked::Capacity) {
                blocked = Blocked::Quota(Box::new(if deficit[1] > 0 {
                    Quota::Model { model: placement.model.clone(), limit: model_limit }
                } else {
                    Quota::Endpoint { endpoint: placement.endpoint.clone(), limit: endpoint_limit }
                }));
            }
            if evict && evicting.is_none() {
                evicting = self
                    .evictions(placement, deficit)
                    .map(|evict| Choice { placement: Arc::clone(placement), evict });
            }
        }
        if let Some((_, placement)) = best {
            return Ok(Choice { placement: Arc::clone(placement), evict: Vec::new() });
        }
        evicting.ok_or(blocked)
    }

    /// Idle agents whose eviction would make room for one more agent at
    /// `placement`, oldest first; `None` when evicting every idle agent would
    /// not be enough.
    fn evictions(&self, placement: &Placement, mut deficit: [usize; 3]) -> Option<Vec<usize>> {
        let mut evict = Vec::new();
        for (index, idle) in self.idle.iter().enumerate() {
            if deficit == [0, 0, 0] {
                break;
            }
            let frees = [
                true,
                idle.placement.model == placement.model,
                idle.placement.endpoint == placement.endpoint,
            ];
            if deficit.iter().zip(frees).any(|(need, frees)| *need > 0 && frees) {
                for (need, frees) in deficit.iter_mut().zip(frees) {
                    if frees {
                        *need = need.saturating_sub(1);
                    }
                }
                evict.push(index);
            }
        }
        (deficit == [0, 0, 0]).then_some(evict)
    }

    fn reserve(
        &mut self,
        placement: Arc<Placement>,
        restored: Option<&AgentRecord>,
    ) -> Reservation {
        let id = if let Some(record) = restored {
            record.id
        } else {
            self.next_agent += 1;
            AgentId::new(self.next_agent - 1)
        };
        let (runs, errors, tokens) = restored.map_or((0, 0, 0), |r| (r.runs, r.errors, r.tokens));
        self.agents.insert(
            id,
            Record {
                placement: Arc::clone(&placement),
                status: AgentStatus::Spawning,
                runs,
                errors,
                tokens,
            },
        );
        self.spawning += 1;
        self.dirty = true;
        Reservation { id, placement }
    }

    /// Frees a reserved slot whose agent was never made.
    fn release(&mut self, id: AgentId) {
        if self.agents.remove(&id).is_some() {
            self.spawning -= 1;
            self.dirty = true;
        }
    }

    fn lend(&mut self, id: AgentId, task: Option<TaskId>, waited: Duration) {
        if let Some(record) = self.agents.get_mut(&id) {
            record.status = AgentStatus::Busy { task: task.clone() };
        }
        self.busy += 1;
        self.dirty = true;
        tracing::debug!(agent = %id, task = ?task, ?waited, "checked out");
        self.events.emit(|| EventKind::CheckedOut { agent: id, task, waited });
    }

    fn report_blocked(&self, waiter: &mut Waiter, blocked: Blocked) {
        if let Blocked::Quota(quota) = blocked
            && !waiter.quota_reported
        {
            waiter.quota_reported = true;
            tracing::debug!(%quota, "quota hit");
            self.events.emit(|| EventKind::QuotaHit { quota: *quota });
        }
    }

    /// Hands out whatever can be handed out to the waiters, in order.
    ///
    /// Lending an agent raises the floor when spares are configured, which
    /// can make room for a waiter passed over earlier, so the queue is walked
    /// again until a pass serves nobody.
    fn serve(&mut self, now: Instant, fx: &mut Effects<A>) {
        while self.serve_pass(now, fx) {}
        if self.waiters.is_empty() {
            self.waiting_since = None;
        }
    }

    /// One walk of the queue; true when a waiter was served and others
    /// were passed over.
    fn serve_pass(&mut self, now: Instant, fx: &mut Effects<A>) -> bool {
        let (mut served, mut skipped) = (false, false);
        let mut index = 0;
        while index < self.waiters.len() {
            // Nothing to lend, no room to spawn, nobody to evict.
            if self.idle.is_empty() && self.size() >= self.target() {
                break;
            }
            let Some(mut waiter) = self.waiters.remove(index) else { break };
            match self.acquire(&waiter.request, fx) {
                Ok(acquired) => {
                    let grant = match acquired {
                        Ok(lease) => {
                            self.lend(lease.id, waiter.request.task.take(), now - waiter.since);
                            Grant::Agent(lease)
                        }
                        Err(reservation) => Grant::Spawn(reservation),
                    };
                    self.grants.insert(waiter.id, grant);
                    fx.granted.push(waiter.notify);
                    served = true;
                }
                Err(blocked) => {
                    self.report_blocked(&mut waiter, blocked);
                    self.waiters.insert(index, waiter);
                    index += 1;
                    skipped = true;
                }
            }
        }
        served && skipped && !self.waiters.is_empty()
    }

    fn refuse_waiters(&mut self, refusal: &Refusal, fx: &mut Effects<A>) {
        for waiter in self.waiters.drain(..) {
            self.grants.insert(waiter.id, Grant::Refused(refusal.clone()));
            fx.granted.push(waiter.notify);
        }
        self.waiting_since = None;
    }

    // === spawning ===

    /// A reserved slot now has its agent. A demand spawn (`lend` is the task
    /// and time waited) gets the agent back; a spare becomes idle. `None`
    /// when the pool closed in the meantime and the agent is to be dropped.
    pub(crate) fn spawned(
        &mut self,
        reservation: &Reservation,
        agent: A,
        cause: SpawnCause,
        lend: Option<(Option<TaskId>, Duration)>,
        now: Instant,
        fx: &mut Effects<A>,
    ) -> Option<A> {
        let id = reservation.id;
        if let Some(record) = self.agents.get_mut(&id) {
            record.status = AgentStatus::Idle;
        }
        self.spawning -= 1;
        self.backoff = self.config.spawn_backoff;
        self.retry_at = None;
        let placement = &reservation.placement;
        tracing::info!(agent = %id, %placement, %cause, "agent spawned");
        self.events.emit(|| EventKind::Spawned {
            agent: id,
            placement: Placement::clone(placement),
            cause,
        });
        if self.closed {
            self.retire(id, Retirement::Kill(KillReason::Closed));
            fx.dead.push((id, agent));
            return None;
        }
        let lent = if let Some((task, waited)) = lend {
            self.lend(id, task, waited);
            Some(agent)
        } else {
            self.idle.push(Idle { id, placement: Arc::clone(placement), agent, since: now });
            None
        };
        self.serve(now, fx);
        self.dirty = true;
        self.poke(now, fx);
        lent
    }

    /// Making the agent for a reserved slot failed (or was abandoned).
    pub(crate) fn spawn_failed(
        &mut self,
        reservation: &Reservation,
        cause: SpawnCause,
        error: String,
        now: Instant,
        fx: &mut Effects<A>,
    ) {
        self.release(reservation.id);
        if cause != SpawnCause::Demand {
            self.retry_at = Some(now + self.backoff);
            self.backoff = (self.backoff * 2).min(self.config.spawn_backoff_max);
        }
        self.events.emit(|| EventKind::SpawnFailed {
            agent: reservation.id,
            placement: Placement::clone(&reservation.placement),
            cause,
            error,
        });
        self.serve(now, fx);
        self.poke(now, fx);
    }

    // === check-in and retirement ===

    /// A lent agent comes back: its counters are charged, then it goes idle
    /// or is recycled.
    pub(crate) fn checkin(
        &mut self,
        id: AgentId,
        agent: A,
        report: Report,
        now: Instant,
        fx: &mut Effects<A>,
    ) -> Disposition {
        self.busy -= 1;
        self.dirty = true;
        self.tokens_used += report.tokens;
        let mut placement = None;
        let mut runs = 0;
        if let Some(record) = self.agents.get_mut(&id) {
            record.runs += report.runs;
            record.errors += report.errors;
            record.tokens += report.tokens;
            record.status = AgentStatus::Idle;
            placement = Some(Arc::clone(&record.placement));
            runs = record.runs;
        }
        if report.runs > 0 {
            self.finished.push_back(Finished {
                task: report.task,
                agent: id,
                ok: report.errors == 0,
                runs: report.runs,
                tokens: report.tokens,
            });
            self.trim_history();
        }
        tracing::debug!(agent = %id, runs = report.runs, errors = report.errors, "checked in");
        self.events.emit(|| EventKind::CheckedIn {
            agent: id,
            runs: report.runs,
            errors: report.errors,
            tokens: report.tokens,
        });
        if let Some(budget) = self.budget_spent()
            && !self.budget_reported
        {
            self.budget_reported = true;
            let used = self.tokens_used;
            tracing::info!(used, budget, "token budget exhausted");
            self.events.emit(|| EventKind::BudgetExhausted { used, budget });
            self.refuse_waiters(&Refusal::Budget { used, budget }, fx);
        }
        let disposition = if self.closed {
            Disposition::Killed(KillReason::Closed)
        } else if report.abandoned {
            Disposition::Recycled(RecycleReason::Abandoned)
        } else if report.retire {
            Disposition::Recycled(RecycleReason::Retired)
        } else if report.errors > 0 && self.config.recycle_on_error {
            Disposition::Recycled(RecycleReason::Error)
        } else if !agent.is_healthy() {
            Disposition::Recycled(RecycleReason::Unhealthy)
        } else if self.config.recycle_after.is_some_and(|limit| runs >= limit) {
            Disposition::Recycled(RecycleReason::TaskLimit)
        } else {
            Disposition::Idle
        };
        match (disposition, placement) {
            (Disposition::Idle, Some(placement)) => {
                self.idle.push(Idle { id, placement, agent, since: now });
            }
            (Disposition::Recycled(reason), _) => {
                self.retire(id, Retirement::Recycle(reason));
                fx.dead.push((id, agent));
            }
            (Disposition::Killed(reason), _) => {
                self.retire(id, Retirement::Kill(reason));
                fx.dead.push((id, agent));
            }
            // A lent agent always has its record; dropping it is the safe way out.
            (Disposition::Idle, None) => fx.dead.push((id, agent)),
        }
        self.serve(now, fx);
        self.poke(now, fx);
        disposition
    }

    /// Marks an agent as on its way out; its slot stays taken until
    /// [`bury`](Self::bury), after the agent has been dropped.
    fn retire(&mut self, id: AgentId, retirement: Retirement) {
        let Some(record) = self.agents.get_mut(&id) else { return };
        record.status = AgentStatus::Dying;
        self.dying += 1;
        self.dirty = true;
        match retirement {
            Retirement::Recycle(reason) => {
                tracing::info!(agent = %id, %reason, "agent recycled");
                self.events.emit(|| EventKind::Recycled { agent: id, reason });
            }
            Retirement::Kill(reason) => {
                tracing::info!(agent = %id, %reason, "agent killed");
                self.events.emit(|| EventKind::Killed { agent: id, reason });
            }
        }
    }

    /// Frees the slots of agents that have been dropped.
    pub(crate) fn bury(&mut self, ids: &[AgentId], now: Instant, fx: &mut Effects<A>) {
        for id in ids {
            if self.agents.remove(id).is_some() {
                self.dying -= 1;
            }
        }
        self.serve(now, fx);
        self.poke(now, fx);
    }

    /// Closes the pool: no more checkouts, idle agents are killed, waiters
    /// refused, saved agents not yet restored are forgotten.
    pub(crate) fn close(&mut self, fx: &mut Effects<A>) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.dirty = true;
        self.restore.clear();
        for idle in std::mem::take(&mut self.idle) {
            self.retire(idle.id, Retirement::Kill(KillReason::Closed));
            fx.dead.push((idle.id, idle.agent));
        }
        self.refuse_waiters(&Refusal::Closed, fx);
        tracing::info!(busy = self.busy, "agent pool closed");
    }

    // === the maintenance worker ===

    /// One round of maintenance: scale up for waiters, kill agents idle too
    /// long, plan spawns for restores and spares, decide whether to save, and
    /// arm the next alarm.
    pub(crate) fn step(&mut self, now: Instant, fx: &mut Effects<A>) -> Plan {
        let mut plan = Plan { spawns: Vec::new(), save: false, alarm: None };
        if self.closed {
            self.alarm = None;
            plan.save = self.config.persist && self.dirty;
            return plan;
        }
        self.scale_up(now, fx);
        let can_spawn = self.budget_spent().is_none() && self.retry_at.is_none_or(|at| at <= now);
        // Restores first: they may lift the pool above its floor, and the
        // idle kills that follow must see that.
        if can_spawn {
            self.plan_restores(&mut plan);
        }
        self.scale_down(now, fx);
        if can_spawn {
            while self.size() < self.floor() {
                let Ok(choice) = self.choose(&Request::any(), self.floor(), false) else { break };
                let reservation = self.reserve(choice.placement, None);
                plan.spawns.push((reservation, SpawnCause::Spare));
            }
        }
        if self.config.persist && self.dirty && now >= self.last_save + self.config.save_every {
            // Counted as saved now: the writer takes its snapshot a moment
            // later and so captures at least this state; a failed write marks
            // the state dirty again.
            plan.save = true;
            self.dirty = false;
            self.last_save = now;
        }
        self.alarm = self.next_alarm(now);
        plan.alarm = self.alarm;
        plan
    }

    fn scale_up(&mut self, now: Instant, fx: &mut Effects<A>) {
        if self.waiters.is_empty() {
            return;
        }
        let since = *self.waiting_since.get_or_insert(now);
        let (from, to) = (self.target(), self.wanted());
        let urgent = self.waiters.len() >= self.config.scale_up_depth;
        if to > from && (urgent || now >= since + self.config.scale_up_after) {
            let waiters = self.waiters.len();
            tracing::info!(from, to, waiters, "agent pool scales up");
            self.events.emit(|| EventKind::ScaledUp { from, to, waiters });
            self.scaled = to;
            self.serve(now, fx);
            // The next scale-up, if waiters remain, needs its own full delay.
            self.waiting_since = (!self.waiters.is_empty()).then_some(now);
        }
    }

    /// The size that would give an agent to every waiter that waits only
    /// because the pool is at its target (not because of a quota).
    fn wanted(&self) -> usize {
        let blocked = self
            .waiters
            .iter()
            .filter(|waiter| self.choose(&waiter.request, self.config.max, true).is_ok())
            .count();
        (self.size() + blocked).min(self.config.max)
    }

    fn scale_down(&mut self, now: Instant, fx: &mut Effects<A>) {
        let from = self.live();
        while self.live() > self.floor()
            && self.idle.first().is_some_and(|idle| idle.since + self.config.idle_timeout <= now)
        {
            let idle = self.idle.remove(0);
            self.retire(idle.id, Retirement::Kill(KillReason::IdleTimeout));
            fx.dead.push((idle.id, idle.agent));
        }
        let to = self.live();
        if to < from {
            // Waiters keep the target they were scaled up to: the kills make
            // room for them rather than shrinking the pool under them.
            if self.waiters.is_empty() {
                self.scaled = self.scaled.min(to);
            }
            tracing::info!(from, to, "agent pool scales down");
            self.events.emit(|| EventKind::ScaledDown { from, to });
        }
    }

    /// Reserves slots for saved agents; those that no longer fit (the pool
    /// is full, or a quota) are dropped with a warning.
    fn plan_restores(&mut self, plan: &mut Plan) {
        while let Some(record) = self.restore.pop_front() {
            let placement = Arc::new(record.placement.clone());
            let request = Request::placement(record.placement.clone());
            if self.size() < self.config.max
                && self.config.quotas.admits(&placement)
                && self.choose(&request, self.config.max, false).is_ok()
            {
                let reservation = self.reserve(placement, Some(&record));
                plan.spawns.push((reservation, SpawnCause::Restore));
            } else {
                tracing::warn!(agent = %record.id, placement = %record.placement, "saved agent no longer fits the pool; not restored");
            }
        }
    }

    /// The earliest moment the maintenance worker has something to do.
    fn next_alarm(&self, now: Instant) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let mut alarm: Option<Instant> = None;
        let mut at = |instant: Instant| {
            alarm = Some(alarm.map_or(instant, |alarm| alarm.min(instant)));
        };
        if !self.waiters.is_empty() && self.wanted() > self.target() {
            if self.waiters.len() >= self.config.scale_up_depth {
                at(now);
            } else {
                at(self.waiting_since.unwrap_or(now) + self.config.scale_up_after);
            }
        }
        if self.live() > self.floor()
            && let Some(oldest) = self.idle.first()
        {
            at(oldest.since + self.config.idle_timeout);
        }
        if self.budget_spent().is_none()
            && (!self.restore.is_empty()
                || (self.size() < self.floor()
                    && self.choose(&Request::any(), self.floor(), false).is_ok()))
        {
            at(self.retry_at.map_or(now, |retry| retry.max(now)));
        }
        if self.config.persist && self.dirty {
            at(self.last_save + self.config.save_every);
        }
        alarm
    }

    /// Wakes the maintenance worker when it has something to do sooner than
    /// its armed alarm.
    fn poke(&mut self, now: Instant, fx: &mut Effects<A>) {
        if let Some(next) = self.next_alarm(now)
            && self.alarm.is_none_or(|alarm| next < alarm)
        {
            self.alarm = Some(next);
            fx.wake = true;
        }
    }

    fn trim_history(&mut self) {
        while self.finished.len() > self.config.history {
            self.finished.pop_front();
        }
    }

    // === observation ===

    /// The state as saved, and marks it saved as of `now`.
    pub(crate) fn snapshot_for_save(&mut self, now: Instant) -> Snapshot {
        self.dirty = false;
        self.last_save = now;
        self.snapshot()
    }

    /// A save failed: try again after the save interval.
    pub(crate) fn save_failed(&mut self) {
        self.dirty = true;
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            version: STATE_VERSION,
            next_agent: self.next_agent,
            tokens_used: self.tokens_used,
            agents: self
                .agents
                .iter()
                .map(|(id, record)| AgentRecord {
                    id: *id,
                    placement: Placement::clone(&record.placement),
                    status: record.status.clone(),
                    runs: record.runs,
                    errors: record.errors,
                    tokens: record.tokens,
                })
                .collect(),
            finished: self.finished.iter().cloned().collect(),
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            agents: self.live(),
            idle: self.idle.len(),
            busy: self.busy,
            spawning: self.spawning,
            waiters: self.waiters.len(),
            target: self.target(),
            tokens_used: self.tokens_used,
            closed: self.closed,
        }
    }

    pub(crate) fn subscribe(&self) -> tokio::sync::broadcast::Receiver<crate::Event> {
        self.events.subscribe()
    }
}

/// How an agent leaves the pool.
#[derive(Debug, Clone, Copy)]
enum Retirement {
    Recycle(RecycleReason),
    Kill(KillReason),
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use proptest::prelude::*;

    use super::*;
    use crate::quota::Quotas;

    /// An agent that only has a health switch.
    struct Dummy {
        healthy: bool,
    }

    impl Agent for Dummy {
        type Task = ();
        type Output = ();
        type Error = Infallible;

        async fn run(&mut self, (): ()) -> Result<(), Infallible> {
            Ok(())
        }

        fn is_healthy(&self) -> bool {
            self.healthy
        }
    }

    fn placement(model: &str, endpoint: &str) -> Placement {
        Placement::new(model.parse().unwrap(), endpoint)
    }

    fn config(min: usize, max: usize, spares: usize) -> Config {
        let mut quotas = Quotas::default();
        quotas.models.insert("a".parse().unwrap(), 2);
        quotas.models.insert("b".parse().unwrap(), 1);
        quotas.endpoints.insert("x".into(), 2);
        quotas.per_endpoint = Some(3);
        Config {
            min: min.min(max),
            max,
            spares,
            scale_up_after: Duration::from_millis(20),
            scale_up_depth: 3,
            idle_timeout: Duration::from_millis(50),
            recycle_after: Some(4),
            recycle_on_error: true,
            quotas,
            budget: None,
            placements: [placement("a", "x"), placement("a", "y"), placement("b", "y")]
                .into_iter()
                .map(Arc::new)
                .collect(),
            history: 8,
            persist: true,
            save_every: Duration::from_millis(30),
            spawn_backoff: Duration::from_millis(10),
            spawn_backoff_max: Duration::from_millis(40),
        }
    }

    fn request(kind: u8) -> Request {
        match kind % 6 {
            0 => Request::any(),
            1 => Request::any().with_model("a".parse().unwrap()),
            2 => Request::any().with_model("b".parse().unwrap()),
            3 => Request::any().with_endpoint("x"),
            4 => Request::placement(placement("c", "z")),
            _ => Request::placement(placement("b", "y")),
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Checkout(u8),
        Checkin { pick: usize, fail: bool, sick: bool },
        Spawned { pick: usize, ok: bool },
        Abandon(usize),
        Step,
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => any::<u8>().prop_map(Op::Checkout),
            3 => (any::<usize>(), prop::bool::weighted(0.1), prop::bool::weighted(0.1))
                .prop_map(|(pick, fail, sick)| Op::Checkin { pick, fail, sick }),
            3 => (any::<usize>(), prop::bool::weighted(0.9)).prop_map(|(pick, ok)| Op::Spawned { pick, ok }),
            1 => any::<usize>().prop_map(Op::Abandon),
            2 => Just(Op::Step),
            2 => (0u64..80).prop_map(Op::Advance),
        ]
    }

    /// The world around the state: agents lent, spawns in flight, waiters.
    #[derive(Default)]
    struct World {
        lent: Vec<(AgentId, Dummy)>,
        pending: Vec<(Reservation, SpawnCause, bool)>,
        waiters: Vec<u64>,
    }

    impl World {
        /// Drops the dead and buries them, as `Shared::settle` does, then
        /// collects every grant as the waiting checkouts would.
        fn settle(&mut self, state: &mut State<Dummy>, mut fx: Effects<Dummy>, now: Instant) {
            while !fx.dead.is_empty() {
                let ids: Vec<_> = fx.dead.iter().map(|(id, _)| *id).collect();
                fx = Effects::default();
                state.bury(&ids, now, &mut fx);
            }
            let waiters = std::mem::take(&mut self.waiters);
            for waiter in waiters {
                match state.collect(waiter) {
                    Some(Grant::Agent(lease)) => self.lent.push((lease.id, lease.agent)),
                    Some(Grant::Spawn(reservation)) => {
                        self.pending.push((reservation, SpawnCause::Demand, true));
                    }
                    Some(Grant::Refused(_)) => {}
                    None => self.waiters.push(waiter),
                }
            }
        }
    }

    fn check(state: &State<Dummy>) {
        let count = |f: fn(&AgentStatus) -> bool| {
            state.agents.values().filter(|record| f(&record.status)).count()
        };
        assert_eq!(state.busy, count(|s| matches!(s, AgentStatus::Busy { .. })));
        assert_eq!(state.spawning, count(|s| matches!(s, AgentStatus::Spawning)));
        assert_eq!(state.idle.len(), count(|s| matches!(s, AgentStatus::Idle)));
        assert_eq!(state.dying, 0, "every dead agent was buried");
        assert!(state.size() <= state.config.max);
        for limited in ["a", "b"] {
            let model: om_core::ModelName = limited.parse().unwrap();
            let n = state.agents.values().filter(|r| r.placement.model == model).count();
            assert!(n <= state.config.quotas.model(&model), "{n} agents of {model}");
        }
        for endpoint in ["x", "y", "z"] {
            let endpoint = om_core::EndpointId::from(endpoint);
            let n = state.agents.values().filter(|r| r.placement.endpoint == endpoint).count();
            assert!(n <= state.config.quotas.endpoint(&endpoint), "{n} agents on {endpoint}");
        }
        // Nothing in flight and someone waiting: the worker must have a
        // reason to wake, or the waiter would wait forever.
        if !state.waiters.is_empty() && state.busy == 0 && state.spawning == 0 {
            assert!(state.alarm.is_some(), "a waiter is stranded");
        }
    }

    proptest! {
        #[test]
        fn invariants_hold_and_the_worker_never_spins(
            ops in prop::collection::vec(op(), 1..300),
            min in 0usize..3,
            max in 1usize..6,
            spares in 0usize..3,
        ) {
            let mut now = Instant::now();
            let mut state = State::<Dummy>::new(config(min, max, spares), Events::new(8), None, now);
            let mut world = World::default();
            for op in ops {
                let mut fx = Effects::default();
                match op {
                    Op::Checkout(kind) => match state.checkout(&request(kind), now, &mut fx) {
                        Step::Ready(lease) => world.lent.push((lease.id, lease.agent)),
                        Step::Spawn(reservation) => {
                            world.pending.push((reservation, SpawnCause::Demand, true));
                        }
                        Step::Wait { waiter, .. } => world.waiters.push(waiter),
                        Step::Refused(_) => {}
                    },
                    Op::Checkin { pick, fail, sick } if !world.lent.is_empty() => {
                        let (id, mut agent) = world.lent.swap_remove(pick % world.lent.len());
                        agent.healthy = !sick;
                        let report = Report { runs: 1, errors: u64::from(fail), tokens: 1, ..Report::default() };
                        state.checkin(id, agent, report, now, &mut fx);
                    }
                    Op::Spawned { pick, ok } if !world.pending.is_empty() => {
                        let (reservation, cause, lend) =
                            world.pending.swap_remove(pick % world.pending.len());
                        if ok {
                            let lend = lend.then_some((None, Duration::ZERO));
                            let agent = Dummy { healthy: true };
                            if let Some(agent) = state.spawned(&reservation, agent, cause, lend, now, &mut fx) {
                                world.lent.push((reservation.id, agent));
                            }
                        } else {
                            state.spawn_failed(&reservation, cause, "no".to_owned(), now, &mut fx);
                        }
                    }
                    Op::Abandon(pick) if !world.waiters.is_empty() => {
                        let waiter = world.waiters.swap_remove(pick % world.waiters.len());
                        state.abandon(waiter, now, &mut fx);
                    }
                    Op::Step => {
                        let plan = state.step(now, &mut fx);
                        prop_assert!(plan.alarm.is_none_or(|alarm| alarm > now), "alarm in the past: the worker would spin: waiters {} wanted {} target {} size {} live {} floor {} busy {} idle {:?} spawning {} retry {:?} now {:?} scaled {}", state.waiters.len(), state.wanted(), state.target(), state.size(), state.live(), state.floor(), state.busy, state.idle.iter().map(|i| (i.id, i.since)).collect::<Vec<_>>(), state.spawning, state.retry_at, now, state.scaled);
                        if plan.save {
                            state.snapshot_for_save(now);
                        }
                        world.pending.extend(plan.spawns.into_iter().map(|(r, cause)| (r, cause, false)));
                    }
                    Op::Advance(ms) => now += Duration::from_millis(ms),
                    _ => {}
                }
                world.settle(&mut state, fx, now);
                check(&state);
            }
        }
    }
}
