//! Solver speed on the stated limits and far beyond. `cargo bench -p paintshop`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use paintshop::problem::{Customer, Problem};
use paintshop::solver::solve;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "../tests/it/hard_instances.rs"]
mod hard_instances;

use hard_instances::forcing_chain;

/// `customers` random customers over `colors` colors with `pairs` likes in all, about one in
/// five matte (at most one per customer): a mix of solvable and forcing-heavy instances.
fn random_instance(colors: u32, customers: usize, pairs: usize, seed: u64) -> Problem {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut list: Vec<Customer> = (0..customers).map(|_| Customer::default()).collect();
    for index in 0..pairs {
        let customer = if index < customers {
            index
        } else {
            rng.random_range(0..customers)
        };
        let color = rng.random_range(0..colors);
        let target = &mut list[customer];
        if target.matte.is_none() && rng.random_ratio(1, 5) {
            target.matte = Some(color);
        } else {
            target.glossy.push(color);
        }
    }
    Problem {
        colors,
        customers: list,
    }
}

/// A chain whose end is contradicted: the solver must walk it all before saying IMPOSSIBLE.
fn impossible_chain(colors: u32) -> Problem {
    let mut problem = forcing_chain(colors);
    problem.customers.push(Customer {
        glossy: vec![colors - 1],
        matte: None,
    });
    problem
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("solve");
    group.sample_size(20);
    let cases = [
        (
            "stated limits N=M=2000 T=3000",
            random_instance(2000, 2000, 3000, 1),
        ),
        (
            "N=1e6 M=1e6 T=3e6 random",
            random_instance(1_000_000, 1_000_000, 3_000_000, 2),
        ),
        ("N=1e6 forcing chain", forcing_chain(1_000_000)),
        ("N=1e6 impossible chain", impossible_chain(1_000_000)),
    ];
    for (name, problem) in &cases {
        group.throughput(Throughput::Elements(problem.pairs() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), problem, |b, problem| {
            b.iter(|| solve(problem))
        });
    }
    group.finish();
}

criterion_group!(solver, benches);
criterion_main!(solver);
