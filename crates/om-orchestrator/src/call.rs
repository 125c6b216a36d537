//! One attempt on one instance: the resources it holds while it runs (the
//! endpoint permit, the registry's in-flight guard, the metrics' in-flight
//! guard), the chunks it collects, and the record it leaves.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt;
use om_client::Client;
use om_core::wire::{ChatRequest, ChatResponse, Metrics as WireMetrics, ToolCall};
use om_core::{ChunkStream, EndpointId, Error, ErrorKind, ModelName, TaskCategory};
use om_metrics::{BreakerState, BreakerTransition, RequestRecord};
use om_registry::{InFlight, Outcome, Transition, Verdict};
use tokio::time::Instant;

use crate::fleet::Inner;
use crate::options::{Options, Progress};
use crate::permits::Permit;
use crate::result::{Attempt, AttemptError};

/// An instance chosen for one attempt, and what it holds there.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) number: u32,
    pub(crate) endpoint: EndpointId,
    pub(crate) model: ModelName,
    pub(crate) client: Client,
    /// From the task's start to this attempt's.
    pub(crate) offset: Duration,
    /// `None` for a metadata call, which takes no capacity and leaves no
    /// record.
    pub(crate) reserved: Option<Reserved>,
}

/// The capacity an inference attempt holds: the endpoint permit and the
/// in-flight guards.
#[derive(Debug)]
pub(crate) struct Reserved {
    pub(crate) in_flight: InFlight,
    pub(crate) metrics_in_flight: om_metrics::InFlight,
    /// Released last, when the slot drops, so that a task woken by its
    /// release sees the instance's in-flight count already down.
    pub(crate) permit: Permit,
}

/// What an attempt's chunks added up to.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub(crate) content: String,
    pub(crate) thinking: String,
    pub(crate) tool_calls: Vec<ToolCall>,
    pub(crate) chunks: u64,
    pub(crate) done_reason: Option<String>,
    pub(crate) metrics: WireMetrics,
    pub(crate) done: bool,
}

impl Collected {
    fn push(&mut self, chunk: &ChatResponse) {
        self.content.push_str(&chunk.message.content);
        if let Some(thinking) = &chunk.message.thinking {
            self.thinking.push_str(thinking);
        }
        if let Some(calls) = &chunk.message.tool_calls {
            self.tool_calls.extend(calls.iter().cloned());
        }
        self.chunks += 1;
        if chunk.done {
            self.done = true;
            self.done_reason.clone_from(&chunk.done_reason);
            self.metrics = chunk.metrics;
        }
    }
}

/// The request of a [`Call`] on its way: sent, its answer's head not in.
type Sending = Pin<Box<dyn Future<Output = Result<ChunkStream<ChatResponse>, Error>> + Send>>;

/// An attempt in progress.
pub(crate) struct Call {
    slot: Slot,
    category: TaskCategory,
    sent: Instant,
    ttft: Option<Duration>,
    /// When the first chunk arrived, for the pace of the rest.
    first_at: Option<Instant>,
    sending: Option<Sending>,
    stream: Option<ChunkStream<ChatResponse>>,
    pub(crate) collected: Collected,
}

/// Chunks that must have arrived, and the time since the first one, before
/// a stream's pace is trusted: the first few come in a burst behind the
/// prompt evaluation.
const PACE_MIN_CHUNKS: u64 = 8;
const PACE_MIN_SPAN: Duration = Duration::from_millis(200);

/// How an attempt ended, for the record.
pub(crate) enum End<'e> {
    /// The final chunk arrived.
    Done,
    /// It failed; the instance is to blame (or was busy).
    Failed(&'e Error),
    /// It was stopped for the task's sake (cancelled, out of time): says
    /// nothing about the instance.
    Stopped(&'e Error),
}

/// The record of a finished attempt.
pub(crate) struct Finished {
    pub(crate) attempt: Attempt,
    pub(crate) ttft: Option<Duration>,
    pub(crate) collected: Collected,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("slot", &self.slot)
            .field("sent", &self.sent)
            .field("chunks", &self.collected.chunks)
            .finish_non_exhaustive()
    }
}

impl Call {
    pub(crate) fn new(slot: Slot, category: TaskCategory) -> Self {
        Self {
            slot,
            category,
            sent: Instant::now(),
            ttft: None,
            first_at: None,
            sending: None,
            stream: None,
            collected: Collected::default(),
        }
    }

    /// Chunks per second since the first one, once enough have come to say
    /// (one chunk is about one token).
    pub(crate) fn pace(&self, now: Instant) -> Option<f64> {
        let span = now.saturating_duration_since(self.first_at?);
        let chunks = self.collected.chunks;
        (chunks >= PACE_MIN_CHUNKS && span >= PACE_MIN_SPAN && !self.collected.done)
            .then(|| (chunks - 1) as f64 / span.as_secs_f64())
    }

    /// The attempt's number in its task, 1 for the first.
    pub(crate) fn number(&self) -> u32 {
        self.slot.number
    }

    pub(crate) fn endpoint(&self) -> &EndpointId {
        &self.slot.endpoint
    }

    pub(crate) fn model(&self) -> &ModelName {
        &self.slot.model
    }

    /// The client of the attempt's endpoint, for a call made outside
    /// [`open`](Self::open) (a forwarded request).
    pub(crate) fn client(&self) -> &Client {
        &self.slot.client
    }

    /// Restarts the attempt's clock: the request is being sent now.
    pub(crate) fn sending(&mut self) {
        self.sent = Instant::now();
    }

    /// Records that the first chunk arrived now (unless one already did);
    /// called directly for a call whose chunks are not read through
    /// [`next`](Self::next) (a forwarded request).
    pub(crate) fn first_chunk(&mut self) {
        if self.ttft.is_none() {
            let now = Instant::now();
            self.ttft = Some(now.saturating_duration_since(self.sent));
            self.first_at = Some(now);
        }
    }

