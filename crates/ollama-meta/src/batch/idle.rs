//! Per endpoint, the capacity that sat unused while tasks were still
//! waiting to start: the waste of a scheduler that leaves a fast box idle
//! while a slow one grinds through the last task, or that starts nothing
//! while work queues.
//!
//! Every task of a batch is queued when it begins, so from the batch's
//! first start until the last attempt starts some task is waiting. Over
//! that window an endpoint with `slots` slots and `busy(t)` attempts
//! running wastes `max(slots - busy(t), 0)` slot-seconds per second. Only
//! the last attempt of each task is known from its record (it ends at
//! `finished_at` and lasted `latency_ms`); time an earlier, failed attempt
//! held a slot therefore counts as idle.

use std::collections::BTreeMap;

use crate::batch::record::Record;

/// One endpoint's use of its slots over a batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SlotUse {
    /// The endpoint's name.
    pub(crate) endpoint: String,
    /// Its slots: the configured concurrency, or the most attempts seen
    /// running at once when that is higher.
    pub(crate) slots: u32,
    /// Attempts that ran on it.
    pub(crate) attempts: usize,
    /// Slot-seconds its attempts ran.
    pub(crate) busy_s: f64,
    /// Slot-seconds unused while some task was waiting to start.
    pub(crate) idle_slot_s: f64,
    /// Seconds it ran nothing at all while some task was waiting.
    pub(crate) empty_s: f64,
    /// When its last attempt ended, in seconds from the batch's first start.
    pub(crate) last_end_s: f64,
}

/// The last attempt of a record, in nanoseconds since the epoch.
struct Span {
    start: i128,
    end: i128,
}

