//! One task on its way through the fleet: routing with exclusions, waiting
//! for capacity, the failover budget, and the final record.

use std::future::pending;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use om_core::{
    Capabilities, Error, ErrorKind, ModelChoice, Priority, Task, TaskCategory, TaskId, TimeoutPhase,
};
use om_metrics::{TaskRecord, TaskStart};
use om_registry::{BreakerState, Health, Hold, InstanceId, InstanceIdx, Snapshot};
use om_router::{ModelSelector, NoRoute, RouteRequest, Why};
use tokio::sync::futures::Notified;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::call::{Call, End, Finished, Reserved, Slot};
use crate::fleet::Fleet;
use crate::options::{Options, Progress};
use crate::race::worth_hedging;
use crate::request::{category, route_request};
use crate::result::{Attempt, TaskFailure, TaskResult};

/// A request being served — a task, or a forwarded native request:
/// everything that outlives one attempt.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) fleet: Fleet,
    pub(crate) id: TaskId,
    /// The models asked for, and what they must be able to do: for the
    /// error when none can.
    wanted: ModelChoice,
    requires: Capabilities,
    kind: Kind,
    pub(crate) options: Options,
    pub(crate) category: TaskCategory,
    route: RouteRequest,
    pub(crate) deadline: Option<Instant>,
    started: Instant,
    started_at: SystemTime,
    pub(crate) attempts: Vec<Attempt>,
    /// Attempts that failed for a reason other than backpressure.
    faults: u32,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    /// The task's end is in the metrics (set by `succeed` and `fail`).
    recorded: bool,
    /// While the task waits for a busy instance that would finish it
    /// sooner than a free one: its place in that endpoint's queue.
    /// A slot of its endpoint freeing wakes the first task held there, in
    /// ticket order, not whichever waiter the shared wake reaches first.
    hold: Option<Hold>,
}

/// What a job asks of the instances it tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A batch task: its requirements are firm.
    Task,
    /// A native request forwarded as it came: capabilities and the context
    /// need are preferences, dropped when no instance could ever meet them,
    /// so that the model's own server answers (its error names what is
    /// missing, and it truncates a long prompt) rather than the gateway
    /// refusing what Ollama would not.
    Forward,
    /// A metadata call (`/api/show`): it takes no permit — it must not wait
    /// behind generation — and leaves no record.
    Metadata,
}

/// What to do after a failed attempt.
pub(crate) enum Next {
    /// Try again (the exclusions and backoff are already applied).
    Retry,
    /// Give up with this error.
    Fail(Error),
}

impl Job {
    pub(crate) fn new(fleet: Fleet, task: &Task, options: Options) -> Self {
        let category = category(task);
        let route = route_request(task, category);
        let timeout = task.timeout.or(fleet.inner.settings.task_timeout);
        let head = Head {
            id: task.id.clone(),
            priority: task.priority,
            wanted: task.model.clone(),
            requires: task.requires,
            kind: Kind::Task,
        };
        Self::start(fleet, head, category, route, timeout, options)
    }

    /// A job for a request forwarded as it came (the gateway's path) to an
    /// instance of `model`, routed by `route` (its requirements relaxed when
    /// none could meet them, see [`Kind::Forward`]). Its only deadline is
    /// the options' — the fleet's default task timeout is for batch tasks
    /// and would cut a long but live stream.
    pub(crate) fn forwarded(
        fleet: Fleet,
        id: TaskId,
        kind: Kind,
        category: TaskCategory,
        route: RouteRequest,
        options: Options,
    ) -> Self {
        let wanted = match &route.models {
            ModelSelector::Model(model) => ModelChoice::Pinned(model.clone()),
            _ => ModelChoice::Any,
        };
        let requires = route.capabilities;
        let head = Head { id, priority: Priority::default(), wanted, requires, kind };
        Self::start(fleet, head, category, route, None, options)
    }

