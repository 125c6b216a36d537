//! An attempt and, when it straggles, a second one beside it: the batch
//! path's hedge against an instance that turns out slow.
//!
//! Routing places a task on what it knows; a box never measured, or one
//! slowed by other work, may take far longer than a box that frees up
//! meanwhile. Without a hedge the batch waits for that one straggler while
//! the fast box idles. So while an attempt streams, [`Race`] looks every
//! [`HEDGE_CHECK`] whether a second attempt pays
//! ([`Job::hedge_slot`](crate::job::Job::hedge_slot): nobody waits for
//! capacity, and an idle endpoint would finish the whole task well before
//! the running attempt finishes what is left), starts at most one, and
//! keeps whichever answer completes first. Each answer is one model's
//! whole output: nothing is ever spliced. The stopped attempt tells the
//! registry the pace it streamed at, so the slow box is measured.

use std::future::pending;
use std::time::Duration;

use om_core::wire::ChatResponse;
use om_core::{Error, ErrorKind, Task};
use tokio::time::{Instant, sleep_until};

use crate::call::{Call, End, Finished};
use crate::fleet::Inner;
use crate::job::Job;
use crate::options::Options;
use crate::request::chat_request;

/// How often a running attempt is weighed against a second one.
pub(crate) const HEDGE_CHECK: Duration = Duration::from_millis(250);

/// A second attempt pays when it would finish the whole task in at most
/// this share of the time the running one still needs…
const HEDGE_SHARE: f64 = 2.0 / 3.0;
/// …and at least this much sooner (seconds): below it the duplicate work
/// buys too little.
const HEDGE_MIN_GAIN: f64 = 0.5;

/// Whether an attempt expected to take `fresh` seconds from scratch is
/// worth starting beside one that needs `left` more seconds.
pub(crate) fn worth_hedging(left: f64, fresh: f64) -> bool {
    fresh <= left * HEDGE_SHARE && left - fresh >= HEDGE_MIN_GAIN
}

/// The attempts of one try of a task: the first, and the hedge if one
/// started.
pub(crate) struct Race {
    /// The attempt whose end decides when no other runs: the first, or the
    /// hedge once the first failed.
    pub(crate) lead: Call,
    pub(crate) hedge: Option<Call>,
    /// A hedge has been started (at most one per try).
    hedged: bool,
    /// Attempts that ended without deciding the task, finished and
    /// recorded, in the order they ended.
    pub(crate) ended: Vec<Finished>,
}

/// Which attempt of a [`Race`] produced an event.
enum Lane {
    Lead,
    Hedge,
}

impl Race {
    /// A race of the attempt `lead`, whose request is already sent.
    pub(crate) fn new(lead: Call) -> Self {
        Self { lead, hedge: None, hedged: false, ended: Vec::new() }
    }

    /// Runs the attempts until one has the whole answer (then
    /// [`lead`](Self::lead) is that attempt and [`hedge`](Self::hedge) the
    /// other, still running, if any), or until the last one running fails
    /// (then it is the lead, unfinished, and this is its error).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropped, the attempts stay in the race, unfinished.
    pub(crate) async fn run(&mut self, job: &Job, task: &Task) -> Result<(), Error> {
        let inner = &job.fleet.inner;
        let quiet = Options::default();
        let mut check = Instant::now() + HEDGE_CHECK;
        loop {
            let event = {
                let hedge = step(self.hedge.as_mut(), &quiet);
                tokio::select! {
                    item = self.lead.next(&job.options) => Some((Lane::Lead, item)),
                    item = hedge => Some((Lane::Hedge, item)),
                    () = sleep_until(check), if !self.hedged => None,
                }
            };
            let Some((lane, item)) = event else {
                check += HEDGE_CHECK;
                self.try_hedge(job, task);
                continue;
            };
            let done = match lane {
                Lane::Lead => self.lead.collected.done,
                Lane::Hedge => self.hedge.as_ref().is_some_and(|h| h.collected.done),
            };
            match item {
                Some(Ok(_)) if !done => {}
                Some(Ok(_)) | None => {
                    if matches!(lane, Lane::Hedge) {
                        self.promote_hedge();
                    }
                    return Ok(());
                }
                Some(Err(error)) => match (lane, self.hedge.take()) {
                    (Lane::Lead, Some(hedge)) => {
                        let failed = std::mem::replace(&mut self.lead, hedge);
                        self.ended.push(failed.finish(inner, &End::Failed(&error)));
                    }
                    (Lane::Hedge, Some(hedge)) => {
                        self.ended.push(hedge.finish(inner, &End::Failed(&error)));
                    }
                    (_, None) => return Err(error),
                },
            }
        }
    }

    /// Starts a hedge if one pays now.
    fn try_hedge(&mut self, job: &Job, task: &Task) {
        let Some(slot) = job.hedge_slot(&self.lead, Instant::now()) else { return };
        let request = chat_request(task, &slot.model, &job.fleet.inner.models);
        let mut hedge = Call::new(slot, job.category);
        hedge.send(request);
        self.hedge = Some(hedge);
        self.hedged = true;
    }

    /// Makes the hedge, which has the answer, the lead.
    fn promote_hedge(&mut self) {
        if let Some(hedge) = self.hedge.take() {
            let slow = std::mem::replace(&mut self.lead, hedge);
            self.hedge = Some(slow);
        }
    }

    /// Stops the attempt that lost, recording it as superseded; the winner
    /// is the lead.
    pub(crate) fn stop_loser(&mut self, inner: &Inner) {
        if let Some(loser) = self.hedge.take() {
            let error = Error::new(
                ErrorKind::Canceled,
                format!(
                    "stopped: attempt {} on {} finished the task first",
                    self.lead.number(),
                    self.lead.endpoint()
                ),
            );
            self.ended.push(loser.finish(inner, &End::Stopped(&error)));
        }
    }
}

/// The next chunk of `call`; never without one.
async fn step(call: Option<&mut Call>, options: &Options) -> Option<Result<ChatResponse, Error>> {
    match call {
        Some(call) => call.next(options).await,
        None => pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hedge_must_finish_clearly_sooner() {
        // The laptop needs 3 s more; the GPU box does it all in 1.4 s.
        assert!(worth_hedging(3.0, 1.4));
        // Barely faster: not worth the duplicate work.
        assert!(!worth_hedging(3.0, 2.5));
        // Twice as fast but only 0.3 s sooner.
        assert!(!worth_hedging(0.6, 0.3));
        assert!(!worth_hedging(0.0, 0.0));
    }
}
