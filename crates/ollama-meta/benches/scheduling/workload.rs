//! The batch every strategy runs: seeded, mixed categories, priorities and
//! models, short prompts and varied output lengths.

use om_core::rng::SplitMix64;
use om_core::wire::Options;
use om_core::{ModelChoice, Priority, Task, TaskCategory};

use crate::fleet::{CODER, LLAMA};

/// The shortest and longest `num_predict` of a task.
pub(crate) const MIN_TOKENS: u64 = 50;
pub(crate) const MAX_TOKENS: u64 = 400;

/// The tasks and the work they hold.
#[derive(Debug, Clone)]
pub(crate) struct Workload {
    pub(crate) tasks: Vec<Task>,
    /// The sum of every task's `num_predict`: the tokens to generate.
    pub(crate) tokens: u64,
    pub(crate) seed: u64,
}

/// What a prompt of each category asks about (short: the simulator's time
/// to first token does not depend on prompt length).
const SUBJECTS: [&str; 8] = [
    "the tokenizer",
    "the config loader",
    "the HTTP client",
    "the retry policy",
    "the journal",
    "the router",
    "the progress bar",
    "the task parser",
];

/// `count` tasks drawn from `seed`: a category and a priority uniformly; the
/// model pinned to the coder (40 %), pinned to llama (30 %) or left to the
/// router (30 %); `num_predict` uniform in 50–400.
pub(crate) fn generate(count: usize, seed: u64) -> Workload {
    let mut rng = SplitMix64::new(seed);
    let mut tokens = 0;
    let tasks = (0..count)
        .map(|i| {
            let category = *rng.pick(&TaskCategory::ALL);
            let priority = *rng.pick(&Priority::ALL);
            let subject = rng.pick(&SUBJECTS);
            let num_predict = MIN_TOKENS + rng.below((MAX_TOKENS - MIN_TOKENS + 1) as usize) as u64;
            tokens += num_predict;
            let mut task = Task::new(format!("t{i:03}"), prompt(category, subject));
            task.category = Some(category);
            task.priority = priority;
            task.model = match rng.below(10) {
                0..=3 => ModelChoice::Pinned(CODER.parse().expect("a valid model name")),
                4..=6 => ModelChoice::Pinned(LLAMA.parse().expect("a valid model name")),
                _ => ModelChoice::Any,
            };
            task.options = Some(Options::default().with("num_predict", num_predict));
            task
        })
        .collect();
    Workload { tasks, tokens, seed }
}

fn prompt(category: TaskCategory, subject: &str) -> String {
    let verb = match category {
        TaskCategory::Coding => "Implement a small feature in",
        TaskCategory::CodeReview => "Review the latest change to",
        TaskCategory::Debugging => "Find the bug in",
        TaskCategory::Documentation => "Document",
        TaskCategory::Testing => "Write unit tests for",
        TaskCategory::Refactoring => "Refactor",
        TaskCategory::General => "Explain",
    };
    format!("{verb} {subject}.")
}
