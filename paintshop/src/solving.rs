use std::time::Instant;

use crate::admission::SolveSlots;
use crate::errors::ApiError;
use crate::problem::{Finish, Problem, Solution};
use crate::solver::solve;
use crate::store::HistoryEntry;

/// Instances larger than this (colors plus likes: the solver's time and memory, and the answer's
/// length, grow with both) are solved on the blocking pool under a [`SolveSlots`] permit, so
/// one large request never stalls the async workers serving everyone else, and large requests
/// beyond the CPUs are turned away rather than queued.
const INLINE_LIMIT: usize = 50_000;

/// A solved request, with what metrics and history need to know about it.
pub struct Solved {
    pub solution: Solution,
    pub mattes: Option<usize>,
    pub duration_us: i64,
    pub colors: usize,
    pub customers: usize,
    pub pairs: usize,
}

/// Whether an instance of this size is solved inline on the async worker.
pub fn runs_inline(colors: u32, pairs: usize) -> bool {
    pairs.saturating_add(colors as usize) <= INLINE_LIMIT
}

pub async fn solve_measured(problem: Problem, slots: &SolveSlots) -> Result<Solved, ApiError> {
    let pairs = problem.pairs();
    let inline = runs_inline(problem.colors, pairs);
    let run = move || {
        let started = Instant::now();
        let solution = solve(&problem);
        (
            solution,
            started.elapsed(),
            problem.colors as usize,
            problem.customers.len(),
        )
    };
    let (solution, elapsed, colors, customers) = if inline {
        run()
    } else {
        let _slot = slots.try_take()?;
        match tokio::task::spawn_blocking(run).await {
            Ok(result) => result,
            // The solver does not panic on validated input; if it ever did, the panic goes on
            // to the handler's catch-panic layer: a 500 for this request, never a wrong answer.
            Err(error) => match error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(error) => {
                    tracing::error!(%error, "solver task cancelled");
                    return Err(ApiError::Busy { what: "solves" });
                }
            },
        }
    };
    let mattes = solution
        .as_ref()
        .map(|finishes| finishes.iter().filter(|&&f| f == Finish::Matte).count());
    metrics::histogram!("paintshop_solver_seconds").record(elapsed.as_secs_f64());
    metrics::histogram!("paintshop_instance_pairs").record(pairs as f64);
    let outcome = if solution.is_some() {
        "solved"
    } else {
        "impossible"
    };
    metrics::counter!("paintshop_solutions_total", "outcome" => outcome).increment(1);
    Ok(Solved {
        solution,
        mattes,
        duration_us: i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX),
        colors,
        customers,
        pairs,
    })
}

impl Solved {
    pub fn history_entry(&self, api: &str, request_id: &str, at_ms: i64) -> HistoryEntry {
        HistoryEntry {
            id: 0,
            at_ms,
            api: api.to_owned(),
            request_id: request_id.to_owned(),
            colors: saturating_i64(self.colors),
            customers: saturating_i64(self.customers),
            pairs: saturating_i64(self.pairs),
            outcome: if self.solution.is_some() {
                "solved"
            } else {
                "impossible"
            }
            .to_owned(),
            mattes: self.mattes.map(saturating_i64),
            duration_us: self.duration_us,
        }
    }
}

fn saturating_i64(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