    fn start(
        fleet: Fleet,
        head: Head,
        category: TaskCategory,
        route: RouteRequest,
        timeout: Option<Duration>,
        options: Options,
    ) -> Self {
        let Head { id, priority, wanted, requires, kind } = head;
        let started = Instant::now();
        // Until the answer begins; `Forwarded` keeps to `options.deadline`
        // alone once it has.
        let deadline = [timeout.map(|t| started + t), options.deadline, options.start_by]
            .into_iter()
            .flatten()
            .min();
        let snapshots = fleet.inner.registry.subscribe();
        let mut route = route;
        if kind != Kind::Metadata {
            route.ticket = Some(fleet.inner.registry.ticket(priority));
            fleet
                .inner
                .metrics
                .task_started(TaskStart { task: id.clone(), category: Some(category) });
        }
        Self {
            fleet,
            id,
            wanted,
            requires,
            kind,
            options,
            category,
            route,
            deadline,
            started,
            started_at: SystemTime::now(),
            attempts: Vec::new(),
            faults: 0,
            snapshots,
            // A metadata call is no task: it never enters the task counts.
            recorded: kind == Kind::Metadata,
            hold: None,
        }
    }

    /// Reserves an instance: routes, takes the first ranked instance whose
    /// endpoint has a free permit and whose breaker admits, and otherwise
    /// waits for capacity (a permit released, a cooldown or breaker
    /// expiring, the catalog changing), bounded by the deadline.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoBackend`] when no instance could ever serve the task,
    /// [`ErrorKind::Busy`] when every one is cooling down and waiting is off,
    /// and the deadline and cancellation errors.
    pub(crate) async fn acquire(&mut self) -> Result<Slot, Error> {
        let wake = self.fleet.inner.permits.wake();
        let _waiter = self.fleet.inner.permits.waiter();
        let mut waiting = false;
        // When waiting for capacity must end (a bounded queue).
        let mut queue_until = None;
        // Woken by a released permit: one not taken is passed on.
        let mut woken = false;
        loop {
            // Listen before looking, so that a release between the look and
            // the wait is not missed.
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let snapshot = Arc::clone(&self.snapshots.borrow_and_update());
            let now = Instant::now();
            // When to look again though nothing woke us: a held task's
            // estimate of when its slot frees, so that a slower request
            // ahead (or a stalled one) makes it reconsider, when there is
            // another endpoint to reconsider for. With none, only a
            // released permit can change anything, and that wakes it:
            // hundreds of requests queued for one box must not route again
            // every few milliseconds each.
            let mut recheck = None;
            match self.fleet.inner.router.route(&self.route, &snapshot, now) {
                Ok(decision) => {
                    let first_endpoint = snapshot.instance(decision.chosen.instance).endpoint;
                    let elsewhere = decision
                        .ranked()
                        .any(|c| snapshot.instance(c.instance).endpoint != first_endpoint);
                    for choice in decision.ranked() {
                        if choice.wait > 0.0 && self.kind != Kind::Metadata {
                            // Ranked above every instance after it even
                            // with its queue: hold for it rather than take
                            // a free instance that would finish later.
                            let wait = Duration::from_secs_f64(choice.wait);
                            recheck = elsewhere.then(|| now + wait.clamp(MIN_RECHECK, MAX_RECHECK));
                            let service = Duration::from_secs_f64(choice.service.unwrap_or(0.0));
                            self.hold_for(&snapshot, choice.instance, service);
                            break;
                        }
                        let number = self.next_attempt();
                        let Some(slot) =
                            self.open_slot(&snapshot, choice.instance, number, &decision.why, now)
                        else {
                            continue;
                        };
                        // No longer waiting: leave the queue.
                        self.hold = None;
                        return Ok(slot);
                    }
                }
                Err(no_route) => {
                    if self.relax(&no_route) || self.clear_exclusions(&no_route) {
                        continue;
                    }
                    self.check_no_route(&no_route, &snapshot)?;
                }
            }
            if woken {
                self.fleet.inner.permits.pass_on();
            }
            if !waiting {
                waiting = true;
                self.options.report(&Progress::Waiting);
                if let Some(queue) = self.options.queue {
                    // Counted among the waiters itself.
                    let others = self.fleet.inner.permits.waiting().saturating_sub(1);
                    if others >= queue.max_waiting {
                        return Err(self
                            .busy(&format!("{others} requests are already waiting for capacity")));
                    }
                    queue_until = Some(now + queue.max_wait);
                }
            }
            let expiry = match (earliest_expiry(&snapshot, now), recheck) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            woken = self.wait(notified, expiry, queue_until).await?;
        }
    }

    /// The number of the attempt to start next.
    fn next_attempt(&self) -> u32 {
        u32::try_from(self.attempts.len()).unwrap_or(u32::MAX).saturating_add(1)
    }

