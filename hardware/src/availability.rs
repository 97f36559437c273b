use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The legacy cost of one availability computation. It stands for slow, CPU-heavy work and is
/// kept on purpose: the service is designed around it, not by removing it.
pub const LEGACY_COMPUTE_COST: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Availability {
    High,
    Medium,
    Low,
}

impl Availability {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "HIGH",
            Self::Medium => "MEDIUM",
            Self::Low => "LOW",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "HIGH" => Some(Self::High),
            "MEDIUM" => Some(Self::Medium),
            "LOW" => Some(Self::Low),
            _ => None,
        }
    }
}

/// The legacy computation, unchanged in cost and result: it blocks its thread for `cost`, then
/// answers at random. Call it only from a blocking worker, never from an async task.
pub fn slow_process_to_calculate_availability(
    _provider: &str,
    _name: &str,
    cost: Duration,
) -> Availability {
    std::thread::sleep(cost);
    match rand::rng().random_range(0..3) {
        0 => Availability::High,
        1 => Availability::Medium,
        _ => Availability::Low,
    }
}
