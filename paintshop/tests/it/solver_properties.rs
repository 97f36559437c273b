use paintshop::problem::{Customer, Finish, Problem};
use paintshop::solver::{brute_force, solve};
use proptest::prelude::*;

use crate::hard_instances::forcing_chain;

/// Random small instances, within the problem's rule of at most one matte per customer.
fn small_problem() -> impl Strategy<Value = Problem> {
    (1u32..=8).prop_flat_map(|colors| {
        let customer = (
            proptest::collection::vec(0..colors, 0..4),
            proptest::option::of(0..colors),
        )
            .prop_map(|(glossy, matte)| Customer { glossy, matte });
        proptest::collection::vec(customer, 1..8)
            .prop_map(move |customers| Problem { colors, customers })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn linear_solver_agrees_with_exhaustive_search(problem in small_problem()) {
        prop_assert_eq!(solve(&problem), brute_force(&problem));
    }

    #[test]
    fn every_solution_satisfies_every_customer(problem in small_problem()) {
        if let Some(finishes) = solve(&problem) {
            for customer in &problem.customers {
                let satisfied = customer.glossy.iter().any(|&c| finishes[c as usize] == Finish::Glossy)
                    || customer.matte.is_some_and(|c| finishes[c as usize] == Finish::Matte);
                prop_assert!(satisfied);
            }
        }
    }
}

#[test]
fn a_long_forcing_chain_is_followed_to_the_end() {
    // Every color is forced in turn, the worst case for propagation depth.
    let finishes = solve(&forcing_chain(100_000)).expect("solvable");
    assert!(finishes.iter().all(|&finish| finish == Finish::Matte));
}
