//! The reference no strategy can tune: an offline earliest-completion-time
//! list schedule of the same tasks, evaluated under the simulator's own
//! model of a shared box.
//!
//! The schedule knows every task's output length in advance. It takes the
//! tasks in the order the dispatcher hands them out (priority, then
//! submission) and puts each on the machine where it would finish first,
//! given everything placed before it: each machine runs its list in order,
//! at most `slots` at a time, a cold model is loaded once (the load holds a
//! slot, not the compute), and every request evaluating or generating
//! shares the box — `n` of them progress at `speedup(n) / n` of a lone
//! request's speed, exactly as om-sim paces them (`EndpointSpec::speedup`).
//! A task's work is its lone-request time: `ttft + tokens / tokens_per_sec`.

use om_core::Priority;
use om_sim::EndpointSpec;

use crate::scenario::{Machine, Scenario};
use crate::workload::Workload;

/// What the offline schedule achieves.
#[derive(Debug, Clone)]
pub(crate) struct Offline {
    /// Seconds until the last task ends.
    pub(crate) makespan: f64,
    /// Tasks placed on each machine, in the scenario's order.
    pub(crate) placed: Vec<usize>,
}

/// One task as a machine sees it.
#[derive(Debug, Clone, Copy)]
struct Job<'a> {
    /// Lone-request seconds of compute.
    work: f64,
    model: &'a str,
}

/// Computes the schedule of `workload` on `scenario`'s machines.
pub(crate) fn schedule(scenario: &Scenario, workload: &Workload) -> Offline {
    let specs: Vec<EndpointSpec> =
        scenario.machines.iter().map(|m| m.spec(scenario.models, None, 0)).collect();
    let mut order: Vec<usize> = (0..workload.tasks.len()).collect();
    order.sort_by_key(|&i| priority_rank(workload.tasks[i].task.priority));
    let mut lists: Vec<Vec<Job<'_>>> = vec![Vec::new(); scenario.machines.len()];
    let mut ends = vec![0.0_f64; scenario.machines.len()];
    for i in order {
        let planned = &workload.tasks[i];
        let model = planned.model.unwrap_or(scenario.models[0]);
        let mut best: Option<(usize, f64, f64)> = None;
        for (m, machine) in scenario.machines.iter().enumerate() {
            let job = Job {
                work: machine.ttft.as_secs_f64() + planned.tokens as f64 / machine.tokens_per_sec,
                model,
            };
            let mut list = lists[m].clone();
            list.push(job);
            let finish = finish_times(machine, &specs[m], &list);
            let own = finish.last().copied().unwrap_or(0.0);
            let end = finish.iter().copied().fold(0.0, f64::max);
            if best.is_none_or(|(_, b, _)| own < b) {
                best = Some((m, own, end));
            }
        }
        if let Some((m, _, end)) = best {
            let machine = &scenario.machines[m];
            lists[m].push(Job {
                work: machine.ttft.as_secs_f64() + planned.tokens as f64 / machine.tokens_per_sec,
                model,
            });
            ends[m] = end;
        }
    }
    Offline {
        makespan: ends.iter().copied().fold(0.0, f64::max),
        placed: lists.iter().map(Vec::len).collect(),
    }
}

/// The dispatcher's order: high priority first.
fn priority_rank(priority: Priority) -> usize {
    Priority::ALL.iter().position(|p| *p == priority).unwrap_or(usize::MAX)
}

/// What a slot is doing.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for its model, loaded at this time.
    Loading(f64),
    /// Lone-request seconds of compute left.
    Running(f64),
}

/// When each job of `list` ends if `machine` runs the list in order, at
/// most `slots` at once, on its shared compute.
fn finish_times(machine: &Machine, spec: &EndpointSpec, list: &[Job<'_>]) -> Vec<f64> {
    const EPSILON: f64 = 1e-12;
    let mut finish = vec![0.0; list.len()];
    // When each model is (or will be) loaded; absent: cold, not yet asked for.
    let mut ready: Vec<(&str, f64)> = Vec::new();
    let mut running: Vec<(usize, Phase)> = Vec::new();
    let (mut now, mut next) = (0.0_f64, 0);
    loop {
        while running.len() < machine.slots && next < list.len() {
            let job = list[next];
            let at = if machine.cold.contains(&job.model) {
                if let Some(&(_, at)) = ready.iter().find(|(m, _)| *m == job.model) {
                    at
                } else {
                    let at = now + machine.load_time.as_secs_f64();
                    ready.push((job.model, at));
                    at
                }
            } else {
                now
            };
            let phase = if at > now { Phase::Loading(at) } else { Phase::Running(job.work) };
            running.push((next, phase));
            next += 1;
        }
        if running.is_empty() {
            return finish;
        }
        let active = running.iter().filter(|(_, p)| matches!(p, Phase::Running(_))).count();
        let share = spec.speedup(active) / active.max(1) as f64;
        let step = running
            .iter()
            .map(|(_, p)| match *p {
                Phase::Loading(at) => at - now,
                Phase::Running(left) => left / share,
            })
            .fold(f64::INFINITY, f64::min);
        now += step;
        running.retain_mut(|(i, phase)| match *phase {
            Phase::Running(left) => {
                let left = left - step * share;
                if left <= EPSILON {
                    finish[*i] = now;
                    false
                } else {
                    *phase = Phase::Running(left);
                    true
                }
            }
            Phase::Loading(at) => {
                if at <= now + EPSILON {
                    *phase = Phase::Running(list[*i].work);
                }
                true
            }
        });
    }
}
