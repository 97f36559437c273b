//! The AWS test double (one per test, or one that several tests share), and the SDK
//! configuration that points at it: moto, made to behave as AWS does where it matters to
//! dashctl by `tests/aws-double/aws_double.py` (targets that turn healthy, or not, services
//! that drain, interfaces that linger, roles that propagate, ...).
//! The python with moto installed comes from DASHCTL_MOTO_PYTHON (scripts/test sets it up with
//! scripts/moto-venv) or the repository's .venv/moto.

use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};

use crate::harness::{DASHCTL, Run, free_port};

pub struct Moto {
    child: Child,
    /// Never written: the double exits when this pipe closes, which the operating system does
    /// when the test process ends. That stops a double no `Drop` ever stops (one kept in a
    /// `static`, shared by several tests) and one left by a test process that was killed.
    _lifeline: ChildStdin,
    pub url: String,
}

/// The python with moto (and boto3) installed.
pub fn python() -> PathBuf {
    if let Ok(path) = std::env::var("DASHCTL_MOTO_PYTHON") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../.venv/moto/bin/python"
    ));
    assert!(
        venv.exists(),
        "moto is not installed: run scripts/moto-venv (scripts/test does) or set DASHCTL_MOTO_PYTHON"
    );
    venv
}

impl Moto {
    pub fn start() -> Self {
        let port = free_port();
        let mut child = Command::new(python())
            .args([
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/aws-double/aws_double.py"
                ),
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            // The ECS execution role attaches an AWS managed policy.
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .env("DOUBLE_STOP_WHEN_STDIN_CLOSES", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting moto");
        let lifeline = child.stdin.take().expect("the double's stdin is piped");
        let moto = Self {
            child,
            _lifeline: lifeline,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the AWS double did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// `dashctl args` against this moto, for `Run`'s checks.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::with(self.command(args))
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(DASHCTL);
        command
            .args(args)
            .envs([
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL", self.url.as_str()),
                ("AWS_EC2_METADATA_DISABLED", "true"),
                ("AWS_CONFIG_FILE", "/dev/null"),
                ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
                ("NO_COLOR", "1"),
            ])
            .env_remove("AWS_PROFILE")
            .env_remove("DASHCTL_HEALTH_GATE")
            .stdin(Stdio::null());
        command
    }

    pub async fn config(&self) -> aws_config::SdkConfig {
        // The double throttles Describe calls as AWS does (R10); the tests' own reads share
        // that budget with the dashctl they watch, so they back off and retry as dashctl does.
        aws_config::defaults(BehaviorVersion::latest())
            .retry_config(aws_config::retry::RetryConfig::adaptive().with_max_attempts(8))
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
