//! What the gateway costs: added latency and throughput against going
//! straight to the same `om-sim` backend, memory per open stream, and a
//! hold of many concurrent streams.
//!
//! `cargo bench -p om-gateway --bench gateway [-- OPTIONS]` (or `cargo xtask
//! bench gateway`). The simulators run in child processes (this binary
//! started again with `--sim-child`), so this process holds only the
//! gateway and the load generator; both share one runtime of `--threads`
//! workers (2 by default: the machine's cores). Without cargo's `--bench`
//! flag (as under `cargo test --benches`) everything runs in a tiny smoke
//! mode.
//!
//! Options: `--clients 1,64,256` `--cases small,stream` `--secs 3` (per
//! measured case)
//! `--mem-streams 1000` `--hold 5000` `--hold-secs 60` `--threads 2`
//! `--smoke`; `--profile-memory` for the memory phase alone, ending with its
//! streams open (for a heap profiler such as heaptrack); and `--soak` for
//! the hold alone (`cargo xtask soak`), which fails unless every stream was
//! held without an error and the process has as many open files
//! afterwards as before.
//!
//! Every case is measured twice in the same run, directly against the
//! simulator and through the gateway, and printed with the ratio: small
//! non-streaming requests (one token) and streaming ones (eight tokens,
//! time to first byte and total). The simulator answering the latency
//! cases does no pacing (no time to first token, unlimited token rate),
//! runs 64 requests at once and queues the rest, and echoes the prompt; the
//! gateway in front of it has the default settings, so its endpoint limit
//! is learned (each case first runs for up to a second at its own load to
//! let it settle, and the limit is printed after it). The simulator holding
//! streams open sends a token every two seconds, behind a gateway with a
//! fixed limit above the thousands of streams it holds.

#![allow(missing_docs, reason = "a bench binary")]
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a bench reports on its terminal")]
#![allow(
    unsafe_code,
    reason = "a counting global allocator (`heap`), which delegates to the system's"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::num::NonZeroUsize;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use om_gateway::{Gateway, Settings};
use om_orchestrator::FleetBuilder;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The model of the latency simulator, and of the slow one.
const FAST_MODEL: &str = "llama3.2";
const SLOW_MODEL: &str = "qwen2.5-coder:7b";
/// Requests the latency simulators run at once (they queue the rest).
const FAST_PARALLEL: usize = 64;
/// The model of the paced latency simulator, and its speed: 20 ms a token,
/// every request at that speed however many run (a box that batches
/// perfectly up to its 64 slots).
const PACED_MODEL: &str = "qwen3:8b";
const PACED_TOKENS_PER_SEC: f64 = 50.0;
/// File descriptors one held stream takes in this process: the client's
/// socket, the gateway's accepted one, the gateway's upstream one.
const FDS_PER_STREAM: u64 = 3;
/// Streams being opened at once (the listen backlogs are 1024).
const OPENING: usize = 800;
/// The prompt of the latency cases: the echoing simulator answers with its
/// eight words, one token each (cheap to make, so the simulator is not the
/// bottleneck).
const PROMPT: &str = "one two three four five six seven eight";

type Http = Client<HttpConnector, Full<Bytes>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--sim-child") {
        return sim_child(&args[1..]);
    }
    let options = match Options::parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("gateway bench: {message}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(&options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gateway bench: {message}");
            ExitCode::FAILURE
        }
    }
}

// === options ===

