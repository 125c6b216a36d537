//! What a person watches while a batch runs.
//!
//! On a terminal: an overall bar (done of total, tasks per second, token
//! throughput, ETA) and one line per worker with its task id,
//! `model@endpoint` and the tokens generated so far. Elsewhere (a pipe, a
//! log file, CI): one plain line when a task starts and one when it ends.
//!
//! The display is a cheap handle, safe to call from any task or thread; it
//! does not know what executes a task, only ids, placements and tokens.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use om_core::TaskId;
use parking_lot::Mutex;

use crate::batch::record::{Record, Status};
use crate::batch::summary::human_ms;

/// Where plain lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error (when stdout carries data, as with `--json`).
    Stderr,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Live bars, redrawn in place on stderr (a terminal).
    Bars,
    /// One line per task start and end.
    Lines(Stream),
}

/// The progress display; clones share it.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    view: View,
    total: u64,
    done: AtomicU64,
    ok: AtomicU64,
    tokens: AtomicU64,
    /// Tasks an earlier run finished, not counted in this run's rates.
    resumed: u64,
    started: Instant,
}

#[derive(Debug)]
enum View {
    Bars {
        multi: MultiProgress,
        overall: ProgressBar,
        /// One line per worker number, created when the worker first runs
        /// a task and kept (showing `idle`) so lines do not jump around.
        workers: Mutex<Vec<WorkerLine>>,
    },
    Lines(Stream),
}

#[derive(Debug, Clone)]
struct WorkerLine {
    bar: ProgressBar,
    id: Option<TaskId>,
    placement: String,
    tokens: u64,
}