    /// Sends the request and waits for the first chunk.
    ///
    /// # Cancel safety
    ///
    /// As [`next`](Self::next).
    pub(crate) async fn open(
        &mut self,
        request: ChatRequest,
        options: &Options,
    ) -> Result<ChatResponse, Error> {
        self.send(request);
        match self.next(options).await {
            Some(chunk) => chunk,
            None => Err(self.ended_early()),
        }
    }

    /// Sends the request now; [`next`](Self::next) waits for the answer.
    pub(crate) fn send(&mut self, request: ChatRequest) {
        self.sent = Instant::now();
        let client = self.slot.client.clone();
        self.sending = Some(Box::pin(async move { client.chat(request).await }));
    }

    /// The next chunk (the first one once the request [sent](Self::send)
    /// is answered); `None` after the final one.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the request on its way stays in the call, and a chunk
    /// is only taken from the stream when it is returned.
    pub(crate) async fn next(&mut self, options: &Options) -> Option<Result<ChatResponse, Error>> {
        let item = std::future::poll_fn(|cx| self.poll_next(cx)).await?;
        if item.is_ok() {
            options.report(&Progress::Chunk { chunks: self.collected.chunks });
        }
        Some(item)
    }

    /// The next chunk, polled; `Ready(None)` after the final one.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<ChatResponse, Error>>> {
        if self.collected.done {
            return Poll::Ready(None);
        }
        if let Some(sending) = self.sending.as_mut() {
            let answered = std::task::ready!(sending.as_mut().poll(cx));
            self.sending = None;
            match answered {
                Ok(stream) => self.stream = Some(stream),
                Err(error) => return Poll::Ready(Some(Err(error))),
            }
        }
        let item = match self.stream.as_mut() {
            Some(stream) => std::task::ready!(stream.poll_next_unpin(cx)),
            None => None,
        };
        Poll::Ready(Some(self.take(item)))
    }

    /// Collects a chunk; a stream that ends before its final chunk is an
    /// error.
    fn take(&mut self, item: Option<Result<ChatResponse, Error>>) -> Result<ChatResponse, Error> {
        match item {
            Some(Ok(chunk)) => {
                self.first_chunk();
                self.collected.push(&chunk);
                Ok(chunk)
            }
            Some(Err(error)) => Err(error),
            None => Err(self.ended_early()),
        }
    }

    fn ended_early(&self) -> Error {
        Error::new(
            ErrorKind::Disconnected,
            format!("stream from {} ended before its final chunk", self.slot.endpoint),
        )
        .with_endpoint(self.slot.endpoint.as_str())
        .with_model(self.slot.model.to_string())
        .with_partial(self.collected.chunks > 0)
    }

    /// Ends the attempt: records its outcome in the registry (moving
    /// averages, success rate, breaker, cooldown) and in the metrics, and
    /// releases the instance.
    pub(crate) fn finish(self, fleet: &Inner, end: &End<'_>) -> Finished {
        let now = Instant::now();
        let latency = now.saturating_duration_since(self.sent);
        let pace = self.pace(now);
        let Self { slot, category, ttft, collected, .. } = self;
        let Slot { number, endpoint, model, offset, reserved, .. } = slot;
        let error = match end {
            End::Done => None,
            End::Failed(error) | End::Stopped(error) => Some(*error),
        };
        // A metadata call took no capacity and says nothing of the
        // instance's speed: only inference is recorded.
        if let Some(Reserved { in_flight, metrics_in_flight, permit }) = reserved {
            let outcome = match end {
                End::Done => {
                    let mut outcome =
                        Outcome::success().with_latency(latency).with_metrics(&collected.metrics);
                    if let Some(ttft) = ttft {
                        outcome = outcome.with_ttft(ttft);
                    }
                    outcome
                }
                End::Failed(error) => Outcome::failure(error),
                End::Stopped(error) => {
                    let outcome = Outcome::new(Verdict::Neutral(error.kind()));
                    match pace {
                        Some(rate) => outcome.with_tokens_per_sec(rate),
                        None => outcome,
                    }
                }
            }
            .with_category(category);
            let recorded = in_flight.finish(&outcome, now);
            if let Some((limit, _)) = recorded.limit {
                fleet.metrics.set_endpoint_limit(&endpoint, limit);
            }
            if let Some(transition) = recorded.transition {
                let (from, to) = match transition {
                    Transition::Opened { trips: 1, .. } => {
                        (BreakerState::Closed, BreakerState::Open)
                    }
                    Transition::Opened { .. } => (BreakerState::HalfOpen, BreakerState::Open),
                    Transition::Closed => (BreakerState::HalfOpen, BreakerState::Closed),
                };
                tracing::info!(%endpoint, %model, from = from.as_str(), to = to.as_str(), "circuit breaker");
                fleet.metrics.record_breaker_transition(BreakerTransition {
                    endpoint: endpoint.clone(),
                    model: model.clone(),
                    from,
                    to,
                });
            }
            let mut record = RequestRecord::new(
                &endpoint,
                &model,
                error.map_or(om_metrics::Outcome::Ok, om_metrics::Outcome::from),
                latency,
            )
            .with_category(category);
            record.ttft = ttft;
            record.tokens = collected.metrics.eval_count;
            record.tokens_per_sec = collected.metrics.tokens_per_second();
            fleet.metrics.record_request(record);
            drop(metrics_in_flight);
            drop(permit);
        }

        let attempt = Attempt {
            number,
            endpoint,
            model,
            offset,
            latency,
            error: error.map(AttemptError::of),
        };
        Finished { attempt, ttft, collected }
    }
}
