//! What `run` and `aider` share once their tasks are ready: queue them on
//! a dispatcher, journal each outcome as it ends, and turn Ctrl-C into
//! drain (first press) and cancel (second press).

use std::future::Future;

use anyhow::Context as _;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use om_dispatch::{Builder, DispatchError, Dispatcher, Executor};
use tokio_util::sync::CancellationToken;

use crate::batch::flow::Todo;
use crate::batch::interrupt::Interrupts;
use crate::batch::journal::Journal;
use crate::batch::progress::Progress;
use crate::batch::record::Record;
use crate::batch::running::{Meta, Running, RunningTask};

/// What the interrupt messages call the units of work ("tasks", "sessions").
pub(crate) struct Words {
    /// Printed on the first Ctrl-C.
    pub(crate) draining: &'static str,
    /// Printed on the second Ctrl-C.
    pub(crate) cancelling: &'static str,
}

/// The records a batch journaled, and whether Ctrl-C cut it short.
pub(crate) struct Journaled {
    pub(crate) records: Vec<Record>,
    pub(crate) interrupted: bool,
}

/// The exit code of a batch: 130 (128 + SIGINT, as shells report it) when
/// Ctrl-C cut it short, else 0 when every task ended ok and 1 otherwise.
pub(crate) fn exit_code(all_ok: bool, interrupted: bool) -> std::process::ExitCode {
    match (interrupted, all_ok) {
        (true, _) => std::process::ExitCode::from(130),
        (false, true) => std::process::ExitCode::SUCCESS,
        (false, false) => std::process::ExitCode::FAILURE,
    }
}

/// Runs `tasks` on the dispatcher `builder` makes and journals each as it
/// ends: `record` turns its outcome into a results line, given what
/// `running` knew of it (when and where it ran), and the line is appended
/// to the journal before it counts. `words` are what Ctrl-C prints,
/// `draining` is cancelled on the first press. Returns the new records, or
/// the first journal failure (after cancelling everything: without a
/// journal nothing that finishes would count).
pub(crate) async fn run_queued<E: Executor>(
    builder: Builder<E>,
    tasks: Vec<(om_dispatch::Task<E::Payload>, Meta)>,
    mut record: impl FnMut(
        &Meta,
        Result<E::Output, DispatchError<E::Error>>,
        Option<&RunningTask>,
    ) -> Record,
    running: &Running,
    todo: &mut Todo,
    words: &Words,
    draining: &CancellationToken,
) -> anyhow::Result<Journaled> {
    // Listen first, so that no press is lost while the batch is queued.
    let mut interrupts = Interrupts::new().context("listening for Ctrl-C")?;
    let (dispatcher, runner) = builder.build();
    let runner = tokio::spawn(runner.run(CancellationToken::new()));
    let (tasks, metas): (Vec<_>, Vec<Meta>) = tasks.into_iter().unzip();
    let submitted = dispatcher
        .submit_batch(tasks)
        .map_err(|_| anyhow::anyhow!("the dispatcher closed before the batch was queued"))?;
    let pending: FuturesUnordered<_> = submitted
        .into_iter()
        .zip(metas)
        .map(|(handle, meta)| async move { (meta, handle.await) })
        .collect();
    let finish = |(meta, outcome): (Meta, _)| {
        let ran = running.take(&meta.id);
        (ran.as_ref().map(|r| r.worker), record(&meta, outcome, ran.as_ref()))
    };
    let queued = Queued { dispatcher: &dispatcher, draining };
    let sink = Sink { journal: &mut todo.journal, progress: &todo.progress, words };
    let records = journal_outcomes(queued, pending, finish, &mut interrupts, sink).await;
    drop(dispatcher);
    runner.await.context("the dispatcher's runner failed")?;
    records
}

/// Where a batch's outcomes go and what its interrupts say.
struct Sink<'a> {
    journal: &'a mut Journal<Record>,
    progress: &'a Progress,
    words: &'a Words,
}

/// The dispatcher's side of a queued batch.
struct Queued<'a, E: Executor> {
    /// Closed on the first Ctrl-C, cancelled on the second or when the
    /// journal cannot be written.
    dispatcher: &'a Dispatcher<E>,
    /// Cancelled on the first Ctrl-C so executors stop starting work.
    draining: &'a CancellationToken,
}

/// Waits for every `pending` outcome, turns each into a record with
/// `finish`, appends it to the journal before it counts, and returns the
/// records (and whether Ctrl-C was pressed), or the first journal failure.
async fn journal_outcomes<E, F, T>(
    queued: Queued<'_, E>,
    mut pending: FuturesUnordered<F>,
    mut finish: impl FnMut(T) -> (Option<usize>, Record),
    interrupts: &mut Interrupts,
    sink: Sink<'_>,
) -> anyhow::Result<Journaled>
where
    E: Executor,
    F: Future<Output = T>,
{
    let Sink { journal, progress, words } = sink;
    let mut presses = 0_u32;
    let mut records = Vec::new();
    let mut failure = None;
    loop {
        tokio::select! {
            // Outcomes first: a finished task is journaled before an
            // interrupt that arrived at the same time is acted on.
            biased;
            next = pending.next() => {
                let Some(outcome) = next else { break };
                let (worker, record) = finish(outcome);
                if let Err(err) = journal.append(&record).await {
                    queued.dispatcher.cancel_all();
                    failure.get_or_insert(anyhow::Error::new(err).context(format!(
                        "appending to the results file {}", journal.path().display()
                    )));
                    continue;
                }
                progress.finished(worker, &record);
                records.push(record);
            }
            () = interrupts.next(), if presses < 2 => {
                presses += 1;
                if presses == 1 {
                    queued.draining.cancel();
                    queued.dispatcher.close();
                    progress.println(words.draining);
                } else {
                    queued.dispatcher.cancel_all();
                    progress.println(words.cancelling);
                }
            }
        }
    }
    match failure {
        Some(err) => Err(err),
        None => Ok(Journaled { records, interrupted: presses > 0 }),
    }
}
