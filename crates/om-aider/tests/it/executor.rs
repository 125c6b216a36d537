//! The executor through the dispatcher and the pool: the dispatcher decides
//! what runs next, the selection where, the pool who; outcomes land in the
//! registry.

use std::num::NonZeroUsize;
use std::time::Duration;

use om_aider::{
    AiderExecutor, AiderFactory, AiderTask, Progress, Select, Selector, SessionSpec, SessionStatus,
    Sessions, Settings, TaskFailure,
};
use om_core::{EndpointId, ModelChoice, TaskCategory};
use om_dispatch::{Dispatcher, EventKind, Task, TaskError};
use om_pool::Pool;
use om_registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::select::fleet;
use crate::support::Fixture;

async fn run_batch(
    fixture: &Fixture,
    registry: &Registry,
    settings: Settings,
    tasks: Vec<AiderTask>,
    workers: usize,
) -> (Vec<Result<om_aider::SessionReport, om_dispatch::DispatchError<TaskFailure>>>, Vec<Progress>)
{
    let settings = Settings { program: fixture.aider.clone(), ..settings };
    let sessions = Sessions::open(&fixture.repo, "main", settings).await.expect("sessions open");
    let pool = Pool::builder(AiderFactory::new(sessions.clone()))
        .min(0)
        .max(workers)
        .build()
        .expect("a valid pool");
    let executor = AiderExecutor::new(
        sessions,
        pool.clone(),
        registry.clone(),
        Selector::new(Select::RoundRobin),
    );
    let (dispatcher, runner) = Dispatcher::builder(executor)
        .workers(NonZeroUsize::new(workers).expect("at least one worker"))
        .build();
    let mut events = dispatcher.subscribe();
    let shutdown = CancellationToken::new();
    let pool_worker = tokio::spawn(pool.clone().run(shutdown.clone()));
    let running = tokio::spawn(runner.run(shutdown.clone()));
    let handles = dispatcher
        .submit_batch(tasks.into_iter().map(|t| Task::new(t.spec.id.clone(), t)))
        .expect("the dispatcher is open");
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await);
    }
    let report = dispatcher.shutdown(Duration::from_secs(30)).await;
    assert!(!report.timed_out);
    running.await.expect("the runner joins");
    shutdown.cancel();
    pool_worker.await.expect("pool worker joins").expect("pool worker ends cleanly");
    let mut progress = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let EventKind::Progress(p) = event.kind {
            progress.push(p);
        }
    }
    (results, progress)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_spread_over_the_fleet_and_outcomes_are_recorded() {
    let files: Vec<String> = (0..6).map(|i| format!("f{i}.py")).collect();
    let fixture = Fixture::new(&files.iter().map(String::as_str).collect::<Vec<_>>());
    let registry = fleet(&[("a", "coder:7b", "7B", 8192), ("b", "coder:7b", "7B", 8192)]);
    let tasks = files
        .iter()
        .enumerate()
        .map(|(i, f)| AiderTask {
            spec: SessionSpec::new(format!("t{i}"), format!("edit {f}")).with_file(f.clone()),
            models: ModelChoice::Any,
            category: Some(TaskCategory::Refactoring),
        })
        .collect();
    let (results, progress) = run_batch(&fixture, &registry, Settings::default(), tasks, 3).await;

    let reports: Vec<_> = results.into_iter().map(|r| r.expect("every task succeeds")).collect();
    assert_eq!(reports.len(), 6);
    for (i, report) in reports.iter().enumerate() {
        assert_eq!(report.status, SessionStatus::Succeeded);
        assert_eq!(report.branch, format!("om/t{i}"));
        assert_eq!(report.diff.files[0].path.to_str(), Some(files[i].as_str()));
    }
    // Round-robin over two endpoints: three sessions each.
    let on_a = reports.iter().filter(|r| r.endpoint == EndpointId::new("a")).count();
    assert_eq!(on_a, 3);
    assert_eq!(progress.len(), 6, "one assignment per task");

    // Each session's outcome is on its instance: successes, and the model
    // learned about the category.
    let snapshot = registry.snapshot();
    let outcomes: u64 = snapshot.instances().iter().map(|i| i.live.stats().outcomes).sum();
    assert_eq!(outcomes, 6);
    assert_eq!(snapshot.instances().iter().map(|i| i.live.in_flight()).sum::<u32>(), 0);
    let model = &snapshot.models()[0];
    assert_eq!(model.live.affinity(TaskCategory::Refactoring).trials, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sessions_are_task_failures_with_their_report() {
    let fixture = Fixture::new(&["a.py"]);
    let registry = fleet(&[("a", "coder:7b", "7B", 8192)]);
    let settings =
        Settings { env: vec![("FAKE_AIDER".into(), "unreachable".into())], ..Settings::default() };
    let task = AiderTask::new(SessionSpec::new("t", "edit").with_file("a.py"));
    let bad_id = AiderTask::new(SessionSpec::new("../t", "edit"));
    let (results, _) = run_batch(&fixture, &registry, settings, vec![task, bad_id], 2).await;

    let failure = results[0].as_ref().unwrap_err().failure().expect("an executor error");
    assert_eq!(failure.kind_name(), "model_unreachable");
    assert_eq!(failure.report().map(|r| r.status), Some(SessionStatus::ModelUnreachable));
    let failure = results[1].as_ref().unwrap_err().failure().expect("an executor error");
    assert_eq!(failure.kind_name(), "invalid_task");

    // The unreachable model counted against the instance; the invalid task
    // said nothing about it.
    let stats = registry.snapshot().instances()[0].live.stats();
    assert_eq!(stats.outcomes, 2);
    assert_eq!(stats.success_rate, Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_instance_is_a_typed_failure() {
    let fixture = Fixture::new(&["a.py"]);
    let registry = fleet(&[("a", "coder:7b", "7B", 8192)]);
    let task = AiderTask {
        spec: SessionSpec::new("t", "edit").with_file("a.py"),
        models: ModelChoice::Pinned("other:1b".parse().unwrap()),
        category: None,
    };
    let (results, _) = run_batch(&fixture, &registry, Settings::default(), vec![task], 1).await;
    let failure = results[0].as_ref().unwrap_err().failure().expect("an executor error");
    assert_eq!(failure.kind_name(), "no_instance");
    assert!(failure.to_string().contains("other:1b"), "{failure}");
}
