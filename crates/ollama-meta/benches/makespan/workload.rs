//! The batches the strategies run: seeded, with every task's output length
//! planned, so that the runs and the offline schedule do the same work.

use om_core::rng::SplitMix64;
use om_core::wire::Options;
use om_core::{ModelChoice, Priority, Task, TaskCategory};

use crate::scenario::{CODER, LLAMA};

/// The kind of batch a scenario sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mix {
    /// `num_predict` 40, 80 or 160; any model; one priority.
    Sized,
    /// As `Sized`, each task pinned to one of two models, half each.
    TwoModels,
    /// Half the tasks with `num_predict` 40–320, half without, their length
    /// set by their category (which the router has to learn); three
    /// priorities.
    Mixed,
}

/// One task and the tokens it generates wherever it runs.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub(crate) task: Task,
    pub(crate) tokens: u64,
    /// The model it is pinned to, when it is.
    pub(crate) model: Option<&'static str>,
}

/// A batch.
#[derive(Debug, Clone)]
pub(crate) struct Workload {
    pub(crate) tasks: Vec<Planned>,
    pub(crate) seed: u64,
}

impl Workload {
    /// The tokens to generate.
    pub(crate) fn tokens(&self) -> u64 {
        self.tasks.iter().map(|t| t.tokens).sum()
    }
}

/// What a prompt asks about.
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

/// The output length of a task without `num_predict`, by category: what
/// the router learns online in the mixed batch.
fn natural_length(category: TaskCategory) -> u64 {
    match category {
        TaskCategory::Coding => 320,
        TaskCategory::Refactoring => 240,
        TaskCategory::Testing => 200,
        TaskCategory::Debugging => 160,
        TaskCategory::Documentation => 120,
        TaskCategory::CodeReview => 80,
        TaskCategory::General => 40,
    }
}

/// `count` tasks of `mix` drawn from `seed`, categories uniform.
pub(crate) fn generate(mix: Mix, count: usize, seed: u64) -> Workload {
    let mut rng = SplitMix64::new(seed);
    let tasks = (0..count)
        .map(|i| {
            let category = *rng.pick(&TaskCategory::ALL);
            let subject = rng.pick(&SUBJECTS);
            let (priority, num_predict, model) = match mix {
                Mix::Sized => (Priority::Normal, Some(*rng.pick(&[40, 80, 160])), None),
                Mix::TwoModels => (
                    Priority::Normal,
                    Some(*rng.pick(&[40, 80, 160])),
                    Some(*rng.pick(&[CODER, LLAMA])),
                ),
                Mix::Mixed => {
                    let priority = *rng.pick(&Priority::ALL);
                    let sized = rng.below(2) == 0;
                    (priority, sized.then(|| *rng.pick(&[40, 80, 160, 320])), None)
                }
            };
            let tokens = num_predict.unwrap_or_else(|| natural_length(category));
            let mut task = Task::new(
                format!("t{i:03}"),
                format!("{} {subject}. len={tokens}", verb(category)),
            );
            task.category = Some(category);
            task.priority = priority;
            if let Some(model) = model {
                task.model = ModelChoice::Pinned(model.parse().expect("a valid model name"));
            }
            if let Some(n) = num_predict {
                task.options = Some(Options::default().with("num_predict", n));
            }
            Planned { task, tokens, model }
        })
        .collect();
    Workload { tasks, seed }
}

fn verb(category: TaskCategory) -> &'static str {
    match category {
        TaskCategory::Coding => "Implement a small feature in",
        TaskCategory::CodeReview => "Review the latest change to",
        TaskCategory::Debugging => "Find the bug in",
        TaskCategory::Documentation => "Document",
        TaskCategory::Testing => "Write unit tests for",
        TaskCategory::Refactoring => "Refactor",
        TaskCategory::General => "Explain",
    }
}
