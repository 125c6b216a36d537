//! `ollama-meta models --from URL`: what a running gateway has learned, read
//! from its `/api/meta/status` (the document `Fleet::status` writes) and
//! shown as a table, or passed on as it came with `--json`.

use std::fmt::Write as _;

use futures_util::StreamExt;
use om_client::{Client, RawRequest};
use om_core::EndpointUrl;
use serde_json::Value;

/// How long the gateway has to answer.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Fetches the status document of the gateway at `base`.
///
/// # Errors
///
/// When the gateway cannot be reached, does not answer 200, or answers
/// something that is not its status document: each says which.
pub(crate) async fn fetch(base: &EndpointUrl, token: Option<&str>) -> anyhow::Result<Value> {
    let url = base.join("/api/meta/status");
    let mut client = Client::new(om_client::http_client(), base.clone());
    if let Some(token) = token {
        client = client.with_bearer_token(token).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let read = async {
        let mut lines = client.send_lines(RawRequest::get("/api/meta/status")).await?;
        let mut body = Vec::new();
        while let Some(line) = lines.next().await {
            body.extend_from_slice(&line?);
        }
        Ok::<_, om_core::Error>(body)
    };
    let body = tokio::time::timeout(TIMEOUT, read)
        .await
        .map_err(|_| anyhow::anyhow!("{url} did not answer within {} s", TIMEOUT.as_secs()))?
        .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    let document: Value = serde_json::from_slice(&body)
        .map_err(|e| anyhow::anyhow!("{url} is not an ollama-meta gateway's status: {e}"))?;
    if !document["endpoints"].is_array() {
        anyhow::bail!("{url} is not an ollama-meta gateway's status (no endpoints list)");
    }
    Ok(document)
}

/// The table: one line per endpoint, then its models indented.
pub(crate) fn render(document: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<20} {:<7} {:<8} {:>8} {:>16} {:>9}",
        "ENDPOINT", "KIND", "HEALTH", "CAPACITY", "LIMIT (REASON)", "IN FLIGHT"
    );
    for endpoint in document["endpoints"].as_array().into_iter().flatten() {
        let limit = match &endpoint["limit"] {
            Value::Null => "fixed".to_owned(),
            limit => format!(
                "{} ({})",
                limit["learned"].as_u64().unwrap_or(0),
                limit["reason"].as_str().unwrap_or("?")
            ),
        };
        let _ = writeln!(
            out,
            "{:<20} {:<7} {:<8} {:>8} {:>16} {:>9}",
            text(&endpoint["name"]),
            endpoint["kind"].as_str().unwrap_or("ollama"),
            text(&endpoint["health"]),
            number(&endpoint["capacity"]),
            limit,
            number(&endpoint["in_flight"]),
        );
        if let Some(reason) = endpoint["reason"].as_str() {
            let _ = writeln!(out, "  down: {reason}");
        }
        for model in endpoint["models"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "  {:<30} ttft {:>8}  {:>8} tok/s  in flight {}  breaker {}",
                text(&model["name"]),
                model["ttft_ms"]
                    .as_f64()
                    .map_or_else(|| "-".to_owned(), |ms| format!("{ms:.0} ms")),
                model["tokens_per_sec"]
                    .as_f64()
                    .map_or_else(|| "-".to_owned(), |t| format!("{t:.1}")),
                number(&model["in_flight"]),
                text(&model["breaker"]),
            );
        }
    }
    out
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or("-").to_owned()
}

fn number(value: &Value) -> String {
    value.as_u64().map_or_else(|| "-".to_owned(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_learned_limit_and_its_reason_are_shown() {
        let document = json!({"endpoints": [
            {"name": "gpu", "kind": "ollama", "health": "up", "reason": null, "capacity": 6,
             "limit": {"learned": 6, "reason": "raised"}, "in_flight": 2,
             "models": [{"name": "llama3.2:latest", "ttft_ms": 41.7, "tokens_per_sec": 88.25,
                         "in_flight": 2, "breaker": "closed"}]},
            {"name": "box", "kind": "openai", "health": "down", "reason": "connection refused",
             "capacity": 1, "limit": null, "in_flight": 0, "models": []},
        ]});
        let table = render(&document);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[1].starts_with("gpu "), "{table}");
        assert!(lines[1].contains("6 (raised)"), "{table}");
        assert!(lines[2].contains("ttft    42 ms") && lines[2].contains("88.2 tok/s"), "{table}");
        assert!(lines[3].contains("openai") && lines[3].contains("fixed"), "{table}");
        assert_eq!(lines[4], "  down: connection refused");
    }
}
