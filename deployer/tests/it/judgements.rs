//! What a judged release reports in `--output jsonl`, and what both platforms' judgements of
//! a release that answers well have in common.

use serde_json::Value;

use crate::harness::Ran;

/// The `judged` rollout steps, in order.
pub fn judgements(ran: &Ran) -> Vec<Value> {
    ran.json_lines()
        .into_iter()
        .filter(|line| line["event"] == "rollout" && line["step"]["step"] == "judged")
        .map(|line| line["step"].clone())
        .collect()
}

/// Which judgements of a release that answers well must be a pass.
pub enum Passing {
    /// The canary step's (the first); the bake's may find too few requests to judge.
    Canary,
    All,
}

/// Green, answering well over blue, was judged at the end of its canary step and of its bake
/// and never found in breach; those `passing` passed on 10 or more requests without a 5xx,
/// with a p99. The canary's compares with blue's 10 or more requests (the other half).
pub fn assert_green_judged_well(judgements: &[Value], passing: Passing) {
    assert!(judgements.len() >= 2, "canary and bake: {judgements:#?}");
    for judgement in judgements {
        assert_eq!(judgement["color"], "green", "{judgement}");
        assert_ne!(judgement["verdict"]["verdict"], "breach", "{judgement}");
    }
    let passed = match passing {
        Passing::Canary => &judgements[..1],
        Passing::All => judgements,
    };
    for judgement in passed {
        assert_eq!(judgement["verdict"]["verdict"], "pass", "{judgement}");
        assert!(
            judgement["readings"]["requests"].as_u64() >= Some(10),
            "{judgement}"
        );
        assert_eq!(judgement["readings"]["errors_5xx"], 0, "{judgement}");
        assert!(judgement["readings"]["p99_ms"].is_number(), "{judgement}");
    }
    assert!(
        judgements[0]["live_readings"]["requests"].as_u64() >= Some(10),
        "blue served the other half: {judgements:#?}"
    );
}
