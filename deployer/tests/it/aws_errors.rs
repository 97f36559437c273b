//! What dashctl says when AWS cannot be used: invalid specs never reach AWS; missing
//! credentials are one line.

use crate::harness::{Run, free_port};
use crate::moto::Moto;

/// `dashctl args` with credentials and an endpoint where nothing listens: any AWS call would
/// fail with a connection error.
fn unreachable_aws(args: &[&str], endpoint: &str) -> Run {
    Run::new(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_REGION", "us-east-1")
}

#[test]
fn an_invalid_spec_never_calls_aws() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, "app: demo\nenvironment: dev\nservices:\n  web:\n    port: 80\n    scaling: { min: 3, max: 2 }\n").expect("write");
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let spec = spec.to_str().expect("path");
    let commands: [&[&str]; 4] = [
        &["plan", "-f", spec],
        &["deploy", "--env", "aws", "-f", spec],
        &["status", "--env", "aws", "-f", spec],
        &["destroy", "--yes", "-f", spec],
    ];
    for args in commands {
        unreachable_aws(args, &endpoint)
            .exits(2)
            .contains("min (3) is greater than max (2)")
            .lacks("could not reach AWS");
    }
}

#[test]
fn deploy_and_rollback_never_fall_back_to_aws_silently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("spec.yaml");
    let base =
        "app: demo\nenvironment: dev\nservices:\n  web: { port: 80, public: true, image: x }\n";
    std::fs::write(&spec, base).expect("write");
    // Reaching AWS would show as a connection error, not exit 2.
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let spec_path = spec.to_str().expect("path");
    for verb in ["deploy", "rollback"] {
        unreachable_aws(&[verb, "-f", spec_path], &endpoint)
            .exits(2)
            .contains("pass --env aws to");
    }
    // An explicit default in the spec is a choice: it goes to AWS (and fails to reach it here).
    std::fs::write(&spec, format!("default_env: aws\n{base}")).expect("write");
    unreachable_aws(&["deploy", "-f", spec_path], &endpoint)
        .exits(1)
        .contains("could not reach AWS");
}

#[test]
fn missing_credentials_are_explained_in_one_line() {
    let moto = Moto::start();
    let empty = tempfile::NamedTempFile::new().expect("empty AWS config");
    let empty = empty.path().to_str().expect("path");
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/dashboard.yaml");
    let ran = Run::new(&["plan", "-f", spec])
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", empty)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .exits(1);
    let stderr = ran.stderr();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no AWS credentials found"), "{stderr}");
}
