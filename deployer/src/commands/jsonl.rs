//! Events as JSON lines, for CI: one object per event on stdout and nothing else there, then
//! one `result` object saying how the command ended and with which exit code.

use std::io::Write;

use serde::Serialize;

use super::Failure;
use crate::events::Events;

/// A sink that writes every event as one line of JSON.
pub fn events() -> Events {
    Events::new(|event| line(&event))
}

/// The last line: `{"event":"result","ok":true,"exit_code":0}`, or with `failure` (its kind)
/// and `error` (its message) when the command failed.
#[derive(Debug, Serialize)]
struct Finished {
    event: &'static str,
    ok: bool,
    exit_code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn result(result: &Result<(), Failure>) {
    line(&finished(result));
}

fn finished(result: &Result<(), Failure>) -> Finished {
    match result {
        Ok(()) => Finished {
            event: "result",
            ok: true,
            exit_code: 0,
            failure: None,
            error: None,
        },
        Err(failure) => Finished {
            event: "result",
            ok: false,
            exit_code: failure.exit_code(),
            failure: Some(failure.kind()),
            error: Some(failure.message()),
        },
    }
}

/// Whole lines only, flushed at once: a reader sees each event when it happens. A closed
/// stdout (the reader went away) is not this command's failure: the work goes on.
fn line(value: &impl Serialize) {
    let Ok(mut text) = serde_json::to_vec(value) else {
        return;
    };
    text.push(b'\n');
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&text).and_then(|()| stdout.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_line_carries_the_exit_code_and_the_error() {
        let failure = Err(Failure::Reverted(anyhow::anyhow!(
            "portal: green did not become healthy"
        )));
        assert_eq!(
            serde_json::to_value(finished(&failure)).expect("json"),
            serde_json::json!({
                "event": "result",
                "ok": false,
                "exit_code": 3,
                "failure": "reverted",
                "error": "portal: green did not become healthy",
            })
        );
        assert_eq!(
            serde_json::to_value(finished(&Ok(()))).expect("json"),
            serde_json::json!({"event": "result", "ok": true, "exit_code": 0})
        );
    }
}
