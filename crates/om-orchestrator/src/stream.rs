//! [`Fleet::execute_stream`]: the streaming path. Failover happens only
//! before the first chunk; after it, a failure ends the stream with a typed,
//! partial error.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::StreamExt;
use om_core::wire::ChatResponse;
use om_core::{EndpointId, Error, ModelName, Task};
use tokio::time::Sleep;
use tokio_util::sync::WaitForCancellationFutureOwned;
use tracing::Instrument;

use crate::call::{Call, End};
use crate::drive::FirstChunk;
use crate::fleet::Fleet;
use crate::job::Job;
use crate::options::Options;
use crate::result::{Attempt, TaskFailure, TaskResult};

impl Fleet {
    /// Starts `task` as a stream: see
    /// [`execute_stream_with`](Self::execute_stream_with).
    ///
    /// # Errors
    ///
    /// As [`execute_stream_with`](Self::execute_stream_with).
    ///
    /// # Cancel safety
    ///
    /// As [`execute_stream_with`](Self::execute_stream_with).
    pub fn execute_stream(
        &self,
        task: &Task,
    ) -> impl Future<Output = Result<TaskStream, TaskFailure>> + Send + use<> {
        self.execute_stream_with(task, Options::default())
    }

    /// Starts `task` and returns once its first chunk has arrived, as a
    /// [`TaskStream`] of the chunks of one model on one instance.
    ///
    /// Until the first chunk everything works as in
    /// [`execute_with`](Self::execute_with): routing, permits, waiting for
    /// capacity, failover within the budget. Once a chunk has been handed
    /// out the instance is fixed: a failure after it ends the stream with an
    /// [`Error`] whose [`is_partial`](Error::is_partial) is true (the output
    /// so far is kept in [`TaskFailure::output`]), never with output of
    /// another model spliced in.
    ///
    /// # Errors
    ///
    /// As [`execute_with`](Self::execute_with), for failures before the
    /// first chunk.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the task as in
    /// [`execute_with`](Self::execute_with); dropping the stream cancels it
    /// too (see [`TaskStream`]).
    pub fn execute_stream_with(
        &self,
        task: &Task,
        options: Options,
    ) -> impl Future<Output = Result<TaskStream, TaskFailure>> + Send + use<> {
        let span = tracing::debug_span!("task_stream", task = %task.id);
        let (fleet, task) = (self.clone(), task.clone());
        async move {
            let mut job = Job::new(fleet, &task, options);
            match job.drive(&FirstChunk(&task)).await {
                Ok((call, first)) => Ok(TaskStream::new(job, call, first)),
                Err(error) => Err(job.fail(error, String::new())),
            }
        }
        .instrument(span)
    }
}

/// The chunks of a task's answer from one model on one instance.
///
/// Yields `Ok` chunks up to and including the final (`done: true`) one, or
/// ends with one `Err` whose [`Error::is_partial`] is true: the instance
/// failed mid-stream, the task's deadline passed, or it was cancelled. After
/// the end, [`outcome`](Self::outcome) holds the task's record: a
/// [`TaskResult`] or a [`TaskFailure`] whose `output` is what was streamed.
///
/// # Cancel safety
///
/// Dropping the stream before its end cancels the task: the connection is
/// closed (Ollama stops generating), the permit released, and the attempt
/// recorded as neither success nor fault.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct TaskStream {
    /// `None` once the outcome is recorded.
    running: Option<Running>,
    first: Option<ChatResponse>,
    endpoint: EndpointId,
    model: ModelName,
    outcome: Option<Result<TaskResult, TaskFailure>>,
}

#[derive(Debug)]
struct Running {
    job: Job,
    call: Call,
    deadline: Option<Pin<Box<Sleep>>>,
    cancel: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
}