/// Computes [`SlotUse`] for every endpoint that ran an attempt, in name order.
/// `configured` maps endpoint names to their configured slots.
pub(crate) fn per_endpoint(
    records: &[&Record],
    configured: &BTreeMap<String, u32>,
) -> Vec<SlotUse> {
    let Some(t0) =
        records.iter().filter_map(|r| om_core::time::parse_rfc3339(r.started_at.as_deref()?)).min()
    else {
        return Vec::new();
    };
    let mut spans: BTreeMap<&str, Vec<Span>> = BTreeMap::new();
    for record in records {
        let (Some(endpoint), Some(latency)) = (record.endpoint.as_deref(), record.latency_ms)
        else {
            continue;
        };
        let Some(end) = om_core::time::parse_rfc3339(&record.finished_at) else { continue };
        let start = (end - i128::from(latency) * 1_000_000).max(t0);
        spans.entry(endpoint).or_default().push(Span { start, end: end.max(start) });
    }
    // Some task waits until the last attempt of all starts.
    let waiting_until = spans.values().flatten().map(|s| s.start).max().unwrap_or(t0);
    let secs = |ns: i128| (ns - t0) as f64 / 1e9;
    spans
        .into_iter()
        .map(|(endpoint, spans)| {
            let mut events: Vec<(i128, i32)> =
                spans.iter().flat_map(|s| [(s.start, 1), (s.end, -1)]).collect();
            // Ends before starts at the same instant: a slot handed straight
            // over is never two at once.
            events.sort_unstable();
            let peak = events
                .iter()
                .scan(0_i32, |running, (_, delta)| {
                    *running += delta;
                    Some(*running)
                })
                .max()
                .unwrap_or(0);
            let slots = configured
                .get(endpoint)
                .copied()
                .unwrap_or(1)
                .max(u32::try_from(peak).unwrap_or(0));
            let (mut idle_slot_s, mut empty_s) = (0.0, 0.0);
            let (mut running, mut at) = (0_i32, t0);
            for &(time, delta) in events.iter().chain([&(waiting_until, 0)]) {
                let until = time.min(waiting_until);
                if until > at {
                    let length = secs(until) - secs(at);
                    idle_slot_s += (f64::from(slots) - f64::from(running)).max(0.0) * length;
                    if running == 0 {
                        empty_s += length;
                    }
                    at = until;
                }
                running += delta;
            }
            SlotUse {
                endpoint: endpoint.to_owned(),
                slots,
                attempts: spans.len(),
                busy_s: spans.iter().map(|s| secs(s.end) - secs(s.start)).sum(),
                idle_slot_s,
                empty_s,
                last_end_s: spans.iter().map(|s| secs(s.end)).fold(0.0, f64::max),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::record::Status;
    use crate::batch::record::tests::record;

    /// A task that started at `started` and whose only attempt ran on
    /// `endpoint` from `from` to `to` (seconds after midnight).
    fn ran(id: &str, endpoint: &str, started: u32, from: u32, to: u32) -> Record {
        let mut r = record(id, Status::Ok);
        r.endpoint = Some(endpoint.to_owned());
        r.started_at = Some(format!("2025-01-01T00:00:{started:02}Z"));
        r.finished_at = format!("2025-01-01T00:00:{to:02}Z");
        r.latency_ms = Some(u64::from(to - from) * 1000);
        r
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_fast_box_idle_while_the_slow_one_runs_the_last_task() {
        // gpu (2 slots) runs a and b for 2 s; the laptop takes c at 0 and
        // d at 3. Some task waits until d starts at 3 s: gpu has both slots
        // free from 2 to 3, the laptop's one slot is free from 2 to 3.
        let records = [
            ran("a", "gpu", 0, 0, 2),
            ran("b", "gpu", 0, 0, 2),
            ran("c", "laptop", 0, 0, 2),
            ran("d", "laptop", 0, 3, 8),
        ];
        let refs: Vec<&Record> = records.iter().collect();
        let configured = BTreeMap::from([("gpu".to_owned(), 2), ("laptop".to_owned(), 1)]);
        let idle = per_endpoint(&refs, &configured);
        let gpu = &idle[0];
        assert_eq!((gpu.endpoint.as_str(), gpu.slots, gpu.attempts), ("gpu", 2, 2));
        assert!(close(gpu.busy_s, 4.0) && close(gpu.idle_slot_s, 2.0), "{gpu:?}");
        assert!(close(gpu.empty_s, 1.0) && close(gpu.last_end_s, 2.0), "{gpu:?}");
        let laptop = &idle[1];
        assert!(close(laptop.idle_slot_s, 1.0) && close(laptop.empty_s, 1.0), "{laptop:?}");
        assert!(close(laptop.last_end_s, 8.0), "{laptop:?}");
    }

    #[test]
    fn slots_are_at_least_what_ran_at_once() {
        // Nothing configured: three overlapping attempts mean three slots;
        // the waiting window ends when the last one starts (1 s).
        let records = [ran("a", "e", 0, 0, 4), ran("b", "e", 0, 0, 4), ran("c", "e", 0, 1, 4)];
        let refs: Vec<&Record> = records.iter().collect();
        let idle = per_endpoint(&refs, &BTreeMap::new());
        assert_eq!(idle[0].slots, 3);
        assert!(close(idle[0].idle_slot_s, 1.0), "{:?}", idle[0]);
        assert!(close(idle[0].empty_s, 0.0), "{:?}", idle[0]);
    }

    #[test]
    fn back_to_back_attempts_leave_no_gap() {
        let records = [ran("a", "e", 0, 0, 2), ran("b", "e", 0, 2, 3)];
        let refs: Vec<&Record> = records.iter().collect();
        let idle = per_endpoint(&refs, &BTreeMap::from([("e".to_owned(), 1)]));
        assert_eq!(idle[0].slots, 1);
        assert!(close(idle[0].idle_slot_s, 0.0), "{:?}", idle[0]);
    }

    #[test]
    fn tasks_that_never_ran_count_nothing() {
        let mut cancelled = record("x", Status::Cancelled);
        cancelled.started_at = None;
        cancelled.latency_ms = None;
        cancelled.endpoint = None;
        assert!(per_endpoint(&[&cancelled], &BTreeMap::new()).is_empty());
    }
}
