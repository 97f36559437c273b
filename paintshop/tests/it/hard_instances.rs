//! Instances that are hard for the solver, shared by the integration tests and the benchmark
//! (`benches/solver.rs` includes this file).

use paintshop::problem::{Customer, Problem};

/// The worst case for propagation: customer 0 wants color 0 matte, customer i likes color i
/// matte or color i-1 glossy, so forcing color 0 forces 1, which forces 2, ... to the end.
pub fn forcing_chain(colors: u32) -> Problem {
    let mut customers = vec![Customer {
        glossy: vec![],
        matte: Some(0),
    }];
    customers.extend((1..colors).map(|color| Customer {
        glossy: vec![color - 1],
        matte: Some(color),
    }));
    Problem { colors, customers }
}