#[derive(Debug, Clone)]
struct Options {
    clients: Vec<usize>,
    /// The latency cases run: `--cases small,stream`.
    kinds: Vec<Kind>,
    secs: f64,
    mem_streams: usize,
    hold: usize,
    hold_secs: f64,
    threads: usize,
    smoke: bool,
    /// Only the hold (the soak): `--soak`.
    soak: bool,
    /// Only the memory phase, exiting with its streams open, so that a
    /// heap profiler reports what they hold as never freed:
    /// `--profile-memory` (e.g. under `heaptrack`).
    profile_memory: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        // cargo passes --bench to `cargo bench` runs only: without it this
        // is a test run, kept tiny.
        let smoke = !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--smoke");
        let mut options = if smoke {
            Self {
                clients: vec![1, 8],
                kinds: vec![Kind::Small, Kind::Stream],
                secs: 0.2,
                mem_streams: 20,
                hold: 40,
                hold_secs: 1.0,
                threads: 2,
                smoke,
                soak: false,
                profile_memory: false,
            }
        } else {
            Self {
                clients: vec![1, 64, 256],
                kinds: vec![Kind::Small, Kind::Stream],
                secs: 3.0,
                mem_streams: 1000,
                hold: 5000,
                hold_secs: 60.0,
                threads: 2,
                smoke,
                soak: false,
                profile_memory: false,
            }
        };
        options.soak = args.iter().any(|a| a == "--soak");
        options.profile_memory = args.iter().any(|a| a == "--profile-memory");
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--clients" => {
                    options.clients = value()?
                        .split(',')
                        .map(|n| n.trim().parse().map_err(|e| format!("--clients: {e}")))
                        .collect::<Result<_, _>>()?;
                }
                "--cases" => {
                    options.kinds = value()?
                        .split(',')
                        .map(|case| match case.trim() {
                            "small" => Ok(Kind::Small),
                            "stream" => Ok(Kind::Stream),
                            other => Err(format!("--cases: no case {other:?} (small, stream)")),
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--secs" => options.secs = number(value()?, "--secs")?,
                "--mem-streams" => options.mem_streams = number(value()?, "--mem-streams")?,
                "--hold" => options.hold = number(value()?, "--hold")?,
                "--hold-secs" => options.hold_secs = number(value()?, "--hold-secs")?,
                "--threads" => options.threads = number(value()?, "--threads")?,
                // cargo's own flags, and ours handled above.
                "--bench" | "--smoke" | "--soak" | "--profile-memory" => {}
                other if other.starts_with("--") => {}
                other => return Err(format!("unexpected argument {other:?}")),
            }
        }
        options.threads = options.threads.max(1);
        Ok(options)
    }
}

fn number<T: std::str::FromStr>(text: &str, flag: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| format!("{flag}: {e}"))
}

// === the simulators, in child processes ===

/// `--sim-child TOKENS_PER_SEC MODEL PARALLEL [unshared]`: serves one
/// simulator on a free port, prints `listening on http://ADDR`, and stops
/// when stdin closes (when the bench that started it ends, whatever way).
/// `unshared`: every request runs at the full token rate however many run
/// (a box that batches perfectly up to PARALLEL).
fn sim_child(args: &[String]) -> ExitCode {
    let tokens_per_sec: f64 = args.first().and_then(|t| t.parse().ok()).unwrap_or(f64::INFINITY);
    let model = args.get(1).map_or(FAST_MODEL, String::as_str);
    let parallel: usize = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(1_000_000);
    let Some(spec_model) = om_sim::default_model(model) else {
        eprintln!("sim child: unknown model {model}");
        return ExitCode::FAILURE;
    };
    // The latency ones echo the prompt: a reply costs next to nothing to
    // make.
    let reply = if model == SLOW_MODEL {
        om_sim::reply::ReplyMode::Lorem
    } else {
        om_sim::reply::ReplyMode::Echo
    };
    let mut spec = om_sim::EndpointSpec::default();
    if args.get(3).map(String::as_str) == Some("unshared") {
        spec = spec.with_unshared_compute();
    }
    let spec = spec
        .with_models(vec![spec_model])
        .with_reply(reply)
        .with_tokens_per_sec(tokens_per_sec)
        .with_ttft(Duration::ZERO)
        .with_load_time(Duration::ZERO)
        .with_num_parallel(parallel)
        .with_max_queue(1_000_000)
        .with_keep_alive(Duration::from_hours(1));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let addr = "127.0.0.1:0".parse().expect("an address");
        let server = om_sim::SimServer::bind(addr, spec).await.expect("a free port");
        println!("listening on http://{}", server.local_addr());
        std::io::stdout().flush().expect("stdout");
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
            stop.cancel();
        });
        server.run(shutdown).await;
    });
    ExitCode::SUCCESS
}

/// A simulator child process; closing its stdin stops it.
struct SimChild {
    child: Child,
    stdin: Option<ChildStdin>,
    url: String,
}

