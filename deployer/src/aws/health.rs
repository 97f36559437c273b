//! Waiting for new tasks to be healthy behind their load balancer before a deploy reports
//! success. There is no way to switch this off: the tests run against a double that registers
//! tasks as targets and reports their health as AWS does.

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

/// How often target health is read while waiting.
pub const POLL: Duration = Duration::from_secs(2);

pub async fn wait_all<T: TargetHealth>(
    timeout: Duration,
    poll: Duration,
    source: &T,
    wanted: &[Wanted],
) -> anyhow::Result<()> {
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

    impl Fake {
        fn healthy_after(polls: usize) -> Self {
            Self {
                polls: Mutex::new(0),
                healthy_after: polls,
            }
        }

        /// Waits for portal's two targets, polling every 5 ms for at most `limit`.
        async fn wait(&self, limit: Duration) -> anyhow::Result<()> {
            let wanted = [Wanted {
                service: "portal".into(),
                target_group_arn: "arn".into(),
                expected: 2,
            }];
            wait_all(limit, Duration::from_millis(5), self, &wanted).await
        }
    }

    #[tokio::test]
    async fn waits_until_targets_are_healthy() {
        let fake = Fake::healthy_after(3);
        fake.wait(Duration::from_secs(1)).await.expect("healthy");
        assert_eq!(*fake.polls.lock().expect("lock"), 4);
    }

    #[tokio::test]
    async fn gives_up_with_a_clear_reason() {
        let error = Fake::healthy_after(usize::MAX)
            .wait(Duration::from_millis(30))
            .await
            .expect_err("never healthy");
        assert!(
            error
                .to_string()
                .contains("portal: 0/2 healthy (2 registered)"),
            "{error}"
        );
    }
}