    /// Reserves `instance` for attempt `number` if its endpoint has a free
    /// permit and its breaker admits: the permit, the registry's in-flight
    /// guard with the request's expected service, the metrics' guard.
    fn open_slot(
        &self,
        snapshot: &Snapshot,
        index: InstanceIdx,
        number: u32,
        why: &Why,
        now: Instant,
    ) -> Option<Slot> {
        let inner = &self.fleet.inner;
        let instance = snapshot.instance(index);
        let endpoint = snapshot.endpoint(instance.endpoint);
        let model = instance.info.name.clone();
        let reserved = if self.kind == Kind::Metadata {
            None
        } else {
            let capacity = self.fleet.capacity(endpoint);
            let permit = inner.permits.try_acquire(&endpoint.id, capacity, Some(&endpoint.live))?;
            // A half-open breaker may have filled its probe slots since the
            // decision.
            let mut in_flight = instance.begin(now).ok()?;
            in_flight.expect(inner.router.expected_service(&self.route, snapshot, index, now));
            let metrics_in_flight = inner.metrics.start_request(&endpoint.id, &model);
            Some(Reserved { in_flight, metrics_in_flight, permit })
        };
        let slot = Slot {
            number,
            endpoint: endpoint.id.clone(),
            model,
            client: inner.backends.client(endpoint),
            offset: now.saturating_duration_since(self.started),
            reserved,
        };
        tracing::debug!(
            task = %self.id,
            endpoint = %slot.endpoint,
            model = %slot.model,
            attempt = slot.number,
            %why,
            "attempt"
        );
        self.options.report(&Progress::Attempt {
            number: slot.number,
            endpoint: slot.endpoint.clone(),
            model: slot.model.clone(),
        });
        Some(slot)
    }

    /// A second attempt for the task `running` is an attempt of, when one
    /// pays: hedging is on, no task waits for capacity, `running` streams
    /// at a measured pace, and an instance on an idle endpoint elsewhere
    /// would finish the whole task well before `running` finishes what is
    /// left of it (see [`worth_hedging`]).
    pub(crate) fn hedge_slot(&self, running: &Call, now: Instant) -> Option<Slot> {
        let inner = &self.fleet.inner;
        if !inner.settings.hedge || inner.permits.anyone_waiting() {
            return None;
        }
        let pace = running.pace(now)?;
        let snapshot = inner.registry.snapshot();
        // Only an idle box takes a hedge (see below): without one there is
        // nothing to route, and this runs every check of every attempt.
        let idle_elsewhere = snapshot
            .endpoints()
            .iter()
            .any(|e| e.live.in_flight() == 0 && &e.id != running.endpoint());
        if !idle_elsewhere {
            return None;
        }
        let current = snapshot.find_instance(running.endpoint(), running.model())?;
        let expected = inner.router.expected_output(&self.route, &snapshot, current);
        let left = (expected - running.collected.chunks as f64) / pace;
        if left <= 0.0 {
            return None;
        }
        let mut route = self.route.clone();
        route.exclude_endpoints.push(running.endpoint().clone());
        let decision = inner.router.route(&route, &snapshot, now).ok()?;
        // Only an idle box: a request added to a busy one slows everything
        // running there (a box shares its compute), which the estimate,
        // measured under that box's recent load, does not count.
        let idle = |index: InstanceIdx| {
            snapshot.endpoint(snapshot.instance(index).endpoint).live.in_flight() == 0
        };
        for choice in decision.ranked().filter(|c| c.wait <= 0.0 && idle(c.instance)) {
            let service = inner.router.expected_service(&route, &snapshot, choice.instance, now);
            if !worth_hedging(left, service.as_secs_f64()) {
                continue;
            }
            let number = self.next_attempt().saturating_add(1);
            if let Some(slot) =
                self.open_slot(&snapshot, choice.instance, number, &decision.why, now)
            {
                tracing::debug!(
                    task = %self.id,
                    left_secs = left,
                    hedge_secs = service.as_secs_f64(),
                    "hedging a slow attempt"
                );
                return Some(slot);
            }
        }
        None
    }