impl SimChild {
    fn start(
        tokens_per_sec: f64,
        model: &str,
        parallel: usize,
        shared: bool,
    ) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
        let sharing = if shared { "shared" } else { "unshared" };
        let mut child = Command::new(exe)
            .args([
                "--sim-child",
                &tokens_per_sec.to_string(),
                model,
                &parallel.to_string(),
                sharing,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting a simulator: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("simulator stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map_err(|e| format!("simulator: {e}"))?;
        let url = line
            .split("listening on ")
            .nth(1)
            .map(|u| u.trim().to_owned())
            .ok_or_else(|| format!("simulator said {line:?}"))?;
        Ok(Self { child, stdin, url })
    }
}

impl Drop for SimChild {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if self.child.wait().is_err() {
            let _ = self.child.kill();
        }
    }
}

// === the run ===

async fn run(options: &Options) -> Result<(), String> {
    // The latency simulators run 64 requests at once and queue the rest,
    // like an Ollama started with OLLAMA_NUM_PARALLEL=64: one answers at
    // once, the other at a real model's pace.
    let instant = SimChild::start(f64::INFINITY, FAST_MODEL, FAST_PARALLEL, true)?;
    let paced = SimChild::start(PACED_TOKENS_PER_SEC, PACED_MODEL, FAST_PARALLEL, false)?;
    // The holding simulator does not share its compute: it stands for a
    // box that streams every one of its thousands of requests at its own
    // pace, so what is measured is the gateway holding them, not a
    // simulated box slowing down under them.
    let slow = SimChild::start(0.5, SLOW_MODEL, 1_000_000, false)?;
    // The latency cases go through a gateway with the default settings: its
    // endpoint limits start at the default and are learned from the answers.
    let learned = Running::start(&[&instant.url, &paced.url], |_| {}).await?;
    // The floor beside each: a bare proxy in front of the same simulator.
    let bare_instant = Bare::start(&instant.url).await?;
    let bare_paced = Bare::start(&paced.url).await?;
    let bare_slow = Bare::start(&slow.url).await?;
    // The memory and hold phases keep thousands of slow streams open at
    // once, which a learned limit (rightly) would queue: their gateway has
    // a fixed limit above anything they open.
    let fixed = Running::start(&[&slow.url], |orchestrator| {
        orchestrator.adaptive_concurrency = false;
        orchestrator.endpoint_concurrency = NonZeroUsize::new(1_000_000).expect("non-zero");
    })
    .await?;

    println!(
        "gateway bench{}: simulators in child processes; gateway and clients here on {} worker \
         threads ({} cores); {:.1} s per case",
        if options.smoke { " (smoke)" } else { "" },
        options.threads,
        std::thread::available_parallelism().map_or(0, NonZeroUsize::get),
        options.secs
    );
    let client = http_client();
    let slow_paths = Paths { direct: &slow.url, bare: &bare_slow.url, gateway: &fixed.url };
    if options.profile_memory {
        return memory(options, &client, &slow_paths).await;
    }
    if !options.soak {
        // Memory first, in a fresh process: later phases free memory that
        // the allocator would hand out again, hiding what new streams cost.
        memory(options, &client, &slow_paths).await?;
        for (backend, bare, model) in
            [(&instant, &bare_instant, FAST_MODEL), (&paced, &bare_paced, PACED_MODEL)]
        {
            latency(options, &client, backend, &bare.url, model, &learned.url).await?;
        }
    }
    let soaked = hold(options, &client, &fixed.url).await;
    drop(client);

    learned.stop().await?;
    fixed.stop().await?;
    for bare in [bare_instant, bare_paced, bare_slow] {
        bare.stop().await?;
    }
    drop((instant, paced, slow));
    let held = soaked?;
    if options.soak {
        // Every connection is closing by now: the clients', the gateways'
        // and their upstream ones (pooled connections end on their own
        // tasks, so give them a moment). What stays open has leaked.
        let settle = Instant::now() + Duration::from_secs(10);
        let mut leaked = open_fds()?.saturating_sub(held.fds_before);
        while leaked > 0 && Instant::now() < settle {
            tokio::time::sleep(Duration::from_millis(100)).await;
            leaked = open_fds()?.saturating_sub(held.fds_before);
        }
        println!("soak: {} errors, {leaked} file descriptors left open", held.errors);
        if held.errors > 0 || leaked > 0 {
            return Err(format!(
                "soak failed: {} errors, {leaked} descriptors leaked",
                held.errors
            ));
        }
    }
    Ok(())
}

/// The open file descriptors of this process.
fn open_fds() -> Result<usize, String> {
    std::fs::read_dir("/proc/self/fd")
        .map(Iterator::count)
        .map_err(|e| format!("/proc/self/fd: {e}"))
}

/// A gateway over simulators, with its fleet's background workers.
struct Running {
    url: String,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    background: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(
        backends: &[&String],
        tune: impl FnOnce(&mut om_config::Orchestrator),
    ) -> Result<Self, String> {
        let endpoints = backends
            .iter()
            .map(|url| url.parse().map(om_config::Endpoint::new).map_err(|e| format!("{url}: {e}")))
            .collect::<Result<_, _>>()?;
        let mut config = om_config::Config { endpoints, ..om_config::Config::default() };
        tune(&mut config.orchestrator);
        let http = om_client::HttpConfig { pool_max_idle_per_host: 100_000, ..Default::default() };
        let (fleet, workers) = FleetBuilder::from_config(&config)
            .and_then(|builder| builder.http(http.build()).build())
            .map_err(|e| format!("fleet: {e}"))?;
        workers.probe_all().await;
        let shutdown = CancellationToken::new();
        let background = tokio::spawn(workers.run(shutdown.clone()));
        // The holds open thousands of connections: past the default limit.
        let settings = Settings {
            listen: "127.0.0.1:0".parse().expect("an address"),
            max_connections: 1_000_000,
            ..Settings::default()
        };
        let gateway = Gateway::bind(fleet, settings).await.map_err(|e| format!("gateway: {e}"))?;
        let url = format!("http://{}", gateway.local_addr());
        let server = tokio::spawn(gateway.run(shutdown.clone()));
        Ok(Self { url, shutdown, server, background })
    }

