use serde::{Deserialize, Serialize};

/// How one batch of a color is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Finish {
    Glossy,
    Matte,
}

impl Finish {
    /// The legacy wire digit: 0 glossy, 1 matte.
    pub fn digit(self) -> char {
        match self {
            Self::Glossy => '0',
            Self::Matte => '1',
        }
    }
}

/// One customer's likes, already validated: colors are 0-based and below the problem's color
/// count, and at most one like is matte (which is what makes the problem Horn and linear).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Customer {
    pub glossy: Vec<u32>,
    pub matte: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub colors: u32,
    pub customers: Vec<Customer>,
}

impl Problem {
    /// Total number of (color, finish) likes: the instance size the solver is linear in.
    pub fn pairs(&self) -> usize {
        self.customers
            .iter()
            .map(|customer| customer.glossy.len() + usize::from(customer.matte.is_some()))
            .sum()
    }
}

/// The finishes of every color, in color order, or `None` when no choice satisfies everyone.
pub type Solution = Option<Vec<Finish>>;

/// The legacy text answer: `IMPOSSIBLE`, or the finishes as `0`/`1` separated by single spaces.
pub fn legacy_answer(solution: &Solution) -> String {
    match solution {
        None => "IMPOSSIBLE".to_owned(),
        Some(finishes) => {
            let mut text = String::with_capacity(finishes.len() * 2);
            for (index, finish) in finishes.iter().enumerate() {
                if index > 0 {
                    text.push(' ');
                }
                text.push(finish.digit());
            }
            text
        }
    }
}
