//! `dashctl validate` and spec errors at the command line: exit codes and messages.

use crate::harness::Run;

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
        Run::new(&["validate", "-f", &format!("{root}/{spec}")])
            .succeeds()
            .contains("is valid");
    }
}

#[test]
fn invalid_specs_exit_2_with_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write(
        &dir,
        "app: demo\nenvironment: dev\nservices:\n  web:\n    port: 80\n    scaling: { min: 3, max: 2 }\n    replicas: 4\n",
    );
    Run::new(&["validate", "-f", &spec])
        .exits(2)
        .contains(&format!(
            "{spec}:7:5: services.web: unknown field `replicas`"
        ))
        // The snippet shows the offending line.
        .contains("replicas: 4");

    let spec = write(
        &dir,
        "app: demo\nenvironment: dev\nservices:\n  web:\n    port: 80\n    scaling: { min: 3, max: 2 }\n",
    );
    Run::new(&["validate", "-f", &spec])
        .exits(2)
        .contains(&format!("{spec}:6:21: min (3) is greater than max (2)"));

    let missing = dir.path().join("missing.yaml").display().to_string();
    Run::new(&["validate", "-f", &missing])
        .exits(2)
        .contains("cannot read spec");
}

#[test]
fn up_refuses_a_spec_without_local_sections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write(
        &dir,
        "app: demo\nenvironment: dev\nservices:\n  web:\n    port: 80\n    public: true\n",
    );
    Run::new(&["up", "-f", &spec])
        .exits(2)
        .contains("service `web` has no `local` section");
}

#[test]
fn usage_errors_exit_2() {
    Run::new(&["deploy", "--env", "mars"]).exits(2);
    Run::new(&["frobnicate"]).exits(2);
    Run::new(&["--help"])
        .succeeds()
        .stdout_contains("dashctl up");
}