    async fn stop(self) -> Result<(), String> {
        self.shutdown.cancel();
        self.server.await.map_err(|e| format!("gateway task: {e}"))?;
        self.background.await.map_err(|e| format!("workers: {e}"))
    }
}

/// The floor any gateway of these parts pays: a reverse proxy made of what
/// the gateway is made of (hyper's HTTP/1 server, hyper-util's pooled
/// client, `TCP_NODELAY` both ways) that passes every request and answer
/// through untouched and does nothing else — no inspection, routing,
/// limits, records or failover. What the gateway costs above it is the
/// gateway's own; what it costs above direct is the proxying itself: two
/// more HTTP exchanges and twice the loopback TCP work per request.
struct Bare {
    url: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

type BareClient = Client<HttpConnector, Incoming>;

impl Bare {
    async fn start(backend: &str) -> Result<Self, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bare proxy: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("bare proxy: {e}"))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let upstream: BareClient =
            Client::builder(TokioExecutor::new()).pool_max_idle_per_host(100_000).build(connector);
        let backend: Arc<str> = backend.trim_end_matches('/').into();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            let connections = tokio_util::task::TaskTracker::new();
            loop {
                let accepted = tokio::select! {
                    () = stop.cancelled() => break,
                    accepted = listener.accept() => accepted,
                };
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let (upstream, backend, stop) =
                    (upstream.clone(), Arc::clone(&backend), stop.clone());
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        Bare::pass(upstream.clone(), Arc::clone(&backend), request)
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                    tokio::select! {
                        _ = connection => {}
                        () = stop.cancelled() => {}
                    }
                });
            }
            connections.close();
            connections.wait().await;
        });
        Ok(Self { url: format!("http://{addr}"), shutdown, task })
    }

    /// Sends `request` on to `backend` as it came and answers with what
    /// comes back.
    async fn pass(
        upstream: BareClient,
        backend: Arc<str>,
        mut request: Request<Incoming>,
    ) -> Result<http::Response<Incoming>, String> {
        let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
        *request.uri_mut() = format!("{backend}{path}").parse().map_err(|e| format!("{e}"))?;
        upstream.request(request).await.map_err(|e| format!("{e}"))
    }

    async fn stop(self) -> Result<(), String> {
        self.shutdown.cancel();
        self.task.await.map_err(|e| format!("bare proxy task: {e}"))
    }
}

fn http_client() -> Http {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(100_000).build(connector)
}

fn chat(base: &str, model: &str, stream: bool, tokens: u32) -> Request<Full<Bytes>> {
    let body = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": stream,
        "options": {"num_predict": tokens},
    });
    Request::builder()
        .method(Method::POST)
        .uri(format!("{base}/api/chat"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a request")
}

// === latency and throughput ===

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One token, not streamed.
    Small,
    /// Eight tokens, streamed.
    Stream,
}

/// Which histogram of a case a row shows.
type Pick = fn(&Stats) -> &Histogram<u64>;

/// What one case measured.
struct Stats {
    total: Histogram<u64>,
    first: Histogram<u64>,
    done: u64,
    errors: u64,
    elapsed: Duration,
}

impl Stats {
    fn new() -> Self {
        let histogram = || Histogram::new_with_bounds(1, 600_000_000, 3).expect("bounds");
        Self { total: histogram(), first: histogram(), done: 0, errors: 0, elapsed: Duration::ZERO }
    }

    fn add(&mut self, other: &Self) {
        self.total.add(&other.total).expect("same bounds");
        self.first.add(&other.first).expect("same bounds");
        self.done += other.done;
        self.errors += other.errors;
    }

    fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

async fn latency(
    options: &Options,
    client: &Http,
    backend: &SimChild,
    bare: &str,
    model: &str,
    gateway: &str,
) -> Result<(), String> {
    let direct = backend.url.as_str();
    println!();
    println!(
        "latency (µs) and throughput (requests/s) of {model} ({}): direct to the simulator, \
         through a bare hyper proxy (the floor), and through the gateway",
        if model == FAST_MODEL { "answers at once" } else { "a token per 20 ms" },
    );
    println!(
        "{:<21} {:>7} {:>14} {:>14} {:>14} {:>12} {:>8} {:>8} {:>9} {:>6} {:>6}",
        "case",
        "clients",
        "direct p50/p99",
        "bare p50/p99",
        "gateway p50/99",
        "added p50/99",
        "direct/s",
        "bare/s",
        "gateway/s",
        "×direct",
        "×bare"
    );
    let duration = Duration::from_secs_f64(options.secs);
    let settle = duration.min(Duration::from_secs(1));
    let backend_pid = backend.child.id();
    for &kind in &options.kinds {
        for &clients in &options.clients {
            // Warm every path (connections, the model) before measuring,
            // at the case's own load: the gateway's endpoint limit settles
            // for it.
            for path in [direct, bare, gateway] {
                load(client, path, model, kind, clients, settle).await;
            }
            let cpu = Cpu::read(backend_pid)?;
            let d = load(client, direct, model, kind, clients, duration).await;
            let cpu_direct = Cpu::read(backend_pid)?;
            let b = load(client, bare, model, kind, clients, duration).await;
            let cpu_bare = Cpu::read(backend_pid)?;
            let g = load(client, gateway, model, kind, clients, duration).await;
            let cpu_gateway = Cpu::read(backend_pid)?;
            let limit = endpoint_limit(client, gateway, direct).await;
            let rows: &[(&str, Pick)] = match kind {
                Kind::Small => &[("small, not streamed", |s| &s.total)],
                Kind::Stream => {
                    &[("stream: first byte", |s| &s.first), ("stream: whole answer", |s| &s.total)]
                }
            };
            for (name, pick) in rows {
                let (dh, bh, gh) = (pick(&d), pick(&b), pick(&g));
                let q = |h: &Histogram<u64>, p: f64| h.value_at_quantile(p);
                let pair = |h: &Histogram<u64>| format!("{}/{}", q(h, 0.5), q(h, 0.99));
                println!(
                    "{:<21} {:>7} {:>14} {:>14} {:>14} {:>12} {:>8.0} {:>8.0} {:>9.0} {:>6.2} {:>6.2}",
                    name,
                    clients,
                    pair(dh),
                    pair(bh),
                    pair(gh),
                    format!(
                        "{}/{}",
                        q(gh, 0.5).saturating_sub(q(dh, 0.5)),
                        q(gh, 0.99).saturating_sub(q(dh, 0.99))
                    ),
                    d.rate(),
                    b.rate(),
                    g.rate(),
                    g.rate() / d.rate().max(1e-9),
                    g.rate() / b.rate().max(1e-9),
                );
            }
            let (here_d, sim_d) = cpu_direct.per_request_since(&cpu, d.done);
            let (here_b, _) = cpu_bare.per_request_since(&cpu_direct, b.done);
            let (here_g, sim_g) = cpu_gateway.per_request_since(&cpu_bare, g.done);
            println!(
                "  limit after the case {limit}; CPU µs per request: clients {here_d:.0}; the \
                 bare proxy's share {:.0}, the gateway's {:.0}; simulator {sim_d:.0} direct, \
                 {sim_g:.0} through the gateway",
                here_b - here_d,
                here_g - here_d,
            );
            if d.errors + b.errors + g.errors > 0 {
                println!(
                    "  errors: direct {}, bare proxy {}, gateway {}",
                    d.errors, b.errors, g.errors
                );
            }
        }
    }
    Ok(())
}

/// CPU time used so far by this process and by a simulator child, in
/// clock ticks (`utime + stime` of `/proc/PID/stat`).
struct Cpu {
    here: u64,
    backend: u64,
}

/// Linux's `USER_HZ`, the unit of `/proc/PID/stat` times (100 on every
/// architecture Linux runs this bench on).
const TICKS_PER_SEC: f64 = 100.0;

impl Cpu {
    fn read(backend: u32) -> Result<Self, String> {
        Ok(Self { here: cpu_ticks("self")?, backend: cpu_ticks(&backend.to_string())? })
    }

