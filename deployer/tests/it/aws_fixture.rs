//! What AWS tests start from: one of the project's specs (as it is, or with test-sized waits)
//! deployed once on a fresh double.

use crate::harness::{Ran, Run};
use crate::moto::Moto;

/// Portal's `deploy:` for a release that switches at once and does not bake.
pub const ALL_AT_ONCE: &str =
    "deploy: { strategy: all-at-once, bake: 0s, auto_rollback: true, health_timeout: 8s }";

/// A spec file for `dashctl -f`.
pub struct Spec {
    pub path: String,
    _dir: Option<tempfile::TempDir>,
}

impl Spec {
    /// A spec of the repository as it is (`config/dashboard.yaml`).
    pub fn project(relative: &str) -> Self {
        Self {
            path: format!("{}/../{relative}", env!("CARGO_MANIFEST_DIR")),
            _dir: None,
        }
    }

    /// `yaml` in a temporary `file_name`.
    pub fn written(file_name: &str, yaml: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(file_name);
        std::fs::write(&path, yaml).expect("write spec");
        Self {
            path: path.display().to_string(),
            _dir: Some(dir),
        }
    }

    pub fn yaml(&self) -> String {
        std::fs::read_to_string(&self.path).expect("spec")
    }

    /// config/dashboard.yaml with test-sized waits, portal with the `deploy:` policy given.
    pub fn dashboard(portal_deploy: &str) -> Self {
        Self::written("dashboard.yaml", &dashboard_yaml(portal_deploy))
    }
}

/// The text of `Spec::dashboard`, for a test that changes more of it.
pub fn dashboard_yaml(portal_deploy: &str) -> String {
    let yaml = Spec::project("config/dashboard.yaml").yaml();
    let yaml = replaced(
        &yaml,
        "deploy: { strategy: all-at-once, bake: 30s, auto_rollback: true, health_timeout: 5m }",
        portal_deploy,
    );
    replaced(
        &yaml,
        "deploy: { bake: 10s, health_timeout: 5m }",
        "deploy: { bake: 0s, health_timeout: 8s }",
    )
}

/// `yaml` with `from` replaced by `to`. A `from` that is not there fails the test: the project
/// spec changed shape, and the test must follow.
pub fn replaced(yaml: &str, from: &str, to: &str) -> String {
    assert!(
        yaml.contains(from),
        "the spec no longer says `{from}`; update this test"
    );
    yaml.replace(from, to)
}

/// A spec deployed on a double of its own.
pub struct Deployed {
    pub moto: Moto,
    pub spec: Spec,
    /// What the deploy printed.
    pub deploy: Ran,
}

impl Deployed {
    pub fn new(spec: Spec) -> Self {
        Self::on(Moto::start(), spec)
    }

    /// `spec` deployed on `moto`, which may hold something already.
    pub fn on(moto: Moto, spec: Spec) -> Self {
        let deploy = moto
            .run(&["deploy", "--env", "aws", "-f", &spec.path])
            .succeeds();
        Self { moto, spec, deploy }
    }

    /// `dashctl args... -f <the spec>` against this double.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend(["-f", self.spec.path.as_str()]);
        self.moto.run(&all)
    }

    /// `dashctl plan`, which succeeds.
    pub fn plan(&self) -> Ran {
        self.run(&["plan"]).succeeds()
    }

    /// `deploy --env aws --image SERVICE=IMAGE`: a release of a new image.
    pub fn release(&self, service_image: &str) -> Run {
        self.run(&["deploy", "--env", "aws", "--image", service_image])
    }

    /// `dashctl status --env aws` as JSON.
    pub fn status(&self) -> serde_json::Value {
        self.run(&["status", "--env", "aws", "--output", "json"])
            .succeeds()
            .json()
    }
}
