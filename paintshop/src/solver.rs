//! The paint-batch problem is Horn satisfiability: every customer is a clause with at most one
//! positive literal (its matte). Horn formulas have a unique least model, found by unit
//! propagation from "everything glossy" in O(colors + likes):
//!
//! - every customer counts how many of its glossy likes are still glossy;
//! - a customer whose count reaches zero can only be satisfied by its matte: that color is
//!   forced to matte (queued), or, if it has no matte, there is no solution;
//! - turning a color matte decrements the counts of the customers that liked it glossy.
//!
//! Each color is turned matte at most once and each like is visited at most once, so the run
//! time is linear. Only forced colors become matte, so the number of mattes is minimal, and
//! the least model is unique, as the problem statement promises.

use crate::problem::{Finish, Problem, Solution};

pub fn solve(problem: &Problem) -> Solution {
    let colors = problem.colors as usize;
    let customers = &problem.customers;

    // For each color, the customers that like it glossy, as one flat CSR array: a Vec per
    // color would cost one allocation per color, which dominates at a million colors.
    let mut offsets = vec![0u32; colors + 1];
    for customer in customers {
        for &color in &customer.glossy {
            offsets[color as usize + 1] += 1;
        }
    }
    for index in 0..colors {
        offsets[index + 1] += offsets[index];
    }
    let mut cursor = offsets.clone();
    let mut liked_glossy_by = vec![0u32; offsets[colors] as usize];
    for (customer_index, customer) in customers.iter().enumerate() {
        for &color in &customer.glossy {
            let slot = &mut cursor[color as usize];
            liked_glossy_by[*slot as usize] = customer_index as u32;
            *slot += 1;
        }
    }

    let mut finishes = vec![Finish::Glossy; colors];
    let mut still_glossy: Vec<u32> = customers
        .iter()
        .map(|customer| customer.glossy.len() as u32)
        .collect();
    let mut forced: Vec<u32> = Vec::new();

    // Forces `customer`'s matte, or reports that nothing can satisfy it.
    let force = |customer: usize, finishes: &mut [Finish], forced: &mut Vec<u32>| -> bool {
        match customers[customer].matte {
            None => false,
            Some(color) => {
                if finishes[color as usize] == Finish::Glossy {
                    finishes[color as usize] = Finish::Matte;
                    forced.push(color);
                }
                true
            }
        }
    };

    for (customer, &count) in still_glossy.iter().enumerate() {
        if count == 0 && !force(customer, &mut finishes, &mut forced) {
            return None;
        }
    }
    while let Some(color) = forced.pop() {
        let start = offsets[color as usize] as usize;
        let end = offsets[color as usize + 1] as usize;
        for &customer in &liked_glossy_by[start..end] {
            let count = &mut still_glossy[customer as usize];
            *count -= 1;
            if *count == 0 && !force(customer as usize, &mut finishes, &mut forced) {
                return None;
            }
        }
    }
    Some(finishes)
}

/// Exhaustive search over every assignment: exponential, for tests on small instances only.
pub fn brute_force(problem: &Problem) -> Solution {
    let colors = problem.colors as usize;
    assert!(colors <= 20, "brute force is for tiny instances");
    let satisfied = |mask: u32| {
        problem.customers.iter().all(|customer| {
            customer
                .glossy
                .iter()
                .any(|&color| mask & (1 << color) == 0)
                || customer.matte.is_some_and(|color| mask & (1 << color) != 0)
        })
    };
    (0u32..(1 << colors))
        .filter(|&mask| satisfied(mask))
        .min_by_key(|&mask| (mask.count_ones(), mask))
        .map(|mask| {
            (0..colors)
                .map(|color| {
                    if mask & (1 << color) != 0 {
                        Finish::Matte
                    } else {
                        Finish::Glossy
                    }
                })
                .collect()
        })
}
