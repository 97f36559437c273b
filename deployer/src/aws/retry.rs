//! Waiting out what AWS does asynchronously or eventually: each retry is bounded, backs off,
//! and says what it waits for.
//!
//! - Deletions settle: a security group, subnet or VPC is `DependencyViolation` while task and
//!   load balancer network interfaces linger (minutes after their owner is gone); a cluster is
//!   `ClusterContainsTasksException` while tasks drain; an elastic IP is in use until its NAT
//!   gateway is gone.
//! - New IAM roles propagate: for a while ECS answers "Role is not valid" and Application Auto
//!   Scaling "Unable to assume IAM role".
//! - EC2 is eventually consistent: a group or subnet created a moment ago can be `*.NotFound`.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::errors::{AwsError, code_of};
use crate::events::{Event, Events};

/// How long a deletion may take to settle before dashctl gives up.
pub const SETTLE: Duration = Duration::from_secs(20 * 60);
/// How long a new IAM role (or service-linked role) may take to be usable.
pub const PROPAGATION: Duration = Duration::from_secs(2 * 60);
/// How long a resource created a moment ago may stay invisible.
pub const CONSISTENCY: Duration = Duration::from_secs(60);

const FIRST_PAUSE: Duration = Duration::from_millis(500);
const LONGEST_PAUSE: Duration = Duration::from_secs(10);

/// Which errors are worth waiting out.
#[derive(Debug, Clone, Copy)]
pub enum Transient {
    /// Deletes blocked by something still going away.
    Settling,
    /// A role created moments ago.
    NewRole,
    /// A resource created moments ago.
    JustCreated,
}

impl Transient {
    pub fn matches(self, error: &AwsError) -> bool {
        let code = error.code.as_str();
        match self {
            Self::Settling => matches!(
                code,
                "DependencyViolation"
                    | "ClusterContainsTasksException"
                    | "ClusterContainsServicesException"
                    | "InvalidIPAddress.InUse"
                    | "ResourceInUse"
                    | "InvalidDBSubnetGroupStateFault"
                    | "InvalidDBInstanceState"
            ),
            Self::NewRole => {
                let message = error.message.to_ascii_lowercase();
                matches!(
                    code,
                    "ClientException" | "InvalidParameterException" | "ValidationException"
                ) && (message.contains("role is not valid")
                    || message.contains("unable to assume")
                    || message.contains("not authorized to perform: iam:passrole"))
            }
            // ELBv2 and ECS carry EC2's code in their own error (InvalidSecurityGroup,
            // SubnetNotFound, InvalidParameterException "... (ErrorCode:
            // InvalidGroup.NotFound)").
            Self::JustCreated => {
                matches!(code, "InvalidSecurityGroup" | "SubnetNotFound")
                    || error.message.contains("InvalidGroup.NotFound")
                    || error.message.contains("InvalidSubnetID.NotFound")
                    || matches!(
                        code,
                        "InvalidGroup.NotFound"
                            | "InvalidSubnetID.NotFound"
                            | "InvalidVpcID.NotFound"
                            | "InvalidRouteTableID.NotFound"
                            | "InvalidAllocationID.NotFound"
                            | "InvalidInternetGatewayID.NotFound"
                            | "InvalidNatGatewayID.NotFound"
                    )
            }
        }
    }

    fn limit(self) -> Duration {
        match self {
            Self::Settling => SETTLE,
            Self::NewRole => PROPAGATION,
            Self::JustCreated => CONSISTENCY,
        }
    }
}

/// Runs `call` until it succeeds, fails with an error that is not `transient`, or the kind's
/// time limit passes. The first wait is announced (an [`Event::Retrying`]) with AWS's reason.
pub async fn until_ok<T, F, Fut>(
    events: &Events,
    what: &str,
    transient: Transient,
    call: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    until_ok_within(events, what, &[transient], transient.limit(), call).await
}

/// Right after a create: waits out both a resource that is not visible yet and a role that is
/// not usable yet.
pub async fn after_create<T, F, Fut>(events: &Events, what: &str, call: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    until_ok_within(
        events,
        what,
        &[Transient::JustCreated, Transient::NewRole],
        PROPAGATION,
        call,
    )
    .await
}