    /// Holds the task in the queue of `instance`'s endpoint (moving it from
    /// another endpoint's queue, which wakes the tasks there: one ahead of
    /// them has left).
    fn hold_for(&mut self, snapshot: &Snapshot, instance: InstanceIdx, service: Duration) {
        let endpoint = &snapshot.endpoint(snapshot.instance(instance).endpoint).live;
        match &self.hold {
            Some(hold) if hold.is_on(endpoint) => hold.update(service),
            _ => {
                let Some(ticket) = self.route.ticket else { return };
                let moved = self.hold.replace(endpoint.hold(ticket, service)).is_some();
                if moved {
                    self.fleet.inner.permits.wake_all();
                }
            }
        }
    }

    /// Drops a forwarded request's capabilities and context need when no
    /// instance of its model could ever meet them (see [`Kind::Forward`]);
    /// true when it did.
    fn relax(&mut self, no_route: &NoRoute) -> bool {
        let removed = &no_route.why.removed;
        let relax = self.kind == Kind::Forward
            && !no_route.is_unknown_model()
            && removed.capabilities + removed.context > 0
            && removed.transient() == 0
            && (self.route.capabilities != Capabilities::NONE
                || self.route.prompt_tokens > 0
                || self.route.num_predict.is_some());
        if relax {
            tracing::debug!(request_id = %self.id, why = %no_route.why, "requirements relaxed");
            self.route.capabilities = Capabilities::NONE;
            self.route.prompt_tokens = 0;
            self.route.num_predict = None;
        }
        relax
    }

    /// After failures everything left may be excluded: then the failed
    /// instances are tried again (the backoff has already been waited).
    fn clear_exclusions(&mut self, no_route: &NoRoute) -> bool {
        let excluded =
            !self.route.exclude_endpoints.is_empty() || !self.route.exclude_instances.is_empty();
        if excluded && no_route.why.removed.excluded > 0 {
            self.route.exclude_endpoints.clear();
            self.route.exclude_instances.clear();
            return true;
        }
        false
    }

    /// Whether waiting can help; the error to fail with when it cannot.
    fn check_no_route(&self, no_route: &NoRoute, snapshot: &Snapshot) -> Result<(), Error> {
        let removed = &no_route.why.removed;
        // An endpoint not probed yet may bring the model: wait for discovery.
        let unprobed = snapshot.endpoints().iter().any(|e| e.health == Health::Unknown);
        if no_route.is_unknown_model() && !unprobed {
            return Err(self.no_backend(no_route, snapshot));
        }
        if !no_route.is_unknown_model() && removed.cooldown + removed.breaker == 0 && !unprobed {
            return Err(self.no_backend(no_route, snapshot));
        }
        if removed.breaker == 0 && removed.cooldown > 0 && !self.fleet.inner.settings.retry_on_busy
        {
            return Err(Error::new(
                ErrorKind::Busy,
                format!("every instance that can serve task {} is busy", self.id),
            ));
        }
        Ok(())
    }

    fn no_backend(&self, no_route: &NoRoute, snapshot: &Snapshot) -> Error {
        let mut wanted = match &self.wanted {
            ModelChoice::Any => "any model".to_owned(),
            ModelChoice::Pinned(model) => format!("model {model}"),
            ModelChoice::AllowList(models) => format!("any of the models {}", models.join(", ")),
        };
        if !self.requires.is_empty() {
            wanted = format!("{wanted} with {}", self.requires.names().join(", "));
        }
        let mut message = if no_route.is_unknown_model() {
            format!("no endpoint has {wanted} for task {}", self.id)
        } else {
            format!("no instance can serve {wanted} for task {}: {}", self.id, no_route.why)
        };
        // Down endpoints may be where the model lives: say so.
        let down: Vec<String> = snapshot
            .endpoints()
            .iter()
            .filter_map(|e| e.health.reason().map(|reason| format!("{} ({reason})", e.id)))
            .collect();
        if !down.is_empty() {
            message = format!("{message}; unreachable: {}", down.join(", "));
        }
        let error = Error::new(ErrorKind::NoBackend, message);
        match &self.wanted {
            ModelChoice::Pinned(model) => error.with_model(model.to_string()),
            _ => error,
        }
    }

