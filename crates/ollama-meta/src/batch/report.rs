//! The HTML report of a batch: one self-contained file (inline CSS and
//! SVG, no scripts, no fonts or anything else from the network) with a
//! timeline of tasks per endpoint, the slots each endpoint left idle while
//! tasks waited, the latency distribution per model, the summary table and
//! the failures.
//!
//! Task ids, model and endpoint names and error messages are user input:
//! every piece of text goes through [`escape`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::batch::idle;
use crate::batch::record::{Record, Status};
use crate::batch::summary::{Summary, human_ms, percentile};

/// What the report is about, besides the records.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    /// The batch's name (the task file).
    pub(crate) title: String,
    /// When the report was written (RFC 3339).
    pub(crate) generated_at: String,
    /// Configured slots per endpoint name, for the idle-time table.
    pub(crate) slots: BTreeMap<String, u32>,
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Colours for models, in order of first appearance.
const PALETTE: [&str; 8] =
    ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7"];
const ERROR_COLOUR: &str = "#e15759";
const CANCELLED_COLOUR: &str = "#bab0ac";

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem; color: #222; }
h1 { margin-bottom: 0.2rem; }
.meta { color: #666; margin-top: 0; }
.sim { display: inline-block; background: #fde68a; color: #7c2d12; font-weight: bold;
       padding: 0.2rem 0.6rem; border-radius: 0.3rem; margin: 0.5rem 0; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { padding: 0.25rem 0.7rem; border-bottom: 1px solid #ddd; text-align: right; }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
tr.total td { font-weight: bold; border-top: 2px solid #999; }
table.failures th, table.failures td { text-align: left; }
svg { font-size: 11px; }
svg text { fill: #333; }
.legend span { display: inline-block; margin-right: 1rem; }
.legend i { display: inline-block; width: 0.8rem; height: 0.8rem; margin-right: 0.3rem;
            vertical-align: middle; }
";

/// Renders the whole report.
pub(crate) fn render(meta: &Meta, summary: &Summary, records: &[&Record]) -> String {
    let colours = model_colours(records);
    let mut html = String::new();
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(html, "<title>ollama-meta run: {}</title>", escape(&meta.title));
    let _ = writeln!(html, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(html, "<h1>ollama-meta run: {}</h1>", escape(&meta.title));
    let _ = writeln!(
        html,
        "<p class=\"meta\">{} tasks: {} ok, {} failed, {} cancelled; wall time {}; generated {}</p>",
        summary.tasks,
        summary.ok,
        summary.failed,
        summary.cancelled,
        human_ms(summary.wall_ms),
        escape(&meta.generated_at)
    );
    if summary.simulated {
        html.push_str(
            "<p class=\"sim\">SIMULATED fleet: endpoints are om-sim instances; timings and \
             outputs are not from real models.</p>\n",
        );
    }
    html.push_str("<h2>Summary</h2>\n");
    summary_table(&mut html, summary);
    html.push_str("<h2>Timeline per endpoint</h2>\n");
    legend(&mut html, &colours);
    timeline(&mut html, records, &colours);
    html.push_str("<h2>Idle while tasks waited</h2>\n");
    idle_table(&mut html, &idle::per_endpoint(records, &meta.slots));
    html.push_str("<h2>Latency per model</h2>\n");
    latency_boxes(&mut html, records, &colours);
    if !summary.failures.is_empty() {
        html.push_str("<h2>Failures</h2>\n<table class=\"failures\">\n");
        html.push_str("<tr><th>task</th><th>status</th><th>kind</th><th>message</th></tr>\n");
        for failure in &summary.failures {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&failure.id),
                failure.status.as_str(),
                escape(&failure.kind),
                escape(&failure.message)
            );
        }
        html.push_str("</table>\n");
    }
    html.push_str("</body>\n</html>\n");
    html
}

fn model_colours(records: &[&Record]) -> Vec<(String, &'static str)> {
    let mut colours: Vec<(String, &'static str)> = Vec::new();
    for model in records.iter().filter_map(|r| r.model.as_ref()) {
        if !colours.iter().any(|(m, _)| m == model) {
            colours.push((model.clone(), PALETTE[colours.len() % PALETTE.len()]));
        }
    }
    colours
}

fn colour_of(record: &Record, colours: &[(String, &'static str)]) -> &'static str {
    match record.status {
        Status::Error => ERROR_COLOUR,
        Status::Cancelled => CANCELLED_COLOUR,
        Status::Ok => record
            .model
            .as_ref()
            .and_then(|m| colours.iter().find(|(name, _)| name == m))
            .map_or(PALETTE[0], |(_, c)| c),
    }
}

fn summary_table(html: &mut String, summary: &Summary) {
    html.push_str(
        "<table>\n<tr><th>model</th><th>endpoint</th><th>tasks</th><th>ok</th>\
         <th>success</th><th>p50</th><th>p95</th><th>tokens</th><th>tok/s</th></tr>\n",
    );
    let rows = summary.rows.iter().map(|r| (r, "")).chain([(&summary.total, " class=\"total\"")]);
    for (row, class) in rows {
        let ms = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), human_ms);
        let _ = writeln!(
            html,
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&row.model),
            escape(&row.endpoint),
            row.tasks,
            row.ok,
            row.success_rate * 100.0,
            ms(row.p50_ms),
            ms(row.p95_ms),
            row.completion_tokens,
            row.tokens_per_sec.map_or_else(|| "-".to_owned(), |t| format!("{t:.1}")),
        );
    }
    html.push_str("</table>\n");
}

fn legend(html: &mut String, colours: &[(String, &'static str)]) {
    html.push_str("<p class=\"legend\">");
    for (model, colour) in colours {
        let _ = write!(html, "<span><i style=\"background:{colour}\"></i>{}</span>", escape(model));
    }
    let _ = writeln!(
        html,
        "<span><i style=\"background:{ERROR_COLOUR}\"></i>error</span>\
         <span><i style=\"background:{CANCELLED_COLOUR}\"></i>cancelled</span></p>"
    );
}

/// A task on the timeline: its record and its span in seconds from the
/// batch's first start.
struct Bar<'a> {
    record: &'a Record,
    start: f64,
    end: f64,
}

const LABEL_WIDTH: f64 = 170.0;
const PLOT_WIDTH: f64 = 820.0;
const LANE: f64 = 14.0;

fn timeline(html: &mut String, records: &[&Record], colours: &[(String, &'static str)]) {
    let spans: Vec<(&Record, i128, i128)> = records
        .iter()
        .filter_map(|r| {
            let start = om_core::time::parse_rfc3339(r.started_at.as_deref()?)?;
            let end = om_core::time::parse_rfc3339(&r.finished_at)?;
            Some((*r, start, end.max(start)))
        })
        .collect();
    let Some(t0) = spans.iter().map(|s| s.1).min() else {
        html.push_str("<p>No task ran.</p>\n");
        return;
    };
    let secs = |t: i128| (t - t0) as f64 / 1e9;
    let horizon = spans.iter().map(|s| secs(s.2)).fold(0.001_f64, f64::max);
    let mut per_endpoint: BTreeMap<&str, Vec<Bar<'_>>> = BTreeMap::new();
    for (record, start, end) in &spans {
        let endpoint = record.endpoint.as_deref().unwrap_or("(none)");
        per_endpoint.entry(endpoint).or_default().push(Bar {
            record,
            start: secs(*start),
            end: secs(*end),
        });
    }
    // Lay each endpoint's tasks out in lanes: a task takes the first lane
    // free at its start, so concurrent tasks stack.
    let mut bands = Vec::new();
    for (endpoint, mut bars) in per_endpoint {
        bars.sort_by(|a, b| a.start.total_cmp(&b.start));
        let mut lane_ends: Vec<f64> = Vec::new();
        let mut placed = Vec::with_capacity(bars.len());
        for bar in bars {
            let lane = lane_ends.iter().position(|end| *end <= bar.start).unwrap_or_else(|| {
                lane_ends.push(0.0);
                lane_ends.len() - 1
            });
            lane_ends[lane] = bar.end;
            placed.push((lane, bar));
        }
        bands.push((endpoint, lane_ends.len(), placed));
    }
    let axis = 24.0;
    let height = axis + bands.iter().map(|(_, lanes, _)| *lanes as f64 * LANE + 12.0).sum::<f64>();
    let x = |t: f64| LABEL_WIDTH + t / horizon * PLOT_WIDTH;
    let _ = writeln!(
        html,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{height:.0}\" \
         role=\"img\" aria-label=\"timeline of tasks per endpoint\">",
        LABEL_WIDTH + PLOT_WIDTH + 20.0
    );
    let step = tick_step(horizon);
    let mut tick = 0.0;
    while tick <= horizon + 1e-9 {
        let _ = writeln!(
            html,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"16\" y2=\"{height:.0}\" stroke=\"#eee\"/>\
             <text x=\"{0:.1}\" y=\"12\" text-anchor=\"middle\">{1}</text>",
            x(tick),
            human_ms((tick * 1000.0).round() as u64)
        );
        tick += step;
    }
    let mut y = axis;
    for (endpoint, lanes, placed) in &bands {
        let band = *lanes as f64 * LANE;
        let _ = writeln!(
            html,
            "<text x=\"4\" y=\"{:.1}\">{}</text>\
             <line x1=\"0\" x2=\"{:.0}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ccc\"/>",
            y + band / 2.0 + 4.0,
            escape(&truncate(endpoint, 24)),
            LABEL_WIDTH + PLOT_WIDTH,
            y + band + 6.0,
            y + band + 6.0
        );
        for (lane, bar) in placed {
            let record = bar.record;
            let width = (x(bar.end) - x(bar.start)).max(1.5);
            let _ = writeln!(
                html,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{:.1}\" rx=\"2\" \
                 fill=\"{}\"><title>{} ({}): {} {}</title></rect>",
                x(bar.start),
                y + *lane as f64 * LANE + 1.0,
                LANE - 2.0,
                colour_of(record, colours),
                escape(record.id.as_str()),
                record.status.as_str(),
                escape(&record.placement()),
                human_ms(((bar.end - bar.start) * 1000.0).round() as u64),
            );
        }
        y += band + 12.0;
    }
    html.push_str("</svg>\n");
}

/// Per endpoint, how much of its capacity went unused while some task was
/// still waiting to start.
fn idle_table(html: &mut String, rows: &[idle::SlotUse]) {
    if rows.is_empty() {
        html.push_str("<p>No attempt ran.</p>\n");
        return;
    }
    html.push_str(
        "<p class=\"meta\">From the first start until the last attempt started, some task \
         was waiting: a slot free in that window is capacity the schedule left unused.</p>\n\
         <table>\n<tr><th>endpoint</th><th>slots</th><th>attempts</th><th>busy slot·s</th>\
         <th>idle slot·s while tasks waited</th><th>s with nothing running</th>\
         <th>last attempt ended</th></tr>\n",
    );
    for row in rows {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td>\
             <td>{}</td></tr>",
            escape(&row.endpoint),
            row.slots,
            row.attempts,
            row.busy_s,
            row.idle_slot_s,
            row.empty_s,
            human_ms((row.last_end_s * 1000.0).round() as u64),
        );
    }
    html.push_str("</table>\n");
}

/// A round step (1, 2 or 5 times a power of ten seconds) giving at most
/// about ten ticks.
fn tick_step(horizon: f64) -> f64 {
    let raw = horizon / 10.0;
    let magnitude = 10_f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw)
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

/// A box plot per model of the latencies of its successful tasks: whiskers
/// from min to max, a box from p25 to p75, a line at the median, and one dot
/// per task.
fn latency_boxes(html: &mut String, records: &[&Record], colours: &[(String, &'static str)]) {
    let mut per_model: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for record in records.iter().filter(|r| r.is_ok()) {
        if let (Some(model), Some(ms)) = (&record.model, record.latency_ms) {
            per_model.entry(model).or_default().push(ms);
        }
    }
    if per_model.is_empty() {
        html.push_str("<p>No successful task to show.</p>\n");
        return;
    }
    let max = per_model.values().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let row = 34.0;
    let height = 30.0 + per_model.len() as f64 * row;
    let x = |ms: u64| LABEL_WIDTH + ms as f64 / max * PLOT_WIDTH;
    let _ = writeln!(
        html,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{height:.0}\" \
         role=\"img\" aria-label=\"latency distribution per model\">",
        LABEL_WIDTH + PLOT_WIDTH + 20.0
    );
    let step = tick_step(max / 1000.0) * 1000.0;
    let mut tick = 0.0;
    while tick <= max + 1e-9 {
        let _ = writeln!(
            html,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"16\" y2=\"{height:.0}\" stroke=\"#eee\"/>\
             <text x=\"{0:.1}\" y=\"12\" text-anchor=\"middle\">{1}</text>",
            x(tick as u64),
            human_ms(tick as u64)
        );
        tick += step;
    }
    for (i, (model, mut values)) in per_model.into_iter().enumerate() {
        values.sort_unstable();
        let mid = 24.0 + i as f64 * row + row / 2.0;
        let colour = colours.iter().find(|(m, _)| m == model).map_or(PALETTE[0], |(_, c)| c);
        let q = |p| percentile(&values, p).unwrap_or(0);
        let (min, p25, p50, p75, maxv) = (values[0], q(25), q(50), q(75), values[values.len() - 1]);
        let _ = writeln!(
            html,
            "<text x=\"4\" y=\"{:.1}\">{}</text>\
             <line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{mid:.1}\" y2=\"{mid:.1}\" stroke=\"#666\"/>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"16\" fill=\"{colour}\" \
             fill-opacity=\"0.35\" stroke=\"{colour}\"><title>{}: n={} min {} p25 {} median {} \
             p75 {} max {}</title></rect>\
             <line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#222\" stroke-width=\"2\"/>",
            mid + 4.0,
            escape(&truncate(model, 24)),
            x(min),
            x(maxv),
            x(p25),
            mid - 8.0,
            (x(p75) - x(p25)).max(1.0),
            escape(model),
            values.len(),
            human_ms(min),
            human_ms(p25),
            human_ms(p50),
            human_ms(p75),
            human_ms(maxv),
            x(p50),
            x(p50),
            mid - 8.0,
            mid + 8.0,
        );
        for value in &values {
            let _ = writeln!(
                html,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2\" fill=\"{colour}\"/>",
                x(*value),
                mid + 11.0
            );
        }
    }
    html.push_str("</svg>\n");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::batch::record::tests::record;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(escape("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn user_text_never_reaches_the_page_raw() {
        let mut evil = record("<img src=x onerror=alert(1)>", Status::Error);
        evil.model = Some("m\"><script>".to_owned());
        evil.endpoint = Some("e</svg>".to_owned());
        evil.error.as_mut().unwrap().message = "<b>boom</b>".to_owned();
        let mut fine = record("ok-1", Status::Ok);
        fine.started_at = Some("2025-01-01T00:00:00.5Z".to_owned());
        let records = [&evil, &fine];
        let summary = Summary::new(&records, 2, 0, Duration::from_secs(2), true);
        let meta = Meta {
            title: "a&b.yaml".to_owned(),
            generated_at: "now".to_owned(),
            slots: BTreeMap::new(),
        };
        let html = render(&meta, &summary, &records);
        for raw in ["<img", "<script>", "e</svg>", "<b>boom"] {
            assert!(!html.contains(raw), "{raw} leaked into the report");
        }
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("a&amp;b.yaml"));
        assert!(html.contains("SIMULATED"));
        assert!(html.contains("e&lt;/svg&gt;</td><td>1</td>"), "idle table row, escaped");
        assert!(!html.contains("<script"), "no scripts at all");
        assert!(
            !html.contains("http://") || !html.contains("src=\"http"),
            "nothing from the network"
        );
        assert_eq!(html.matches("<svg").count(), 2, "timeline and latency plots");
        assert_eq!(html.matches("<rect").count() - 1, 2, "one bar per task plus one box");
    }

    #[test]
    fn concurrent_tasks_stack_in_lanes() {
        let mut a = record("a", Status::Ok);
        let mut b = record("b", Status::Ok);
        b.started_at = Some("2025-01-01T00:00:00.5Z".to_owned());
        let mut c = record("c", Status::Ok);
        c.started_at = Some("2025-01-01T00:00:01.5Z".to_owned());
        c.finished_at = "2025-01-01T00:00:02Z".to_owned();
        a.endpoint = Some("gpu".to_owned());
        let records = [&a, &b, &c];
        let mut html = String::new();
        timeline(&mut html, &records, &model_colours(&records));
        // a and b overlap (two lanes); c starts after a ends and reuses lane 0.
        assert_eq!(html.matches("y=\"25.0\"").count(), 2, "{html}");
        assert_eq!(html.matches("y=\"39.0\"").count(), 1, "{html}");
    }

    #[test]
    fn ticks_are_round() {
        assert!((tick_step(7.3) - 1.0).abs() < 1e-9);
        assert!((tick_step(42.0) - 5.0).abs() < 1e-9);
        assert!((tick_step(0.9) - 0.1).abs() < 1e-9);
    }
}