pub async fn until_ok_within<T, F, Fut>(
    events: &Events,
    what: &str,
    transient: &[Transient],
    limit: Duration,
    mut call: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let deadline = Instant::now() + limit;
    let mut pause = FIRST_PAUSE;
    let mut announced = false;
    loop {
        let error = match call().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let Some(aws) =
            code_of(&error).filter(|aws| transient.iter().any(|kind| kind.matches(aws)))
        else {
            return Err(error);
        };
        if Instant::now() + pause > deadline {
            let reason = format!(
                "{what}: still {} after {}",
                aws.code,
                humantime::format_duration(limit)
            );
            return Err(error.context(reason));
        }
        if !announced {
            events.emit(Event::Retrying {
                what: what.to_owned(),
                code: aws.code.clone(),
                message: aws.message.clone(),
                limit,
            });
            announced = true;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// Polls `done` until it says yes, backing off from half a second to ten, for at most `limit`.
/// (The SDK's waiters wait at least 15 s between polls, which is most of a test double's
/// delay and a long time for a person watching.)
pub async fn poll_until<F, Fut>(what: &str, limit: Duration, mut done: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + limit;
    let mut pause = FIRST_PAUSE;
    loop {
        if done().await? {
            return Ok(());
        }
        if Instant::now() + pause > deadline {
            anyhow::bail!(
                "{what}: still not done after {}",
                humantime::format_duration(limit)
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn aws_error(code: &str, message: &str) -> anyhow::Error {
        anyhow::Error::new(AwsError::new("DeleteSubnet", code, message))
    }

    /// A delete that meets a dependency on its first three calls and returns `value` on the
    /// fourth; `calls` counts them.
    async fn settles_on_the_fourth_call<T>(calls: &AtomicUsize, value: T) -> anyhow::Result<T> {
        if calls.fetch_add(1, Ordering::SeqCst) < 3 {
            Err(aws_error("DependencyViolation", "has dependencies"))
        } else {
            Ok(value)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn waits_out_a_dependency_then_succeeds() {
        let calls = AtomicUsize::new(0);
        let result = until_ok(
            &Events::ignored(),
            "delete subnet",
            Transient::Settling,
            || settles_on_the_fourth_call(&calls, 7),
        )
        .await;
        assert_eq!(result.expect("settled"), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_wait_is_announced_once_with_aws_reason() {
        let announced = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = announced.clone();
        let events = Events::new(move |event| {
            if let Event::Retrying { what, code, .. } = event {
                seen.lock().expect("lock").push(format!("{what}: {code}"));
            }
        });
        let calls = AtomicUsize::new(0);
        until_ok(&events, "delete subnet", Transient::Settling, || {
            settles_on_the_fourth_call(&calls, ())
        })
        .await
        .expect("settled");
        assert_eq!(
            *announced.lock().expect("lock"),
            ["delete subnet: DependencyViolation"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_are_not_retried() {
        let calls = AtomicUsize::new(0);
        let error = until_ok(
            &Events::ignored(),
            "delete subnet",
            Transient::Settling,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(aws_error("AccessDenied", "no"))
            },
        )
        .await
        .expect_err("not transient");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(error.to_string().contains("AccessDenied"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_limit_and_says_why() {
        let error = until_ok_within(
            &Events::ignored(),
            "delete VPC",
            &[Transient::Settling],
            Duration::from_secs(30),
            || async { Err::<(), _>(aws_error("DependencyViolation", "has dependencies")) },
        )
        .await
        .expect_err("gave up");
        assert!(
            format!("{error:#}").contains("delete VPC: still DependencyViolation after 30s"),
            "{error:#}"
        );
    }

    #[test]
    fn role_propagation_is_recognised_by_message() {
        assert!(Transient::NewRole.matches(&AwsError::new(
            "RegisterTaskDefinition",
            "ClientException",
            "Role is not valid"
        )));
        assert!(!Transient::NewRole.matches(&AwsError::new(
            "RegisterTaskDefinition",
            "ClientException",
            "Invalid cpu"
        )));
        assert!(Transient::JustCreated.matches(&AwsError::new(
            "AuthorizeSecurityGroupIngress",
            "InvalidGroup.NotFound",
            "no such group"
        )));
        assert!(Transient::JustCreated.matches(&AwsError::new(
            "CreateService",
            "InvalidParameterException",
            "Error retrieving security group information for [sg-1]: The security group 'sg-1' does not exist (ErrorCode: InvalidGroup.NotFound)"
        )));
        assert!(!Transient::JustCreated.matches(&AwsError::new(
            "CreateService",
            "InvalidParameterException",
            "Invalid cpu"
        )));
    }
}
