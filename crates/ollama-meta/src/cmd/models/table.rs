//! The fleet as a plain-text table: one line per endpoint, its models
//! indented below it, and a summary line.

use std::fmt::Write;
use std::time::{Duration, SystemTime};

use super::document::{EndpointView, FleetView, HealthView, ModelView, rfc3339};

const ENDPOINT_HEADER: [&str; 5] = ["ENDPOINT", "URL", "HEALTH", "VERSION", "LATENCY"];
const MODEL_HEADER: [&str; 7] =
    ["MODEL", "FAMILY", "PARAMS", "QUANT", "CONTEXT", "CAPABILITIES", "LOADED"];
const INDENT: &str = "  ";

/// An expiry further away than this is Ollama's "never unload"
/// (`keep_alive` < 0 sets it centuries ahead).
const FOREVER: Duration = Duration::from_hours(10 * 365 * 24);

/// Renders `view`; every line ends with a newline.
pub(crate) fn render(view: &FleetView) -> String {
    let endpoint_rows: Vec<Vec<String>> = std::iter::once(header(&ENDPOINT_HEADER))
        .chain(view.endpoints.iter().map(endpoint_row))
        .collect();
    let model_rows: Vec<Vec<String>> = std::iter::once(header(&MODEL_HEADER))
        .chain(
            view.endpoints.iter().flat_map(|e| &e.models).map(|m| model_row(m, view.generated_at)),
        )
        .collect();
    let endpoint_lines = align(&endpoint_rows);
    let model_lines = align(&model_rows);

    let mut out = String::new();
    let mut models = model_lines.iter().skip(1);
    push_line(&mut out, "", &endpoint_lines[0]);
    for (endpoint, line) in view.endpoints.iter().zip(endpoint_lines.iter().skip(1)) {
        push_line(&mut out, "", line);
        if !endpoint.models.is_empty() {
            push_line(&mut out, INDENT, &model_lines[0]);
            for line in models.by_ref().take(endpoint.models.len()) {
                push_line(&mut out, INDENT, line);
            }
        }
    }
    let unknown = view.endpoints.len() - view.up() - view.down();
    let _ = write!(
        out,
        "\n{} endpoint{} ({} up, {} down{}), {} model{} ({} loaded)\n",
        view.endpoints.len(),
        plural(view.endpoints.len()),
        view.up(),
        view.down(),
        if unknown > 0 { format!(", {unknown} unknown") } else { String::new() },
        view.models(),
        plural(view.models()),
        view.loaded(),
    );
    out
}

fn push_line(out: &mut String, indent: &str, line: &str) {
    out.push_str(indent);
    out.push_str(line);
    out.push('\n');
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn header(names: &[&str]) -> Vec<String> {
    names.iter().map(|&n| n.to_owned()).collect()
}

fn endpoint_row(endpoint: &EndpointView) -> Vec<String> {
    let health = match &endpoint.health {
        HealthView::Up => "up".to_owned(),
        HealthView::Down(reason) => format!("down: {reason}"),
        HealthView::Unknown => "unknown".to_owned(),
    };
    vec![
        endpoint.name.clone(),
        endpoint.url.clone(),
        health,
        endpoint.version.clone().unwrap_or_else(|| "-".to_owned()),
        endpoint.latency.map_or_else(|| "-".to_owned(), latency),
    ]
}

fn model_row(model: &ModelView, now: SystemTime) -> Vec<String> {
    let or_dash = |text: &str| if text.is_empty() { "-".to_owned() } else { text.to_owned() };
    let loaded = match model.loaded {
        None => "-".to_owned(),
        Some(loaded) => match loaded.expires_at {
            None => "yes".to_owned(),
            Some(at) if at.duration_since(now).is_ok_and(|ahead| ahead > FOREVER) => {
                "yes, forever".to_owned()
            }
            Some(at) => format!("until {}", rfc3339(at)),
        },
    };
    vec![
        model.name.clone(),
        or_dash(&model.family),
        or_dash(&model.parameter_size),
        or_dash(&model.quantization),
        model.context_length.map_or_else(|| "-".to_owned(), |n| n.to_string()),
        or_dash(&model.capabilities.join(",")),
        loaded,
    ]
}

/// `0.42ms`, `12ms`, `1.5s`.
fn latency(latency: Duration) -> String {
    let ms = latency.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{ms:.2}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.1}s", latency.as_secs_f64())
    }
}

/// Pads every column but the last to its widest cell, two spaces apart.
fn align(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 < row.len() {
                    let pad = widths[c] - cell.chars().count();
                    let _ = write!(line, "{cell}{:pad$}  ", "");
                } else {
                    line.push_str(cell);
                }
            }
            line.trim_end().to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::document::LoadedView;
    use super::*;

    fn model(name: &str, loaded: Option<LoadedView>) -> ModelView {
        ModelView {
            name: name.to_owned(),
            family: "llama".to_owned(),
            families: vec!["llama".to_owned()],
            parameter_size: "3.2B".to_owned(),
            parameters: Some(3_200_000_000),
            quantization: "Q4_K_M".to_owned(),
            context_length: Some(131_072),
            capabilities: vec!["completion".to_owned(), "tools".to_owned()],
            size: 1,
            digest: "ab".repeat(32),
            loaded,
        }
    }

    #[test]
    fn endpoints_with_their_models_and_a_summary() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_761_499_000);
        let soon = LoadedView {
            expires_at: Some(now + Duration::from_secs(281)),
            context_length: Some(4096),
            size_vram: 0,
        };
        let forever =
            LoadedView { expires_at: Some(now + Duration::from_hours(24 * 365 * 300)), ..soon };
        let view = FleetView {
            generated_at: now,
            endpoints: vec![
                EndpointView {
                    name: "gpu".to_owned(),
                    url: "http://127.0.0.1:1".to_owned(),
                    kind: om_core::ApiKind::Ollama,
                    health: HealthView::Up,
                    version: Some("0.33.0".to_owned()),
                    latency: Some(Duration::from_micros(420)),
                    models: vec![
                        model("llama3.2:latest", Some(soon)),
                        model("x:1b", Some(forever)),
                    ],
                },
                EndpointView {
                    name: "laptop".to_owned(),
                    url: "http://127.0.0.1:2".to_owned(),
                    kind: om_core::ApiKind::OpenAi,
                    health: HealthView::Down("connection refused".to_owned()),
                    version: None,
                    latency: None,
                    models: vec![],
                },
            ],
        };
        let want = "\
ENDPOINT  URL                 HEALTH                    VERSION  LATENCY
gpu       http://127.0.0.1:1  up                        0.33.0   0.42ms
  MODEL            FAMILY  PARAMS  QUANT   CONTEXT  CAPABILITIES      LOADED
  llama3.2:latest  llama   3.2B    Q4_K_M  131072   completion,tools  until 2025-10-26T17:21:21Z
  x:1b             llama   3.2B    Q4_K_M  131072   completion,tools  yes, forever
laptop    http://127.0.0.1:2  down: connection refused  -        -

2 endpoints (1 up, 1 down), 2 models (2 loaded)
";
        assert_eq!(render(&view), want);
    }

    #[test]
    fn latencies() {
        assert_eq!(latency(Duration::from_micros(420)), "0.42ms");
        assert_eq!(latency(Duration::from_millis(12)), "12ms");
        assert_eq!(latency(Duration::from_millis(1500)), "1.5s");
    }
}
