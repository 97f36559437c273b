//! Waiting for new tasks to be healthy behind their load balancer before a deploy reports
//! success. Pluggable: against a test double that never registers targets (moto), set
//! `DASHCTL_HEALTH_GATE=off`; dashctl then warns on every use and does not wait.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// One thing to wait for: a target group that must have `expected` healthy targets.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub service: String,
    pub target_group_arn: String,
    pub expected: usize,
}

pub trait TargetHealth: Sync {
    /// (healthy, total) registered targets.
    fn count(
        &self,
        target_group_arn: &str,
    ) -> impl Future<Output = anyhow::Result<(usize, usize)>> + Send;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Wait { timeout: Duration, poll: Duration },
    Off,
}

impl Gate {
    /// `DASHCTL_HEALTH_GATE=off` turns waiting off; anything else waits.
    pub fn from_env(timeout: Duration) -> Self {
        match std::env::var("DASHCTL_HEALTH_GATE").as_deref() {
            Ok("off") => {
                eprintln!(
                    "warning: DASHCTL_HEALTH_GATE=off: not waiting for target health. This is for test doubles only; real deploys must wait."
                );
                Self::Off
            }
            _ => Self::Wait {
                timeout,
                poll: Duration::from_secs(5),
            },
        }
    }
}

pub async fn wait_all<T: TargetHealth>(
    gate: Gate,
    source: &T,
    wanted: &[Wanted],
) -> anyhow::Result<()> {
    let Gate::Wait { timeout, poll } = gate else {
        return Ok(());
    };
    let deadline = Instant::now() + timeout;
    loop {
        let mut waiting = Vec::new();
        for want in wanted {
            let (healthy, total) = source.count(&want.target_group_arn).await?;
            if healthy < want.expected {
                waiting.push(format!(
                    "{}: {healthy}/{} healthy ({total} registered)",
                    want.service, want.expected
                ));
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "targets did not become healthy within {}: {}",
                humantime::format_duration(timeout),
                waiting.join(", ")
            );
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    struct Fake {
        polls: Mutex<usize>,
        healthy_after: usize,
    }

    impl TargetHealth for Fake {
        async fn count(&self, _: &str) -> anyhow::Result<(usize, usize)> {
            let mut polls = self.polls.lock().expect("lock");
            *polls += 1;
            Ok(if *polls > self.healthy_after {
                (2, 2)
            } else {
                (0, 2)
            })
        }
    }

    fn wanted() -> Vec<Wanted> {
        vec![Wanted {
            service: "portal".into(),
            target_group_arn: "arn".into(),
            expected: 2,
        }]
    }

    fn gate(timeout_ms: u64) -> Gate {
        Gate::Wait {
            timeout: Duration::from_millis(timeout_ms),
            poll: Duration::from_millis(5),
        }
    }

    #[tokio::test]
    async fn waits_until_targets_are_healthy() {
        let fake = Fake {
            polls: Mutex::new(0),
            healthy_after: 3,
        };
        wait_all(gate(1000), &fake, &wanted())
            .await
            .expect("healthy");
        assert_eq!(*fake.polls.lock().expect("lock"), 4);
    }

    #[tokio::test]
    async fn gives_up_with_a_clear_reason() {
        let fake = Fake {
            polls: Mutex::new(0),
            healthy_after: usize::MAX,
        };
        let error = wait_all(gate(30), &fake, &wanted())
            .await
            .expect_err("never healthy");
        assert!(
            error
                .to_string()
                .contains("portal: 0/2 healthy (2 registered)"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn off_does_not_ask() {
        let fake = Fake {
            polls: Mutex::new(0),
            healthy_after: usize::MAX,
        };
        wait_all(Gate::Off, &fake, &wanted())
            .await
            .expect("not waiting");
        assert_eq!(*fake.polls.lock().expect("lock"), 0);
    }
}
