//! The smoke test: the spec's command run against the new color through its test route, the
//! gate between "healthy" and any production traffic. It is told where to call and what to send
//! through its environment; a non-zero exit, a signal or running out of time fails it, and the
//! failure says how and ends with the last of what it printed.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::{ChildStderr, ChildStdout};
use tokio_util::sync::CancellationToken;

use super::{Color, TEST_HEADER};

/// `deploy.smoke_test` of one service, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmokeTest {
    pub command: Vec<String>,
    pub timeout: Duration,
    /// Where it runs: the spec's `local.workdir`, relative to the spec file.
    pub workdir: PathBuf,
}

/// What is kept of its output for the failure message.
const KEPT_BYTES: usize = 16 * 1024;
const KEPT_LINES: usize = 10;
/// How long its output is still read after it ended (something it started in the background
/// may hold its output open).
const OUTPUT_GRACE: Duration = Duration::from_secs(1);

impl SmokeTest {
    fn shown(&self) -> String {
        self.command.join(" ")
    }

    /// Runs it against `color` of `service`, reachable at `url` with the test header. Err: why
    /// it failed, in one sentence for the rollout's "abandoned (...)" message.
    pub async fn run(
        &self,
        service: &str,
        color: Color,
        url: &str,
        cancel: &CancellationToken,
    ) -> Result<(), String> {
        let Some((program, args)) = self.command.split_first() else {
            return Err("the smoke test names no program to run".to_owned());
        };
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .current_dir(&self.workdir)
            .env("DASHCTL_TEST_URL", url)
            .env("DASHCTL_TEST_HEADER", format!("{TEST_HEADER}: {color}"))
            .env("DASHCTL_SERVICE", service)
            .env("DASHCTL_COLOR", color.as_str())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| {
                format!(
                    "could not start the smoke test `{}` in {}: {error}",
                    self.shown(),
                    self.workdir.display()
                )
            })?;
        let output = tokio::spawn(tail(child.stdout.take(), child.stderr.take()));
        let ended = tokio::select! {
            status = child.wait() => Some(status),
            () = tokio::time::sleep(self.timeout) => None,
            () = cancel.cancelled() => None,
        };
        let status = match ended {
            Some(status) => status.map_err(|error| format!("waiting for the smoke test: {error}")),
            None => {
                // Not yet reaped, so its process group cannot have been reused: everything it
                // started goes with it.
                if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                }
                let _ = child.wait().await;
                Err(if cancel.is_cancelled() {
                    "interrupted during the smoke test".to_owned()
                } else {
                    format!(
                        "smoke test `{}` did not finish within {} and was killed",
                        self.shown(),
                        humantime::format_duration(self.timeout)
                    )
                })
            }
        };
        let printed = match tokio::time::timeout(OUTPUT_GRACE, output).await {
            Ok(Ok(text)) => text,
            _ => String::new(),
        };
        let failure = match status {
            Ok(status) if status.success() => {
                tracing::debug!(service, %color, "smoke test passed; it printed: {printed}");
                return Ok(());
            }
            Ok(status) => format!("smoke test `{}` {}", self.shown(), described(status)),
            Err(reason) => reason,
        };
        Err(if printed.is_empty() {
            format!("{failure}; it printed nothing")
        } else {
            format!("{failure}; its output ended: {printed}")
        })
    }
}

fn described(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("ended with {status}"),
    }
}

/// The last lines of everything read from stdout and stderr until both end, in the order the
/// reads returned, joined with ` | ` (a sentence must stay one line).
async fn tail(mut stdout: Option<ChildStdout>, mut stderr: Option<ChildStderr>) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut keep = |chunk: &[u8]| {
        kept.extend_from_slice(chunk);
        if kept.len() > KEPT_BYTES {
            kept.drain(..kept.len() - KEPT_BYTES);
        }
    };
    let (mut out_chunk, mut err_chunk) = ([0_u8; 4096], [0_u8; 4096]);
    loop {
        tokio::select! {
            read = async { stdout.as_mut()?.read(&mut out_chunk).await.ok() }, if stdout.is_some() => {
                match read {
                    Some(read) if read > 0 => keep(&out_chunk[..read]),
                    _ => stdout = None,
                }
            }
            read = async { stderr.as_mut()?.read(&mut err_chunk).await.ok() }, if stderr.is_some() => {
                match read {
                    Some(read) if read > 0 => keep(&err_chunk[..read]),
                    _ => stderr = None,
                }
            }
            else => break,
        }
    }
    last_lines(&String::from_utf8_lossy(&kept))
}

fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(KEPT_LINES)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smoke(script: &str, timeout: Duration) -> SmokeTest {
        SmokeTest {
            command: vec!["bash".into(), "-c".into(), script.into()],
            timeout,
            workdir: PathBuf::from("."),
        }
    }

    async fn run(test: &SmokeTest) -> Result<(), String> {
        test.run(
            "portal",
            Color::Green,
            "http://127.0.0.1:8080",
            &CancellationToken::new(),
        )
        .await
    }

    #[tokio::test]
    async fn it_is_told_where_to_call_and_what_to_send() {
        let test = smoke(
            r#"[ "$DASHCTL_TEST_URL" = http://127.0.0.1:8080 ] && [ "$DASHCTL_TEST_HEADER" = "X-Dashctl-Color: green" ] && [ "$DASHCTL_SERVICE" = portal ] && [ "$DASHCTL_COLOR" = green ]"#,
            Duration::from_secs(30),
        );
        run(&test).await.expect("the environment as documented");
    }

    #[tokio::test]
    async fn a_failure_names_its_status_and_the_end_of_its_output() {
        let test = smoke(
            "for i in $(seq 1 30); do echo line $i; done; sleep 0.3; echo 'GET / -> 500' >&2; exit 3",
            Duration::from_secs(30),
        );
        let reason = run(&test).await.expect_err("exit 3");
        assert!(reason.contains("exited with status 3"), "{reason}");
        // stdout and stderr come through two pipes, read in the order reads return: the pause
        // makes the stderr line the last one read.
        let (_, tail) = reason.split_once("its output ended: ").expect("a tail");
        let kept: Vec<&str> = tail.split(" | ").collect();
        assert_eq!(kept.len(), 10, "{reason}");
        assert_eq!(
            kept.first(),
            Some(&"line 22"),
            "only the last lines: {reason}"
        );
        assert_eq!(kept.last(), Some(&"GET / -> 500"), "{reason}");
        let silent = run(&smoke("exit 1", Duration::from_secs(30)))
            .await
            .expect_err("exit 1");
        assert!(
            silent.ends_with("exited with status 1; it printed nothing"),
            "{silent}"
        );
    }

    #[tokio::test]
    async fn one_that_runs_too_long_is_killed_with_what_it_started() {
        let test = smoke("echo started; sleep 600 & wait", Duration::from_millis(300));
        let reason = run(&test).await.expect_err("timed out");
        assert!(
            reason
                .contains("did not finish within 300ms and was killed; its output ended: started"),
            "{reason}"
        );
    }

    #[tokio::test]
    async fn a_program_that_does_not_exist_says_so() {
        let test = SmokeTest {
            command: vec!["./no-such-smoke-test".into()],
            timeout: Duration::from_secs(5),
            workdir: PathBuf::from("."),
        };
        let reason = run(&test).await.expect_err("missing");
        assert!(
            reason.starts_with("could not start the smoke test `./no-such-smoke-test` in ."),
            "{reason}"
        );
    }
}