    /// Waits for capacity: a released permit, a new snapshot or the
    /// earliest cooldown or breaker expiry, until `queue_until` at most.
    /// True when a released permit woke it.
    async fn wait(
        &mut self,
        notified: Pin<&mut Notified<'_>>,
        expiry: Option<Instant>,
        queue_until: Option<Instant>,
    ) -> Result<bool, Error> {
        // Held: woken by its own endpoint's free slot, in ticket order (the
        // registry hands a wake on when its task leaves). Any waiter, held
        // or not, also takes the shared wake of a permit released where
        // nobody is held, and passes it on when it cannot use it: a wake it
        // received and ignored would be lost to the others.
        let held = self.hold.as_ref();
        let own = async {
            match held {
                Some(hold) => hold.woken().await,
                None => pending().await,
            }
        };
        let snapshots = &mut self.snapshots;
        let changed = async {
            // The registry outlives the job; should it not, wait for the rest.
            if snapshots.changed().await.is_err() {
                pending::<()>().await;
            }
        };
        tokio::select! {
            biased;
            () = cancelled(self.options.cancel.as_ref()) => Err(self.canceled()),
            () = at(self.deadline) => Err(self.out_of_time("waiting for capacity")),
            () = at(queue_until) => Err(self.busy(&format!(
                "no capacity came free within {} ms",
                self.options.queue.map_or(0, |q| q.max_wait.as_millis())
            ))),
            () = notified => Ok(true),
            () = own => Ok(false),
            () = changed => Ok(false),
            () = at(expiry) => Ok(false),
        }
    }

    /// Decides what follows a failed attempt: records it, spends budget,
    /// excludes the instance, and waits the backoff.
    pub(crate) async fn after_failure(&mut self, finished: Finished, error: Error) -> Next {
        let Finished { attempt, .. } = finished;
        let endpoint = attempt.endpoint.clone();
        let model = attempt.model.clone();
        let number = attempt.number;
        self.attempts.push(attempt);
        if !error.is_failover() {
            return Next::Fail(error);
        }
        if error.is_busy() {
            // Backpressure: the registry now cools the instance down and
            // routing avoids it; no budget is spent and no backoff waited.
            if !self.fleet.inner.settings.retry_on_busy {
                return Next::Fail(error);
            }
            self.options.report(&Progress::Retrying { number, kind: error.kind() });
            return Next::Retry;
        }
        self.faults += 1;
        if self.faults >= self.fleet.inner.settings.max_attempts {
            return Next::Fail(error);
        }
        if error.is_model_not_found() {
            self.route.exclude_instances.push(InstanceId::new(endpoint, model));
        } else {
            self.route.exclude_endpoints.push(endpoint);
        }
        tracing::debug!(task = %self.id, attempt = number, error = %error, "retrying");
        self.options.report(&Progress::Retrying { number, kind: error.kind() });
        let delay = self.fleet.inner.backoff.delay(self.faults);
        match self.guard(pin!(tokio::time::sleep(delay))).await {
            Ok(()) => Next::Retry,
            Err(stop) => Next::Fail(stop),
        }
    }

    /// Runs `fut` unless the task is cancelled or out of time first.
    ///
    /// Takes the future pinned where the caller keeps it: passed by value
    /// into this `async fn`, it would be held twice (as the argument and
    /// inside the `select!`), and an attempt's future is kilobytes.
    ///
    /// # Cancel safety
    ///
    /// As cancel-safe as `fut`.
    pub(crate) async fn guard<F: Future>(&self, fut: Pin<&mut F>) -> Result<F::Output, Error> {
        tokio::select! {
            biased;
            () = cancelled(self.options.cancel.as_ref()) => Err(self.canceled()),
            () = at(self.deadline) => Err(self.out_of_time("running")),
            output = fut => Ok(output),
        }
    }

    /// The task gave up waiting for capacity: busy, try again.
    fn busy(&self, why: &str) -> Error {
        Error::new(ErrorKind::Busy, format!("task {}: the fleet is busy: {why}", self.id))
    }

    pub(crate) fn canceled(&self) -> Error {
        Error::new(ErrorKind::Canceled, format!("task {} was cancelled", self.id))
    }

    pub(crate) fn out_of_time(&self, doing: &str) -> Error {
        let limit =
            self.deadline.map_or(Duration::ZERO, |d| d.saturating_duration_since(self.started));
        Error::new(
            ErrorKind::Timeout(TimeoutPhase::Total),
            format!(
                "task {} ran out of time ({} ms) while {doing}, after {} attempts",
                self.id,
                limit.as_millis(),
                self.attempts.len()
            ),
        )
    }

