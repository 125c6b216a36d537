//! TLS both ways: a gateway serving HTTPS with a self-signed certificate,
//! and a second fleet reaching it as an `https` endpoint — trusted through
//! `tls.ca_file`, refused with the endpoint and the reason named without it.

use std::path::Path;
use std::time::Duration;

use http::StatusCode;
use om_gateway::{Gateway, Settings, TlsFiles};
use om_orchestrator::Fleet;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::support::{Harness, chat, fast};

/// A certificate for `localhost` and 127.0.0.1, and its key, as PEM files.
fn certificate(dir: &Path) -> TlsFiles {
    let issued =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("a certificate");
    let files = TlsFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    std::fs::write(&files.cert, issued.cert.pem()).expect("cert written");
    std::fs::write(&files.key, issued.signing_key.serialize_pem()).expect("key written");
    files
}

/// A plain gateway over one endpoint at `url`, with `ca_file` trusted.
struct Front {
    url: String,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Front {
    async fn start(url: &str, ca_file: Option<&Path>) -> Self {
        let mut config = om_config::Config {
            endpoints: vec![om_config::Endpoint::new(url.parse().expect("URL"))],
            tls: om_config::Tls { ca_file: ca_file.map(Path::to_owned) },
            ..om_config::Config::default()
        };
        config.timeouts.first_byte = Duration::from_secs(5);
        let (fleet, workers) = Fleet::from_config(&config).expect("fleet");
        workers.probe_all().await;
        let shutdown = CancellationToken::new();
        let settings =
            Settings { listen: "127.0.0.1:0".parse().expect("address"), ..Settings::default() };
        let gateway = Gateway::bind(fleet, settings).await.expect("bind");
        let url = format!("http://{}", gateway.local_addr());
        let tasks = vec![
            tokio::spawn(workers.run(shutdown.clone())),
            tokio::spawn(gateway.run(shutdown.clone())),
        ];
        Self { url, shutdown, tasks }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            task.await.expect("task");
        }
    }
}

#[tokio::test]
async fn an_https_endpoint_is_trusted_through_the_ca_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files = certificate(dir.path());
    let cert = files.cert.clone();
    let back = Harness::start_with(vec![fast()], |_, settings| settings.tls = Some(files)).await;
    let https = format!("https://localhost:{}", back.addr.port());

    let front = Front::start(&https, Some(&cert)).await;
    let http = crate::support::Http::new(&front.url);
    let answer = http.post("/api/chat", &chat("llama3.2", true, 4)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.lines().pop().unwrap()["done"], true);
    front.stop().await;

    // Without the CA the endpoint is down, and says why.
    let untrusted = Front::start(&https, None).await;
    let status: Value =
        crate::support::Http::new(&untrusted.url).get("/api/meta/status").await.json();
    let endpoint = &status["endpoints"][0];
    assert_eq!(endpoint["health"], "down", "{status}");
    let reason = endpoint["reason"].as_str().unwrap();
    assert_eq!(reason, "TLS failed: invalid peer certificate: UnknownIssuer");
    // A call names the endpoint and the reason.
    let client = om_client::Client::new(om_client::http_client(), https.parse().unwrap());
    let error = client.version().await.unwrap_err();
    let want = format!(
        "TLS with https://localhost:{} failed: invalid peer certificate: UnknownIssuer",
        back.addr.port()
    );
    assert_eq!(error.message(), want);
    untrusted.stop().await;
    back.stop().await;
}

#[tokio::test]
async fn a_bad_certificate_file_is_named_at_bind() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files = TlsFiles { cert: dir.path().join("missing.pem"), key: dir.path().join("key.pem") };
    let (fleet, _workers) = Fleet::builder().build().expect("an empty fleet");
    let settings = Settings {
        listen: "127.0.0.1:0".parse().expect("address"),
        tls: Some(files),
        ..Settings::default()
    };
    let error = Gateway::bind(fleet, settings).await.unwrap_err();
    assert!(error.is_tls(), "{error}");
    assert!(error.to_string().contains("missing.pem"), "{error}");
}
