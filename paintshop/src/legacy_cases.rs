//! The legacy batch file: first line the number of cases; each case a line `N`, a line `M`,
//! then M lines `T X1 Y1 ...`. Blank lines are ignored.

use crate::legacy_input::{InvalidInput, Limits, legacy_problem};
use crate::problem::Problem;

pub fn parse_cases(text: &str, limits: &Limits) -> Result<Vec<Problem>, InvalidInput> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty());
    let mut next_numbers = |what: &str| -> Result<(usize, Vec<i64>), InvalidInput> {
        let (index, line) = lines
            .next()
            .ok_or_else(|| InvalidInput(format!("file ends where {what} was expected")))?;
        let numbers = line
            .split_whitespace()
            .map(|word| word.parse::<i64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                InvalidInput(format!(
                    "line {}: expected {what}, found {line:?}",
                    index + 1
                ))
            })?;
        Ok((index + 1, numbers))
    };
    let single = |(line, numbers): (usize, Vec<i64>), what: &str| match numbers.as_slice() {
        [value] => Ok(*value),
        _ => Err(InvalidInput(format!(
            "line {line}: expected one number ({what})"
        ))),
    };
    let count = single(next_numbers("the number of cases")?, "the number of cases")?;
    if count < 0 {
        return Err(InvalidInput("the number of cases is negative".into()));
    }
    let mut problems = Vec::new();
    for case in 1..=count {
        let colors = single(next_numbers("N")?, "N")?;
        let customers = single(next_numbers("M")?, "M")?;
        let mut demands = Vec::new();
        for _ in 0..customers.clamp(0, i64::try_from(limits.max_customers).unwrap_or(i64::MAX)) {
            demands.push(next_numbers("a demand line")?.1);
        }
        let problem = legacy_problem(colors, customers, demands, limits)
            .map_err(|error| InvalidInput(format!("case #{case}: {error}")))?;
        problems.push(problem);
    }
    Ok(problems)
}
