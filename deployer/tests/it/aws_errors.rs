//! What dashctl says when AWS cannot be used: invalid specs never reach AWS; missing
//! credentials are one line.

use std::process::{Command, Stdio};

use crate::harness::{DASHCTL, free_port, text};
use crate::moto::Moto;

#[test]
fn an_invalid_spec_never_calls_aws() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, "app: demo\nenvironment: dev\nservices:\n  web:\n    port: 80\n    scaling: { min: 3, max: 2 }\n").expect("write");
    // Nothing listens at this endpoint: any AWS call would fail with a connection error.
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let spec = spec.to_str().expect("path");
    let commands: [&[&str]; 4] = [
        &["plan", "-f", spec],
        &["deploy", "--env", "aws", "-f", spec],
        &["status", "--env", "aws", "-f", spec],
        &["destroy", "--yes", "-f", spec],
    ];
    for args in commands {
        let command = args[0];
        let output = Command::new(DASHCTL)
            .args(args)
            .envs([
                ("AWS_ENDPOINT_URL", endpoint.as_str()),
                ("AWS_ACCESS_KEY_ID", "x"),
                ("AWS_SECRET_ACCESS_KEY", "x"),
                ("AWS_REGION", "us-east-1"),
            ])
            .stdin(Stdio::null())
            .output()
            .expect("dashctl");
        assert_eq!(
            output.status.code(),
            Some(2),
            "{command}: {}",
            text(&output)
        );
        assert!(
            text(&output).contains("min (3) is greater than max (2)"),
            "{command}: {}",
            text(&output)
        );
        assert!(
            !text(&output).contains("could not reach AWS"),
            "{command}: {}",
            text(&output)
        );
    }
}

#[test]
fn deploy_and_rollback_never_fall_back_to_aws_silently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("spec.yaml");
    let base =
        "app: demo\nenvironment: dev\nservices:\n  web: { port: 80, public: true, image: x }\n";
    std::fs::write(&spec, base).expect("write");
    // Nothing listens here: reaching AWS would show as a connection error, not exit 2.
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let run = |args: &[&str]| {
        Command::new(DASHCTL)
            .args(args)
            .envs([
                ("AWS_ENDPOINT_URL", endpoint.as_str()),
                ("AWS_ACCESS_KEY_ID", "x"),
                ("AWS_SECRET_ACCESS_KEY", "x"),
                ("AWS_REGION", "us-east-1"),
            ])
            .stdin(Stdio::null())
            .output()
            .expect("dashctl")
    };
    let spec_path = spec.to_str().expect("path");
    for verb in ["deploy", "rollback"] {
        let output = run(&[verb, "-f", spec_path]);
        assert_eq!(output.status.code(), Some(2), "{verb}: {}", text(&output));
        assert!(
            text(&output).contains("pass --env aws to"),
            "{verb}: {}",
            text(&output)
        );
    }
    // An explicit default in the spec is a choice: it goes to AWS (and fails to reach it here).
    std::fs::write(&spec, format!("default_env: aws\n{base}")).expect("write");
    let output = run(&["deploy", "-f", spec_path]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("could not reach AWS"),
        "{}",
        text(&output)
    );
}

#[test]
fn missing_credentials_are_explained_in_one_line() {
    let moto = Moto::start();
    let empty = tempfile::NamedTempFile::new().expect("empty AWS config");
    let empty = empty.path().to_str().expect("path");
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/dashboard.yaml");
    let output = Command::new(DASHCTL)
        .args(["plan", "-f", spec])
        .envs([
            ("AWS_ENDPOINT_URL", moto.url.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", empty),
            ("AWS_SHARED_CREDENTIALS_FILE", empty),
        ])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .expect("dashctl");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no AWS credentials found"), "{stderr}");
}