impl TaskStream {
    fn new(job: Job, call: Call, first: ChatResponse) -> Self {
        let deadline = job.deadline.map(|d| Box::pin(tokio::time::sleep_until(d)));
        let cancel = job.options.cancel.clone().map(|t| Box::pin(t.cancelled_owned()));
        let endpoint = call.endpoint().clone();
        let model = call.model().clone();
        Self {
            running: Some(Running { job, call, deadline, cancel }),
            first: Some(first),
            endpoint,
            model,
            outcome: None,
        }
    }

    /// The endpoint the answer comes from.
    pub fn endpoint(&self) -> &EndpointId {
        &self.endpoint
    }

    /// The model the answer comes from, as the endpoint lists it.
    pub fn model(&self) -> &ModelName {
        &self.model
    }

    /// The attempts that failed before this one (empty when the first
    /// attempt streams); after the end, see [`outcome`](Self::outcome).
    pub fn failed_attempts(&self) -> &[Attempt] {
        self.running.as_ref().map_or(&[], |r| &r.job.attempts)
    }

    /// The task's record, once the stream has ended.
    pub fn outcome(&self) -> Option<&Result<TaskResult, TaskFailure>> {
        self.outcome.as_ref()
    }

    /// Reads the rest of the stream and returns the task's record.
    ///
    /// # Errors
    ///
    /// The [`TaskFailure`] of a stream that broke; its `output` holds what
    /// had arrived and its error is partial.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the stream, which cancels the task.
    pub async fn finish(mut self) -> Result<TaskResult, TaskFailure> {
        while self.next().await.is_some() {}
        self.outcome.take().expect("a stream that has ended has recorded its outcome")
    }

    /// Ends the stream after its final chunk and records the success.
    fn end_ok(&mut self) {
        if let Some(Running { job, call, .. }) = self.running.take() {
            let finished = call.finish(&job.fleet.inner, &End::Done);
            self.outcome = Some(Ok(job.succeed(finished)));
        }
    }

    /// Ends the stream with `error` and records the failure: the instance's
    /// fault, or `stopped` for the task's own deadline or cancellation. The
    /// caller gets a copy of the error (partial), the record the original.
    fn end_err(&mut self, error: Error, stopped: bool) -> Option<Error> {
        let Running { mut job, call, .. } = self.running.take()?;
        let error = error.with_partial(true);
        let end = if stopped { End::Stopped(&error) } else { End::Failed(&error) };
        let finished = call.finish(&job.fleet.inner, &end);
        let output = finished.collected.content;
        job.attempts.push(finished.attempt);
        let copy = Error::new(error.kind(), error.message())
            .with_partial(true)
            .with_endpoint(self.endpoint.as_str())
            .with_model(self.model.to_string());
        let copy = match error.retry_after() {
            Some(after) => copy.with_retry_after(after),
            None => copy,
        };
        self.outcome = Some(Err(job.fail(error, output)));
        Some(copy)
    }
}

impl Stream for TaskStream {
    type Item = Result<ChatResponse, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            if first.done {
                this.end_ok();
            }
            return Poll::Ready(Some(Ok(first)));
        }
        let Some(running) = this.running.as_mut() else { return Poll::Ready(None) };
        if let Some(cancel) = running.cancel.as_mut()
            && cancel.as_mut().poll(cx).is_ready()
        {
            let error = running.job.canceled();
            return Poll::Ready(this.end_err(error, true).map(Err));
        }
        if let Some(deadline) = running.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            let error = running.job.out_of_time("streaming");
            return Poll::Ready(this.end_err(error, true).map(Err));
        }
        match running.call.poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                if chunk.done {
                    this.end_ok();
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(this.end_err(error, false).map(Err)),
            Poll::Ready(None) => {
                this.end_ok();
                Poll::Ready(None)
            }
        }
    }
}

impl Drop for TaskStream {
    fn drop(&mut self) {
        if let Some(running) = &self.running {
            let error = running.job.canceled();
            self.end_err(error, true);
        }
    }
}