    /// Ends an attempt that was stopped for the task's sake, recording it.
    pub(crate) fn stop(&mut self, call: Call, error: &Error) {
        let finished = call.finish(&self.fleet.inner, &End::Stopped(error));
        self.attempts.push(finished.attempt);
    }

    /// The task's success, from its final attempt.
    pub(crate) fn succeed(mut self, finished: Finished) -> TaskResult {
        let Finished { attempt, ttft, collected } = finished;
        let endpoint = attempt.endpoint.clone();
        let model = attempt.model.clone();
        let latency = attempt.latency;
        self.attempts.push(attempt);
        let metrics = collected.metrics;
        let result = TaskResult {
            task: self.id.clone(),
            category: self.category,
            endpoint,
            model,
            attempts: std::mem::take(&mut self.attempts),
            started_at: self.started_at,
            finished_at: SystemTime::now(),
            elapsed: self.started.elapsed(),
            latency,
            ttft,
            prompt_tokens: metrics.prompt_eval_count,
            completion_tokens: metrics.eval_count,
            tokens_per_sec: metrics.tokens_per_second(),
            output: collected.content,
            thinking: (!collected.thinking.is_empty()).then_some(collected.thinking),
            tool_calls: collected.tool_calls,
            done_reason: collected.done_reason,
            metrics,
        };
        self.record_task(om_metrics::Outcome::Ok, &result.attempts, result.elapsed);
        result
    }

    /// The task's failure; `output` is what a stream had already delivered.
    pub(crate) fn fail(mut self, error: Error, output: String) -> TaskFailure {
        let elapsed = self.started.elapsed();
        let attempts = std::mem::take(&mut self.attempts);
        self.record_task(om_metrics::Outcome::from(&error), &attempts, elapsed);
        TaskFailure {
            task: self.id.clone(),
            category: self.category,
            error,
            attempts,
            started_at: self.started_at,
            finished_at: SystemTime::now(),
            elapsed,
            output,
        }
    }

    fn record_task(
        &mut self,
        outcome: om_metrics::Outcome,
        attempts: &[Attempt],
        elapsed: Duration,
    ) {
        self.recorded = true;
        if self.kind == Kind::Metadata {
            return;
        }
        let last = attempts.last();
        self.fleet.inner.metrics.record_task(TaskRecord {
            task: self.id.clone(),
            category: Some(self.category),
            endpoint: last.map(|a| a.endpoint.clone()),
            model: last.map(|a| a.model.clone()),
            outcome,
            duration: elapsed,
            attempts: u32::try_from(attempts.len()).unwrap_or(u32::MAX),
        });
    }
}

impl Drop for Job {
    /// A job dropped before its end was cancelled by its owner.
    fn drop(&mut self) {
        if !self.recorded {
            let attempts = std::mem::take(&mut self.attempts);
            let elapsed = self.started.elapsed();
            self.record_task(om_metrics::Outcome::Err(ErrorKind::Canceled), &attempts, elapsed);
        }
    }
}

/// Who a job is for, as its constructor knows it.
struct Head {
    id: TaskId,
    priority: Priority,
    wanted: ModelChoice,
    requires: Capabilities,
    kind: Kind,
}

/// Bounds of a held task's own re-check: often enough to notice a request
/// ahead that runs late, rarely enough not to spin.
const MIN_RECHECK: Duration = Duration::from_millis(5);
const MAX_RECHECK: Duration = Duration::from_secs(5);

/// The earliest moment after `now` when a cooling-down instance or an open
/// breaker of the snapshot admits requests again.
fn earliest_expiry(snapshot: &Snapshot, now: Instant) -> Option<Instant> {
    snapshot
        .instances()
        .iter()
        .filter_map(|instance| {
            let stats = instance.live.stats();
            let cooldown = stats.cooldown_until.filter(|t| *t > now);
            let open = match stats.breaker {
                BreakerState::Open { until } if until > now => Some(until),
                _ => None,
            };
            match (cooldown, open) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        })
        .min()
}

/// Resolves when `deadline` passes; never without one.
pub(crate) async fn at(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => pending().await,
    }
}

/// Resolves when `token` is cancelled; never without one.
pub(crate) async fn cancelled(token: Option<&CancellationToken>) {
    match token {
        Some(token) => token.cancelled().await,
        None => pending().await,
    }
}
