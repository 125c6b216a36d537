//! Every time limit, on paused time: the scripted server sleeps on the same
//! virtual clock, so these tests take no real time and cannot race.

use std::time::Duration;

use futures_util::StreamExt;
use om_client::Timeouts;
use om_core::wire::ChatRequest;
use om_core::{ErrorKind, TimeoutPhase};
use tokio::net::TcpSocket;
use tokio::time::Instant;

use crate::support::{
    ScriptServer, Step, VirtualClock, chat_final, chat_line, chunk, client, collect, end_chunks,
    ndjson_head,
};

const STEP: Duration = Duration::from_millis(10);

fn chat() -> ChatRequest {
    ChatRequest::new("llama3.2", vec![])
}

fn limits(first_byte: u64, idle: u64, total: Option<u64>) -> Timeouts {
    Timeouts {
        connect: Some(Duration::from_secs(5)),
        first_byte: Some(Duration::from_secs(first_byte)),
        idle: Some(Duration::from_secs(idle)),
        total: total.map(Duration::from_secs),
    }
}

fn line(content: &str) -> Step {
    chunk(format!("{}\n", chat_line(content)).as_bytes())
}

/// Asserts `elapsed` is `want` within the clock's step granularity.
fn assert_near(elapsed: Duration, want: Duration) {
    assert!(
        elapsed >= want && elapsed <= want + STEP * 4,
        "elapsed {elapsed:?}, wanted about {want:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn hang_before_the_head_is_a_first_byte_timeout() {
    let _clock = VirtualClock::start(STEP);
    let server = ScriptServer::start(|_, _| vec![Step::Hang]).await;
    let client = client(server.url()).with_timeouts(limits(3, 1, None));
    let start = Instant::now();
    let err = client.chat_once(chat()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutPhase::FirstByte));
    assert!(err.is_timeout());
    assert_eq!(err.http_status(), 504);
    assert!(!err.is_partial());
    assert_near(start.elapsed(), Duration::from_secs(3));
    assert_eq!(server.served(), 1, "a first-byte timeout is not retried here");
}

#[tokio::test(start_paused = true)]
async fn head_then_silence_is_a_first_byte_timeout_in_the_stream() {
    let _clock = VirtualClock::start(STEP);
    let server = ScriptServer::start(|_, _| vec![ndjson_head(), Step::Hang]).await;
    let client = client(server.url()).with_timeouts(limits(3, 1, None));
    let start = Instant::now();
    let mut stream = client.chat(chat()).await.unwrap();
    let err = stream.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutPhase::FirstByte));
    assert_near(start.elapsed(), Duration::from_secs(3));
    assert!(stream.next().await.is_none(), "an error ends the stream");
}

#[tokio::test(start_paused = true)]
async fn slow_first_token_within_the_limit_is_fine() {
    let _clock = VirtualClock::start(STEP);
    let server = ScriptServer::start(|_, _| {
        vec![
            ndjson_head(),
            Step::Sleep(Duration::from_secs(2)),
            line("a"),
            Step::Sleep(Duration::from_millis(500)),
            chunk(format!("{}\n", chat_final()).as_bytes()),
            end_chunks(),
        ]
    })
    .await;
    let client = client(server.url()).with_timeouts(limits(3, 1, Some(10)));
    let items = collect(client.chat(chat()).await.unwrap()).await;
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(Result::is_ok), "{items:?}");
}

#[tokio::test(start_paused = true)]
async fn stall_after_tokens_is_an_idle_timeout() {
    let _clock = VirtualClock::start(STEP);
    let server =
        ScriptServer::start(|_, _| vec![ndjson_head(), line("a"), line("b"), Step::Hang]).await;
    let client = client(server.url()).with_timeouts(limits(30, 2, None));
    let start = Instant::now();
    let items = collect(client.chat(chat()).await.unwrap()).await;
    assert_eq!(items.len(), 3);
    let err = items[2].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutPhase::Idle));
    assert!(err.is_partial());
    assert_near(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn slow_drip_hits_the_total_limit() {
    let _clock = VirtualClock::start(STEP);
    let server = ScriptServer::start(|_, _| {
        let mut steps = vec![ndjson_head()];
        for _ in 0..100 {
            steps.push(line("x"));
            steps.push(Step::Sleep(Duration::from_secs(1)));
        }
        steps
    })
    .await;
    // Each gap is below the idle limit; the whole is not.
    let client = client(server.url()).with_timeouts(limits(30, 2, Some(5)));
    let start = Instant::now();
    let items = collect(client.chat(chat()).await.unwrap()).await;
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutPhase::Total));
    assert!(err.is_partial());
    assert!((5..=6).contains(&items.len()), "{} items", items.len());
    assert_near(start.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn total_limit_also_bounds_the_head() {
    let _clock = VirtualClock::start(STEP);
    let server = ScriptServer::start(|_, _| vec![Step::Hang]).await;
    let client = client(server.url()).with_timeouts(limits(30, 2, Some(1)));
    let err = client.version().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutPhase::Total));
}

#[tokio::test(start_paused = true)]
async fn a_connect_that_never_completes_is_a_connect_timeout() {
    let _clock = VirtualClock::start(STEP);
    // A listener that never accepts, with its accept queue already full:
    // the kernel drops further SYNs, so the next connect hangs.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let filler = TcpSocket::new_v4().unwrap();
        if let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_millis(200), filler.connect(addr)).await
        {
            fillers.push(stream);
        }
    }
    let client = client(format!("http://{addr}").parse().unwrap())
        .with_timeouts(Timeouts { connect: Some(Duration::from_secs(2)), ..Timeouts::NONE });
    let start = Instant::now();
    let err = client.version().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutPhase::Connect), "{err:?}");
    assert_near(start.elapsed(), Duration::from_secs(2));
    drop((fillers, listener));
}

#[tokio::test(start_paused = true)]
async fn the_idle_limit_runs_from_the_last_frame_however_long_the_stream() {
    let _clock = VirtualClock::start(STEP);
    let server = ScriptServer::start(|_, _| {
        let mut steps = vec![ndjson_head()];
        for _ in 0..10 {
            steps.push(line("x"));
            steps.push(Step::Sleep(Duration::from_millis(1500)));
        }
        steps.push(line("last"));
        steps.push(Step::Hang);
        steps
    })
    .await;
    // Every gap is under the idle limit and the stream lasts seven times
    // that limit: only the stall at the end times out, two seconds after
    // the last line, not after the first one.
    let client = client(server.url()).with_timeouts(limits(30, 2, None));
    let start = Instant::now();
    let items = collect(client.chat(chat()).await.unwrap()).await;
    assert_eq!(items.len(), 12, "{items:?}");
    assert!(items[..11].iter().all(Result::is_ok), "{items:?}");
    let err = items[11].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutPhase::Idle));
    assert_near(start.elapsed(), Duration::from_secs(17));
}