    /// µs of CPU per request, here and in the simulator, since `earlier`.
    fn per_request_since(&self, earlier: &Self, requests: u64) -> (f64, f64) {
        let per = |ticks: u64| ticks as f64 / TICKS_PER_SEC * 1e6 / requests.max(1) as f64;
        (
            per(self.here.saturating_sub(earlier.here)),
            per(self.backend.saturating_sub(earlier.backend)),
        )
    }
}

fn cpu_ticks(pid: &str) -> Result<u64, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    // The command name (field 2) may hold spaces; the fields after its
    // closing parenthesis start at field 3, so utime and stime (14, 15)
    // are the 12th and 13th there.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (field(11), field(12)) {
        (Some(user), Some(system)) => Ok(user + system),
        _ => Err(format!("{path}: no utime and stime")),
    }
}

/// The limit in force on the gateway's endpoint at `url` and why, from
/// `/api/meta/status`.
async fn endpoint_limit(client: &Http, gateway: &str, url: &str) -> String {
    let request = Request::builder()
        .uri(format!("{gateway}/api/meta/status"))
        .body(Full::new(Bytes::new()))
        .expect("a request");
    let status: Option<serde_json::Value> = async {
        let body = client.request(request).await.ok()?.into_body().collect().await.ok()?;
        serde_json::from_slice(&body.to_bytes()).ok()
    }
    .await;
    let endpoints = status.as_ref().and_then(|s| s["endpoints"].as_array());
    let Some(endpoint) = endpoints.into_iter().flatten().find(|e| {
        e["url"].as_str().is_some_and(|u| u.trim_end_matches('/') == url.trim_end_matches('/'))
    }) else {
        return "unknown (no status)".to_owned();
    };
    let reason = endpoint["limit"]["reason"].as_str().unwrap_or("configured");
    format!("{} ({reason})", endpoint["capacity"])
}

/// `clients` loops, each sending requests back to back for `duration`.
async fn load(
    client: &Http,
    base: &str,
    model: &str,
    kind: Kind,
    clients: usize,
    duration: Duration,
) -> Stats {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = JoinSet::new();
    for _ in 0..clients {
        let (client, base, model) = (client.clone(), base.to_owned(), model.to_owned());
        tasks.spawn(async move {
            let mut stats = Stats::new();
            while Instant::now() < deadline {
                match one(&client, &base, &model, kind).await {
                    Some((first, total)) => {
                        stats.first.saturating_record(micros(first));
                        stats.total.saturating_record(micros(total));
                        stats.done += 1;
                    }
                    None => stats.errors += 1,
                }
            }
            stats
        });
    }
    let mut all = Stats::new();
    while let Some(stats) = tasks.join_next().await {
        if let Ok(stats) = stats {
            all.add(&stats);
        }
    }
    all.elapsed = started.elapsed();
    all
}

/// One request: time to the first body bytes and to the end.
async fn one(client: &Http, base: &str, model: &str, kind: Kind) -> Option<(Duration, Duration)> {
    let request = match kind {
        Kind::Small => chat(base, model, false, 1),
        Kind::Stream => chat(base, model, true, 8),
    };
    let started = Instant::now();
    let response = client.request(request).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let mut body = response.into_body();
    let mut first = None;
    let mut last = Bytes::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.ok()?.into_data() {
            first.get_or_insert_with(|| started.elapsed());
            last = data;
        }
    }
    let total = started.elapsed();
    // A complete answer ends with its final object.
    if !contains(&last, b"\"done\":true") {
        return None;
    }
    Some((first.unwrap_or(total), total))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

// === memory and the hold ===

/// Opens `n` streams of the slow model at `base` (at most [`OPENING`] at a
/// time), each returned once its first line has arrived.
async fn open_streams(client: &Http, base: &str, n: usize) -> (Vec<Incoming>, usize) {
    let gate = Arc::new(Semaphore::new(OPENING));
    let mut opening = JoinSet::new();
    for _ in 0..n {
        let (client, base, gate) = (client.clone(), base.to_owned(), Arc::clone(&gate));
        opening.spawn(async move {
            let _permit = gate.acquire_owned().await.ok()?;
            let response = client.request(chat(&base, SLOW_MODEL, true, 100_000)).await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            let mut body = response.into_body();
            loop {
                let frame = body.frame().await?.ok()?;
                if frame.is_data() {
                    return Some(body);
                }
            }
        });
    }
    let mut bodies = Vec::with_capacity(n);
    let mut failed = 0;
    while let Some(opened) = opening.join_next().await {
        match opened {
            Ok(Some(body)) => bodies.push(body),
            _ => failed += 1,
        }
    }
    (bodies, failed)
}

