//! The executor through the dispatcher and the pool: the dispatcher decides
//! what runs next, the place where, the pool who; the place hears how each
//! session went.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use om_aider::{
    AiderExecutor, AiderFactory, AiderTask, Fixed, Lease, Place, Progress, SessionSpec,
    SessionStatus, Sessions, Settings, Target, TaskFailure,
};
use om_core::{EndpointId, ModelChoice, TaskCategory};
use om_dispatch::{Dispatcher, EventKind, Task, TaskError};
use om_pool::Pool;
use om_registry::{Outcome, Verdict};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::support::Fixture;

fn target(endpoint: &str) -> Target {
    Target {
        model: "coder:7b".parse().expect("a model name"),
        endpoint: EndpointId::new(endpoint),
        url: "http://127.0.0.1:9".parse().expect("a URL"),
    }
}

/// Places sessions on its targets in turn and keeps what each lease was
/// told when it ended.
#[derive(Clone, Default)]
struct Turns {
    targets: Vec<Target>,
    turn: Arc<AtomicUsize>,
    ended: Arc<Mutex<Vec<Option<Outcome>>>>,
}

struct TurnLease {
    target: Target,
    ended: Arc<Mutex<Vec<Option<Outcome>>>>,
}

impl Place for Turns {
    type Lease = TurnLease;

    async fn place(&self, _task: &AiderTask) -> Result<TurnLease, TaskFailure> {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed) % self.targets.len();
        Ok(TurnLease { target: self.targets[turn].clone(), ended: Arc::clone(&self.ended) })
    }
}

impl Lease for TurnLease {
    fn target(&self) -> &Target {
        &self.target
    }

    async fn end(self, outcome: Option<&Outcome>) -> Vec<EndpointId> {
        self.ended.lock().push(outcome.cloned());
        vec![self.target.endpoint, EndpointId::new("also")]
    }
}

async fn run_batch<P: Place>(
    fixture: &Fixture,
    place: P,
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
    let executor = AiderExecutor::new(sessions, pool.clone(), place);
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
async fn sessions_run_where_they_are_placed_and_the_place_hears_how_they_went() {
    let files: Vec<String> = (0..6).map(|i| format!("f{i}.py")).collect();
    let fixture = Fixture::new(&files.iter().map(String::as_str).collect::<Vec<_>>());
    let place = Turns { targets: vec![target("a"), target("b")], ..Turns::default() };
    let tasks = files
        .iter()
        .enumerate()
        .map(|(i, f)| AiderTask {
            spec: SessionSpec::new(format!("t{i}"), format!("edit {f}")).with_file(f.clone()),
            models: ModelChoice::Any,
            category: Some(TaskCategory::Refactoring),
        })
        .collect();
    let (results, progress) =
        run_batch(&fixture, place.clone(), Settings::default(), tasks, 3).await;

    let reports: Vec<_> = results.into_iter().map(|r| r.expect("every task succeeds")).collect();
    assert_eq!(reports.len(), 6);
    for (i, report) in reports.iter().enumerate() {
        assert_eq!(report.status, SessionStatus::Succeeded);
        assert_eq!(report.branch, format!("om/t{i}"));
        assert_eq!(report.diff.files[0].path.to_str(), Some(files[i].as_str()));
        // What the lease said served it.
        assert_eq!(report.served_by, [report.endpoint.clone(), EndpointId::new("also")]);
    }
    let on_a = reports.iter().filter(|r| r.endpoint == EndpointId::new("a")).count();
    assert_eq!(on_a, 3);
    assert_eq!(progress.len(), 6, "one assignment per task");

    // Every lease ended with its session's outcome: an edit, in its category.
    let ended = place.ended.lock();
    assert_eq!(ended.len(), 6);
    for outcome in ended.iter() {
        let outcome = outcome.as_ref().expect("an outcome for a session that ran");
        assert_eq!(outcome.verdict, Verdict::Success);
        assert_eq!(outcome.category, Some(TaskCategory::Refactoring));
        assert_eq!(outcome.reward(), Some(1.0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sessions_are_task_failures_with_their_report() {
    let fixture = Fixture::new(&["a.py"]);
    let place = Turns { targets: vec![target("a")], ..Turns::default() };
    let settings =
        Settings { env: vec![("FAKE_AIDER".into(), "unreachable".into())], ..Settings::default() };
    let task = AiderTask::new(SessionSpec::new("t", "edit").with_file("a.py"));
    let bad_id = AiderTask::new(SessionSpec::new("../t", "edit"));
    let (results, _) = run_batch(&fixture, place.clone(), settings, vec![task, bad_id], 2).await;

    let failure = results[0].as_ref().unwrap_err().failure().expect("an executor error");
    assert_eq!(failure.kind_name(), "model_unreachable");
    assert_eq!(failure.report().map(|r| r.status), Some(SessionStatus::ModelUnreachable));
    let failure = results[1].as_ref().unwrap_err().failure().expect("an executor error");
    assert_eq!(failure.kind_name(), "invalid_task");

    // The unreachable model's session ended as a fault with no reward; the
    // invalid task said nothing about the model.
    let mut ended = place.ended.lock().clone();
    ended.sort_by_key(Option::is_some);
    assert!(ended[0].is_none(), "{ended:?}");
    let unreachable = ended[1].as_ref().expect("the session's outcome");
    assert!(unreachable.verdict.is_fault() && unreachable.reward().is_none(), "{unreachable:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_instance_is_a_typed_failure() {
    let fixture = Fixture::new(&["a.py"]);
    let task = AiderTask {
        spec: SessionSpec::new("t", "edit").with_file("a.py"),
        models: ModelChoice::Pinned("other:1b".parse().unwrap()),
        category: None,
    };
    let place = Fixed::new(target("a"));
    let (results, _) = run_batch(&fixture, place, Settings::default(), vec![task], 1).await;
    let failure = results[0].as_ref().unwrap_err().failure().expect("an executor error");
    assert_eq!(failure.kind_name(), "no_instance");
    assert!(failure.to_string().contains("coder:7b"), "{failure}");
}
