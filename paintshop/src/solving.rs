use std::time::Instant;

use crate::problem::{Finish, Problem, Solution};
use crate::solver::solve;
use crate::store::HistoryEntry;

/// Instances with more likes than this are solved on the blocking pool, so one large request
/// never stalls the async workers serving everyone else.
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

pub async fn solve_measured(problem: Problem) -> Solved {
    let pairs = problem.pairs();
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
    let (solution, elapsed, colors, customers) = if pairs > INLINE_LIMIT {
        match tokio::task::spawn_blocking(run).await {
            Ok(result) => result,
            // The solver does not panic on validated input; if it ever did, the task is lost
            // but the service is not. Treat it as no solution found, loudly.
            Err(error) => {
                tracing::error!(%error, "solver task failed");
                (None, std::time::Duration::ZERO, 0, 0)
            }
        }
    } else {
        run()
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
    Solved {
        solution,
        mattes,
        duration_us: i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX),
        colors,
        customers,
        pairs,
    }
}

impl Solved {
    pub fn history_entry(&self, api: &str, request_id: &str, at_ms: i64) -> HistoryEntry {
        HistoryEntry {
            id: 0,
            at_ms,
            api: api.to_owned(),
            request_id: request_id.to_owned(),
            colors: self.colors as i64,
            customers: self.customers as i64,
            pairs: self.pairs as i64,
            outcome: if self.solution.is_some() {
                "solved"
            } else {
                "impossible"
            }
            .to_owned(),
            mattes: self.mattes.map(|count| count as i64),
            duration_us: self.duration_us,
        }
    }
}
