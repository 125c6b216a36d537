//! The one attempt driver. Every request the fleet serves — a batch task, a
//! streamed task, a forwarded native request, a metadata call — goes
//! through [`Job::drive`]: reserve an instance ([`Job::acquire`]), run one
//! attempt on it up to the point where it can no longer fail over (an
//! [`Open`]), and after a failure another instance may cure, spend budget,
//! back off and go round again ([`Job::after_failure`]).
//!
//! What differs between requests is only that middle step, so it is the
//! only thing each kind writes: the batch path runs the whole answer (with
//! a hedge beside a straggler), the streaming path waits for the first
//! chunk, the forwarding path for the instance's first line.

use std::pin::pin;
use std::sync::Arc;

use bytes::Bytes;
use om_client::{Lines, RawRequest};
use om_core::wire::ChatResponse;
use om_core::{Error, Task};

use crate::call::{Call, End, Finished, Slot};
use crate::forward::open_call;
use crate::job::{Job, Next};
use crate::race::Race;
use crate::request::chat_request;

/// How one attempt ends, as far as the driver cares.
pub(crate) enum Step<T> {
    /// It got as far as it must: no more failover.
    Opened(T),
    /// It failed, its record finished; another attempt may cure it.
    Failed(Box<Finished>, Error),
    /// The job was cancelled or ran out of time (its attempts recorded).
    Stopped(Error),
}

/// One attempt of a kind of request on a reserved instance.
pub(crate) trait Open {
    /// What an attempt that got far enough hands back.
    type Opened;

    /// Runs one attempt on `slot` up to the point where it can no longer
    /// fail over, bounded by the job's deadline and cancellation.
    async fn open(&self, job: &mut Job, slot: Slot) -> Step<Self::Opened>;
}

impl Job {
    /// Serves the job with `plan`: attempts on ranked instances until one
    /// opens, the budget is spent, the error is final, or the job is
    /// stopped.
    ///
    /// # Errors
    ///
    /// The error to end the job with ([`Job::acquire`]'s, the last
    /// attempt's, or the stop's); the attempts are in `self.attempts`.
    pub(crate) async fn drive<P: Open>(&mut self, plan: &P) -> Result<P::Opened, Error> {
        // Each stage is boxed, so that this future is only as large as
        // the stage under way rather than all of them at once: waiting
        // for a slot, an attempt (a whole HTTP exchange: the client's
        // send, retry and timeouts), and the rare failure path with its
        // record and backoff. Thousands of requests can be in the attempt
        // at once, each holding this future.
        loop {
            let slot = Box::pin(self.acquire()).await?;
            // Taken apart before the next await: a matched answer would
            // otherwise be kept across it.
            let (finished, error) = match Box::pin(plan.open(self, slot)).await {
                Step::Opened(opened) => return Ok(opened),
                Step::Failed(finished, error) => (finished, error),
                Step::Stopped(error) => return Err(error),
            };
            match Box::pin(self.after_failure(*finished, error)).await {
                Next::Retry => {}
                Next::Fail(error) => return Err(error),
            }
        }
    }

    /// Runs `open` on one call under the job's deadline and cancellation:
    /// the single-call attempt of [`Open`] implementations.
    async fn open_one<T>(
        &mut self,
        mut call: Call,
        open: impl AsyncFnOnce(&mut Call) -> Result<T, Error>,
    ) -> Step<(Call, T)> {
        let fleet = Arc::clone(&self.fleet.inner);
        let guarded = {
            let opening = pin!(open(&mut call));
            self.guard(opening).await
        };
        match guarded {
            Ok(Ok(opened)) => Step::Opened((call, opened)),
            Ok(Err(error)) => {
                Step::Failed(Box::new(call.finish(&fleet, &End::Failed(&error))), error)
            }
            Err(stop) => {
                self.stop(call, &stop);
                Step::Stopped(stop)
            }
        }
    }
}

/// A task's whole answer from one model, a hedge started beside a
/// straggler (see `race`): a break anywhere, even mid-stream, fails over
/// and starts again from scratch.
pub(crate) struct Whole<'t>(pub(crate) &'t Task);

impl Open for Whole<'_> {
    type Opened = Finished;

    async fn open(&self, job: &mut Job, slot: Slot) -> Step<Finished> {
        let fleet = Arc::clone(&job.fleet.inner);
        let request = chat_request(self.0, &slot.model, &fleet.models);
        let mut call = Call::new(slot, job.category);
        call.send(request);
        let mut race = Race::new(call);
        let outcome = {
            let running = pin!(race.run(job, self.0));
            job.guard(running).await
        };
        if outcome.as_ref().is_ok_and(Result::is_ok) {
            race.stop_loser(&fleet);
        }
        let Race { lead, hedge, ended, .. } = race;
        job.attempts.extend(ended.into_iter().map(|f| f.attempt));
        match outcome {
            Ok(Ok(())) => Step::Opened(lead.finish(&fleet, &End::Done)),
            Ok(Err(error)) => {
                Step::Failed(Box::new(lead.finish(&fleet, &End::Failed(&error))), error)
            }
            Err(stop) => {
                for call in std::iter::once(lead).chain(hedge) {
                    job.stop(call, &stop);
                }
                Step::Stopped(stop)
            }
        }
    }
}

/// A task's first chunk: from it on the instance is fixed.
pub(crate) struct FirstChunk<'t>(pub(crate) &'t Task);

impl Open for FirstChunk<'_> {
    type Opened = (Call, ChatResponse);

    async fn open(&self, job: &mut Job, slot: Slot) -> Step<(Call, ChatResponse)> {
        let request = chat_request(self.0, &slot.model, &job.fleet.inner.models);
        let call = Call::new(slot, job.category);
        let options = job.options.clone();
        job.open_one(call, async move |call: &mut Call| call.open(request, &options).await).await
    }
}

/// A native request's first line: from it on the instance is fixed.
pub(crate) struct FirstLine<'r> {
    pub(crate) raw: &'r RawRequest,
    /// The answer is streamed, so its first line is the first token.
    pub(crate) streaming: bool,
}

impl Open for FirstLine<'_> {
    type Opened = (Call, (Lines, Bytes));

    async fn open(&self, job: &mut Job, slot: Slot) -> Step<Self::Opened> {
        let call = Call::new(slot, job.category);
        let (raw, streaming) = (self.raw.clone(), self.streaming);
        job.open_one(call, async move |call: &mut Call| open_call(call, raw, streaming).await).await
    }
}