impl Progress {
    /// A display for a batch of `total` tasks of which `already_done`
    /// finished in an earlier run.
    pub(crate) fn new(mode: Mode, total: u64, already_done: u64) -> Self {
        let view = match mode {
            Mode::Bars => {
                let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
                let overall = multi.add(ProgressBar::new(total));
                overall.set_style(
                    ProgressStyle::with_template(
                        "{bar:32.cyan/blue} {pos}/{len} tasks  ETA {eta}  {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                overall.set_position(already_done);
                overall.enable_steady_tick(Duration::from_millis(200));
                View::Bars { multi, overall, workers: Mutex::new(Vec::new()) }
            }
            Mode::Lines(stream) => View::Lines(stream),
        };
        Self {
            inner: Arc::new(Inner {
                view,
                total,
                done: AtomicU64::new(already_done),
                ok: AtomicU64::new(already_done),
                tokens: AtomicU64::new(0),
                resumed: already_done,
                started: Instant::now(),
            }),
        }
    }

    /// Prints a line above the bars (or as a plain line).
    pub(crate) fn println(&self, line: &str) {
        match &self.inner.view {
            View::Bars { multi, .. } => {
                // Printing fails only when the terminal is gone; then there
                // is no one to show the line to.
                let _ = multi.println(line);
            }
            View::Lines(stream) => write_line(*stream, line),
        }
    }

    /// Worker `worker` took task `id`.
    pub(crate) fn started(&self, worker: usize, id: &TaskId) {
        match &self.inner.view {
            View::Bars { multi, workers, .. } => {
                let mut lines = workers.lock();
                while lines.len() <= worker {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_prefix(format!("#{}", lines.len()));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    lines.push(WorkerLine { bar, id: None, placement: String::new(), tokens: 0 });
                }
                let line = &mut lines[worker];
                line.id = Some(id.clone());
                "routing…".clone_into(&mut line.placement);
                line.tokens = 0;
                line.bar.set_style(style(BUSY));
                line.bar.reset_elapsed();
                render(line);
            }
            View::Lines(stream) => write_line(*stream, &format!("start  {id} (worker {worker})")),
        }
    }

    /// The task on `worker` started an attempt on `model@endpoint`.
    pub(crate) fn placed(&self, worker: usize, placement: String) {
        self.update(worker, |line| {
            line.placement = placement;
            line.tokens = 0;
        });
    }

    /// The task on `worker` is waiting for capacity.
    pub(crate) fn waiting(&self, worker: usize) {
        self.update(worker, |line| "waiting for capacity…".clone_into(&mut line.placement));
    }

    /// The task on `worker` has generated `tokens` tokens in this attempt.
    pub(crate) fn tokens(&self, worker: usize, tokens: u64) {
        self.update(worker, |line| line.tokens = tokens);
    }

    fn update(&self, worker: usize, change: impl FnOnce(&mut WorkerLine)) {
        if let View::Bars { workers, .. } = &self.inner.view
            && let Some(line) = workers.lock().get_mut(worker)
        {
            change(line);
            render(line);
        }
    }

    /// A task ended (on `worker`, when it ever started) with `record`.
    pub(crate) fn finished(&self, worker: Option<usize>, record: &Record) {
        let inner = &self.inner;
        let done = inner.done.fetch_add(1, Ordering::Relaxed) + 1;
        if record.is_ok() {
            inner.ok.fetch_add(1, Ordering::Relaxed);
        }
        let tokens = record.completion_tokens.unwrap_or(0);
        let all_tokens = inner.tokens.fetch_add(tokens, Ordering::Relaxed) + tokens;
        match &inner.view {
            View::Bars { overall, workers, .. } => {
                // The worker may already have taken its next task: only a
                // line still showing this task goes idle.
                if let Some(w) = worker
                    && let Some(line) = workers.lock().get_mut(w)
                    && line.id.as_ref() == Some(&record.id)
                {
                    line.id = None;
                    line.bar.set_style(style(IDLE));
                    render(line);
                }
                let failed = done - inner.ok.load(Ordering::Relaxed);
                let secs = inner.started.elapsed().as_secs_f64().max(1e-3);
                let tasks_rate = (done - inner.resumed) as f64 / secs;
                let tokens_rate = all_tokens as f64 / secs;
                overall.set_message(format!(
                    "{tasks_rate:.1} tasks/s  {tokens_rate:.0} tok/s  {failed} failed"
                ));
                overall.inc(1);
                if record.status != Status::Ok {
                    self.println(&outcome_line(done, inner.total, record));
                }
            }
            View::Lines(stream) => write_line(*stream, &outcome_line(done, inner.total, record)),
        }
    }

    /// Removes the live lines, leaving the terminal ready for the summary.
    pub(crate) fn finish(&self) {
        if let View::Bars { multi, overall, workers } = &self.inner.view {
            for line in workers.lock().iter() {
                line.bar.finish_and_clear();
            }
            overall.finish();
            let _ = multi.clear();
        }
    }
}

/// Redraws one worker line from its state.
fn render(line: &WorkerLine) {
    match &line.id {
        Some(id) => {
            line.bar.set_message(format!("{id}  {}  {} tok", line.placement, line.tokens));
        }
        None => line.bar.set_message("idle"),
    }
}

/// A worker line running a task: spinner, message, time on the task.
const BUSY: &str = "  {prefix:>3.dim} {spinner} {msg}  {elapsed:.dim}";
/// A worker line with nothing to do.
const IDLE: &str = "  {prefix:>3.dim}   {msg:.dim}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// `[12/30] ok     task-3  model@endpoint  1.24s  128 tok` and the like.
fn outcome_line(done: u64, total: u64, record: &Record) -> String {
    let mut line = format!(
        "[{done}/{total}] {:<9} {}  {}",
        record.status.as_str(),
        record.id,
        record.placement()
    );
    if let Some(ms) = record.elapsed_ms.or(record.latency_ms) {
        let _ = write!(line, "  {}", human_ms(ms));
    }
    if let Some(tokens) = record.completion_tokens {
        let _ = write!(line, "  {tokens} tok");
    }
    if let Some(error) = &record.error {
        let _ = write!(line, "  {}: {}", error.kind, error.message);
    }
    line
}

fn write_line(stream: Stream, line: &str) {
    // A closed pipe is not worth failing the batch over: the journal is
    // the record, this is commentary.
    let _ = match stream {
        Stream::Stdout => writeln!(std::io::stdout().lock(), "{line}"),
        Stream::Stderr => writeln!(std::io::stderr().lock(), "{line}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::record::tests::record;

    #[test]
    fn outcome_lines_say_what_where_and_why() {
        let line = outcome_line(3, 30, &record("t-1", Status::Ok));
        assert_eq!(line, "[3/30] ok        t-1  qwen2.5-coder:7b@gpu  1.50s  100 tok");
        let line = outcome_line(4, 30, &record("t-2", Status::Error));
        assert!(line.ends_with("timeout: too slow"), "{line}");
    }
}
