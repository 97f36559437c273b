//! `dashctl validate` and spec errors at the command line: exit codes and messages.

use crate::harness::{Ran, Run};

/// `dashctl verb -f SPEC`, SPEC holding `yaml`, which it refuses (exit 2): what it printed, and
/// SPEC's path (messages start with it).
fn refused(verb: &str, yaml: &str) -> (Ran, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, yaml).expect("write spec");
    let spec = spec.display().to_string();
    (Run::new(&[verb, "-f", &spec]).exits(2), spec)
}

#[test]
fn project_specs_validate() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for spec in [
        "config/dashboard.yaml",
        "config/paintshop.yaml",
        "examples/minimal.yaml",
        "examples/https.yaml",
    ] {
        Run::new(&["validate", "-f", &format!("{root}/{spec}")])
            .succeeds()
            .contains("is valid");
    }
}

#[test]
fn invalid_specs_exit_2_with_file_line_and_column() {
    let (ran, spec) = refused(
        "validate",
        "app: demo\nenvironment: dev\nservices:\n  web:\n    port: 80\n    scaling: { min: 3, max: 2 }\n    replicas: 4\n",
    );
    ran.contains(&format!(
        "{spec}:7:5: services.web: unknown field `replicas`"
    ))
    // The snippet shows the offending line.
    .contains("replicas: 4");

    let (ran, spec) = refused(
        "validate",
        "app: demo\nenvironment: dev\nservices:\n  web:\n    port: 80\n    scaling: { min: 3, max: 2 }\n",
    );
    ran.contains(&format!("{spec}:6:21: min (3) is greater than max (2)"));

    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.yaml").display().to_string();
    Run::new(&["validate", "-f", &missing])
        .exits(2)
        .contains("cannot read spec");
}

#[test]
fn up_refuses_a_spec_without_local_sections() {
    let (ran, _) = refused(
        "up",
        "app: demo\nenvironment: dev\nservices:\n  web:\n    port: 80\n    public: true\n",
    );
    ran.contains("service `web` has no `local` section");
}

#[test]
fn usage_errors_exit_2() {
    Run::new(&["deploy", "--env", "mars"]).exits(2);
    Run::new(&["frobnicate"]).exits(2);
    Run::new(&["--help"])
        .succeeds()
        .stdout_contains("dashctl up");
    Run::new(&["deploy", "--output", "yaml"]).exits(2);
}

#[test]
fn deploy_and_rollback_help_teach_their_exit_codes() {
    for verb in ["deploy", "rollback"] {
        Run::new(&[verb, "--help"])
            .succeeds()
            .stdout_contains("- jsonl: For CI: one JSON object per line on stdout")
            .stdout_contains("2  invalid spec or command line")
            .stdout_contains("3  the release failed and was abandoned or rolled back")
            .stdout_contains("4  the release failed and traffic could not be moved back");
    }
}

#[test]
fn judge_limits_that_cannot_be_met_exit_2_saying_which() {
    let (ran, spec) = refused(
        "deploy",
        "app: demo\nenvironment: dev\nservices:\n  web:\n    port: 80\n    deploy:\n      judge: { max_5xx_rate: 120%, min_requests: 0 }\n",
    );
    // The terminal renderer wraps long messages: each is checked up to where it may wrap.
    ran.contains(&format!("{spec}:7:30: max_5xx_rate must be at least"))
        .contains("a breach is a 5xx share above it")
        .contains(&format!("{spec}:7:50: min_requests must be at least 1"));
    let (ran, _) = refused(
        "validate",
        "app: demo\nenvironment: dev\nservices:\n  web:\n    port: 80\n    deploy:\n      judge: { max_p99: 0.5 }\n",
    );
    ran.contains("services.web.deploy.judge: expected a")
        .lacks("is valid");
}
