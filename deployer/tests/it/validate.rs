//! `dashctl validate` and spec errors at the command line: exit codes and messages.

use crate::harness::{dashctl, text};

fn write(dir: &tempfile::TempDir, yaml: &str) -> String {
    let path = dir.path().join("spec.yaml");
    std::fs::write(&path, yaml).expect("write spec");
    path.display().to_string()
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
        let output = dashctl(&["validate", "-f", &format!("{root}/{spec}")]);
        assert!(output.status.success(), "{spec}: {}", text(&output));
        assert!(text(&output).contains("is valid"));
    }
}

#[test]
fn invalid_specs_exit_2_with_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write(
        &dir,
        "app: demo\nenvironment: dev\nservices:\n  web:\n    port: 80\n    scaling: { min: 3, max: 2 }\n    replicas: 4\n",
    );
    let output = dashctl(&["validate", "-f", &spec]);
    assert_eq!(output.status.code(), Some(2));
    let message = text(&output);
    assert!(
        message.contains(&format!(
            "{spec}:7:5: services.web: unknown field `replicas`"
        )),
        "{message}"
    );
    // The snippet shows the offending line.
    assert!(message.contains("replicas: 4"), "{message}");

    let spec = write(
        &dir,
        "app: demo\nenvironment: dev\nservices:\n  web:\n    port: 80\n    scaling: { min: 3, max: 2 }\n",
    );
    let output = dashctl(&["validate", "-f", &spec]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains(&format!("{spec}:6:21: min (3) is greater than max (2)")),
        "{}",
        text(&output)
    );

    let output = dashctl(&[
        "validate",
        "-f",
        &dir.path().join("missing.yaml").display().to_string(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("cannot read spec"),
        "{}",
        text(&output)
    );
}

#[test]
fn up_refuses_a_spec_without_local_sections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write(
        &dir,
        "app: demo\nenvironment: dev\nservices:\n  web:\n    port: 80\n    public: true\n",
    );
    let output = dashctl(&["up", "-f", &spec]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("service `web` has no `local` section"),
        "{}",
        text(&output)
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(dashctl(&["deploy", "--env", "mars"]).status.code(), Some(2));
    assert_eq!(dashctl(&["frobnicate"]).status.code(), Some(2));
    let help = dashctl(&["--help"]);
    assert!(help.status.success());
    assert!(text(&help).contains("dashctl up"), "{}", text(&help));
}
