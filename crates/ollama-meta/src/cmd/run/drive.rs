//! The loop `run` and `aider` share once a batch is queued: journal each
//! outcome as it ends, and turn Ctrl-C into drain (first press) and cancel
//! (second press).

use std::future::Future;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use om_dispatch::{Dispatcher, Executor};
use tokio_util::sync::CancellationToken;

use crate::batch::journal::Journal;
use crate::batch::progress::Progress;
use crate::batch::record::Record;
use crate::cmd::run::interrupt::Interrupts;

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

/// The dispatcher's side of a queued batch.
pub(crate) struct Queued<'a, E: Executor> {
    /// Closed on the first Ctrl-C, cancelled on the second or when the
    /// journal cannot be written.
    pub(crate) dispatcher: &'a Dispatcher<E>,
    /// Cancelled on the first Ctrl-C so executors stop starting work.
    pub(crate) draining: &'a CancellationToken,
}

/// Waits for every `pending` outcome, turns each into a record with
/// `finish` (which also says which worker ran it), appends it to `journal`
/// before it counts, and returns the records (and whether Ctrl-C was
/// pressed), or the first journal failure
/// (after cancelling everything: without a journal nothing that finishes
/// would count).
pub(crate) async fn journal_outcomes<E, F, T>(
    queued: Queued<'_, E>,
    mut pending: FuturesUnordered<F>,
    mut finish: impl FnMut(T) -> (Option<usize>, Record),
    journal: &mut Journal<Record>,
    interrupts: &mut Interrupts,
    progress: &Progress,
    words: &Words,
) -> anyhow::Result<Journaled>
where
    E: Executor,
    F: Future<Output = T>,
{
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