/// The three ways to the slow simulator.
struct Paths<'a> {
    direct: &'a str,
    bare: &'a str,
    gateway: &'a str,
}

/// Memory per open stream: `n` streams straight to the simulator (what
/// the client side costs), then, with those still open, `n` through the
/// bare proxy and `n` through the gateway; what each adds beyond the
/// client's own is the proxy's share.
async fn memory(options: &Options, client: &Http, paths: &Paths<'_>) -> Result<(), String> {
    // Descriptors here per n: the direct streams' one each, and three for
    // each proxied stream (the client's, the accepted and the upstream).
    let n = cap_streams(options.mem_streams, 7)?;
    if n == 0 {
        return Ok(());
    }
    let reading = || Ok::<_, String>((rss_kib()? as f64, heap::live_kib()));
    let before = reading()?;
    heap::take_peak_kib();
    let (direct_streams, direct_failed) = open_streams(client, paths.direct, n).await;
    let after_direct = reading()?;
    let direct_peak = heap::take_peak_kib();
    let (bare_streams, bare_failed) = open_streams(client, paths.bare, n).await;
    let after_bare = reading()?;
    let bare_peak = heap::take_peak_kib();
    let (gateway_streams, gateway_failed) = open_streams(client, paths.gateway, n).await;
    let after_gateway = reading()?;
    let gateway_peak = heap::take_peak_kib();
    let per =
        |from: (f64, f64), to: (f64, f64)| ((to.0 - from.0) / n as f64, (to.1 - from.1) / n as f64);
    let client_own = per(before, after_direct);
    // Through a proxy, less the client's own.
    let share = |from, to| {
        let (rss, heap) = per(from, to);
        (rss - client_own.0, heap - client_own.1)
    };
    let bare = share(after_direct, after_bare);
    let gateway = share(after_bare, after_gateway);
    println!();
    println!(
        "memory per open stream ({n} streams; failed to open: direct {direct_failed}, bare \
         {bare_failed}, gateway {gateway_failed}):"
    );
    println!(
        "  heap held: client {:.1} KiB; the bare proxy's share {:.1} KiB, the gateway's {:.1} KiB",
        client_own.1, bare.1, gateway.1
    );
    // The heap in use at the busiest moment of the openings beyond what
    // they left held: what the allocator may keep touched afterwards.
    let transient = |peak: f64, after: (f64, f64)| (peak - after.1) / n as f64;
    println!(
        "  heap in use while opening, beyond what stays held: direct {:.1} KiB, through the \
         bare proxy {:.1} KiB, through the gateway {:.1} KiB",
        transient(direct_peak, after_direct),
        transient(bare_peak, after_bare),
        transient(gateway_peak, after_gateway)
    );
    println!(
        "  VmRSS (with what the allocator keeps of the openings): client {:.1} KiB; the bare \
         proxy's share {:.1} KiB, the gateway's {:.1} KiB",
        client_own.0, bare.0, gateway.0
    );
    if options.profile_memory {
        // What the streams hold is still allocated: a heap profiler
        // reports it as never freed.
        #[allow(clippy::exit, reason = "ending with the streams open is the point")]
        std::process::exit(0);
    }
    drop((direct_streams, bare_streams, gateway_streams));
    Ok(())
}

/// Holds `options.hold` streams through the gateway for `options.hold_secs`,
/// reading every line, and counts what went wrong.
async fn hold(options: &Options, client: &Http, gateway: &str) -> Result<Held, String> {
    let fds_before = open_fds()?;
    let n = cap_streams(options.hold, FDS_PER_STREAM)?;
    if n == 0 {
        return Ok(Held { errors: 0, fds_before });
    }
    let before = rss_kib()?;
    let opening = Instant::now();
    let (streams, failed) = open_streams(client, gateway, n).await;
    let opened_in = opening.elapsed();
    let open_rss = rss_kib()?;
    let deadline = Instant::now() + Duration::from_secs_f64(options.hold_secs);
    let mut readers = JoinSet::new();
    for mut body in streams {
        readers.spawn(async move {
            let mut lines = 0_u64;
            loop {
                match tokio::time::timeout_at(deadline, body.frame()).await {
                    // Held to the end: a success.
                    Err(_) => return Ok(lines),
                    Ok(Some(Ok(frame))) => {
                        if let Ok(data) = frame.into_data() {
                            if contains(&data, b"\"error\"") {
                                return Err(lines);
                            }
                            lines += data.split(|&b| b == b'\n').skip(1).count() as u64;
                        }
                    }
                    // Ended or broke before the deadline.
                    Ok(_) => return Err(lines),
                }
            }
        });
    }
    let (mut held, mut broken, mut lines) = (0_u64, 0_u64, 0_u64);
    while let Some(result) = readers.join_next().await {
        match result {
            Ok(Ok(n)) => {
                held += 1;
                lines += n;
            }
            Ok(Err(n)) => {
                broken += 1;
                lines += n;
            }
            Err(_) => broken += 1,
        }
    }
    let end_rss = rss_kib()?;
    println!();
    println!(
        "hold: {n} concurrent streams through the gateway for {:.0} s: opened in {:.1} s, held {held}, \
         errors {} (failed to open {failed}, broke {broken}), {lines} lines read; VmRSS {} MiB before, \
         {} MiB open, {} MiB at the end ({:.1} KiB per stream, client side included)",
        options.hold_secs,
        opened_in.as_secs_f64(),
        failed as u64 + broken,
        before / 1024,
        open_rss / 1024,
        end_rss / 1024,
        open_rss.saturating_sub(before) as f64 / n as f64,
    );
    Ok(Held { errors: failed as u64 + broken, fds_before })
}

