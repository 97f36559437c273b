//! The `/v1/` input: `{"colors": N, "customers": M, "demands": [[T, X1, Y1, ...], ...]}`,
//! validated strictly. The legacy service answered odd input with a 500 or a wrong 200; this
//! one names the first problem in one line (a deliberate, documented change).

use serde::Deserialize;

use crate::problem::{Customer, Problem};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_colors: u32,
    pub max_customers: usize,
    pub max_pairs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_colors: 1_000_000,
            max_customers: 1_000_000,
            max_pairs: 1_000_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

fn invalid(message: impl Into<String>) -> InvalidInput {
    InvalidInput(message.into())
}

#[derive(Deserialize)]
struct LegacyInput {
    colors: i64,
    customers: i64,
    demands: Vec<Vec<i64>>,
}

pub fn parse_legacy_json(json: &str, limits: &Limits) -> Result<Problem, InvalidInput> {
    let input: LegacyInput = serde_json::from_str(json).map_err(|error| {
        invalid(format!("input is not valid JSON of the form {{\"colors\":N,\"customers\":M,\"demands\":[[T,X,Y,...],...]}}: {error}"))
    })?;
    legacy_problem(input.colors, input.customers, input.demands, limits)
}

/// Checks counts and ranges and builds the problem. Shared by the JSON and case-file readers.
pub fn legacy_problem(
    colors: i64,
    customers: i64,
    demands: Vec<Vec<i64>>,
    limits: &Limits,
) -> Result<Problem, InvalidInput> {
    if colors < 1 || colors > i64::from(limits.max_colors) {
        return Err(invalid(format!(
            "colors must be between 1 and {}, got {colors}",
            limits.max_colors
        )));
    }
    if customers < 1 || customers > i64::try_from(limits.max_customers).unwrap_or(i64::MAX) {
        return Err(invalid(format!(
            "customers must be between 1 and {}, got {customers}",
            limits.max_customers
        )));
    }
    if i64::try_from(demands.len()) != Ok(customers) {
        return Err(invalid(format!(
            "customers is {customers} but demands has {} entries",
            demands.len()
        )));
    }
    let mut pairs_total = 0usize;
    let mut parsed = Vec::with_capacity(demands.len());
    for (index, demand) in demands.iter().enumerate() {
        let number = index + 1;
        let Some((&count, pairs)) = demand.split_first() else {
            return Err(invalid(format!(
                "customer {number} is empty; expected [T, X1, Y1, ...]"
            )));
        };
        // Checked: T comes from the client and `T * 2` overflows for T > i64::MAX / 2.
        let expected = count.checked_mul(2).filter(|expected| *expected >= 0);
        if expected.is_none() || i64::try_from(pairs.len()).ok() != expected {
            return Err(invalid(format!(
                "customer {number} says T={count} but has {} numbers after it (expected {})",
                pairs.len(),
                count.saturating_mul(2).max(0)
            )));
        }
        pairs_total = pairs_total.saturating_add(pairs.len() / 2);
        if pairs_total > limits.max_pairs {
            return Err(invalid(format!(
                "more than {} (color, finish) pairs in total",
                limits.max_pairs
            )));
        }
        let mut customer = Customer::default();
        for pair in pairs.chunks_exact(2) {
            let (color, finish) = (pair[0], pair[1]);
            if color < 1 || color > colors {
                return Err(invalid(format!(
                    "customer {number}: color {color} is outside 1..{colors}"
                )));
            }
            let color = (color - 1) as u32;
            match finish {
                0 => customer.glossy.push(color),
                1 => match customer.matte {
                    Some(matte) if matte != color => {
                        return Err(invalid(format!(
                            "customer {number} likes two matte colors ({} and {}); at most one is allowed",
                            matte + 1,
                            color + 1
                        )));
                    }
                    _ => customer.matte = Some(color),
                },
                other => {
                    return Err(invalid(format!(
                        "customer {number}: finish {other} is not 0 (glossy) or 1 (matte)"
                    )));
                }
            }
        }
        parsed.push(customer);
    }
    Ok(Problem {
        colors: colors as u32,
        customers: parsed,
    })
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    fn number() -> impl Strategy<Value = i64> {
        prop_oneof![
            -2i64..6,
            Just(i64::MAX),
            Just(i64::MIN),
            Just(i64::MAX / 2 + 1),
            any::<i64>()
        ]
    }

    proptest! {
        /// Debug builds check every arithmetic operation, so any overflow on client numbers
        /// would panic here.
        #[test]
        fn any_numbers_are_validated_without_overflow(
            colors in number(),
            customers in prop::option::of(number()),
            demands in vec(vec(number(), 0..7), 0..4),
        ) {
            let customers = customers.unwrap_or(demands.len() as i64);
            let limits = Limits { max_colors: u32::MAX, max_customers: usize::MAX, max_pairs: usize::MAX };
            let _ = legacy_problem(colors, customers, demands.clone(), &limits);
            let _ = legacy_problem(colors, customers, demands, &Limits::default());
        }
    }
}