/// What the hold saw: its errors, and the open files before it began.
struct Held {
    errors: u64,
    fds_before: usize,
}

/// `wanted` streams, or as many as the open-file limit allows with
/// `fds_each` descriptors per stream, saying so.
fn cap_streams(wanted: usize, fds_each: u64) -> Result<usize, String> {
    let limit = open_file_limit()?;
    let room = limit.saturating_sub(256) / fds_each;
    let allowed = usize::try_from(room).unwrap_or(usize::MAX);
    if wanted > allowed {
        println!(
            "note: the open-file limit ({limit}) allows {allowed} streams of {wanted} here \
             ({fds_each} descriptors each); raise it with `ulimit -n {}` for the full run",
            (wanted as u64 * fds_each + 256).next_power_of_two()
        );
        return Ok(allowed);
    }
    Ok(wanted)
}

/// This process's resident memory, in KiB.
fn rss_kib() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| format!("{e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS in /proc/self/status".to_owned())
}

/// The soft limit on open files.
fn open_file_limit() -> Result<u64, String> {
    let limits = std::fs::read_to_string("/proc/self/limits").map_err(|e| format!("{e}"))?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|soft| soft.parse().ok())
        .ok_or_else(|| "no open-file limit in /proc/self/limits".to_owned())
}

/// The heap this process holds, counted by its global allocator: what the
/// open streams keep allocated, unlike `VmRSS`, which also holds what the
/// allocator kept after the openings' transient peak.
mod heap {
    use std::alloc::System;
    use std::alloc::{GlobalAlloc, Layout};
    use std::sync::atomic::{AtomicIsize, Ordering};

    static LIVE: AtomicIsize = AtomicIsize::new(0);
    /// The most `LIVE` has been since [`reset_peak`].
    static PEAK: AtomicIsize = AtomicIsize::new(0);

    struct Counting;

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    fn add(bytes: usize) {
        let live = LIVE.fetch_add(bytes.cast_signed(), Ordering::Relaxed) + bytes.cast_signed();
        PEAK.fetch_max(live, Ordering::Relaxed);
    }

    fn sub(bytes: usize) {
        LIVE.fetch_sub(bytes.cast_signed(), Ordering::Relaxed);
    }

    // SAFETY: every call is passed to the system allocator with the same
    // arguments and its answer returned unchanged; the counting beside it
    // allocates nothing.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract is the system allocator's.
            let ptr = unsafe { System.alloc(layout) };
            if !ptr.is_null() {
                add(layout.size());
            }
            ptr
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as for `alloc`.
            let ptr = unsafe { System.alloc_zeroed(layout) };
            if !ptr.is_null() {
                add(layout.size());
            }
            ptr
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: as for `alloc`: `ptr` came from this allocator.
            unsafe { System.dealloc(ptr, layout) };
            sub(layout.size());
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: as for `dealloc`.
            let moved = unsafe { System.realloc(ptr, layout, new_size) };
            if !moved.is_null() {
                add(new_size);
                sub(layout.size());
            }
            moved
        }
    }

    /// The heap held now, in KiB.
    pub(super) fn live_kib() -> f64 {
        LIVE.load(Ordering::Relaxed) as f64 / 1024.0
    }

    /// The most heap held since the last call, in KiB; starts the next
    /// period at what is held now.
    pub(super) fn take_peak_kib() -> f64 {
        let peak = PEAK.swap(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
        peak as f64 / 1024.0
    }
}
