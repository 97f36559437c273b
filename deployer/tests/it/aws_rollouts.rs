//! Blue/green on AWS (moto): a new image goes to the idle color and the listener follows;
//! canary weights step up; rollback; a release that never gets healthy stays off; the lock.

use std::time::Duration;

use crate::harness::text;
use crate::moto::Moto;

/// config/dashboard.yaml with test-sized waits.
fn spec(dir: &tempfile::TempDir, portal_deploy: &str) -> String {
    let original = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/dashboard.yaml"
    ))
    .expect("spec");
    let yaml = original
        .replace(
            "deploy: { strategy: all-at-once, bake: 30s, auto_rollback: true, health_timeout: 5m }",
            portal_deploy,
        )
        .replace(
            "deploy: { bake: 10s, health_timeout: 5m }",
            "deploy: { bake: 0s, health_timeout: 8s }",
        );
    assert_ne!(
        yaml, original,
        "config/dashboard.yaml changed shape; update this test"
    );
    let path = dir.path().join("dashboard.yaml");
    std::fs::write(&path, yaml).expect("write spec");
    path.display().to_string()
}

const ALL_AT_ONCE: &str =
    "deploy: { strategy: all-at-once, bake: 0s, auto_rollback: true, health_timeout: 8s }";

/// What every rollout test starts from: the dashboard deployed once on a fresh moto, portal
/// with the `deploy:` policy given.
struct Deployed {
    moto: Moto,
    aws: Aws,
    spec: String,
    _dir: tempfile::TempDir,
}

impl Deployed {
    async fn new(portal_deploy: &str) -> Self {
        let moto = Moto::start();
        let aws = Aws::new(&moto).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = spec(&dir, portal_deploy);
        moto.run(&["deploy", "--env", "aws", "-f", &spec])
            .succeeds();
        Self {
            moto,
            aws,
            spec,
            _dir: dir,
        }
    }
}

struct Aws {
    elb: aws_sdk_elasticloadbalancingv2::Client,
    ssm: aws_sdk_ssm::Client,
}

impl Aws {
    async fn new(moto: &Moto) -> Self {
        let config = moto.config().await;
        Self {
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
        }
    }

    /// Polls the public listener until `done` holds for its weights (30 s at most).
    async fn wait_for_weights(&self, what: &str, done: impl Fn(&[(String, i32)]) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !done(&self.listener_weights().await) {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting until {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The public listener's target groups by name, with their weights.
    async fn listener_weights(&self) -> Vec<(String, i32)> {
        let balancers = self
            .elb
            .describe_load_balancers()
            .names("dashboard-prod-public")
            .send()
            .await
            .expect("lb");
        let arn = balancers.load_balancers()[0]
            .load_balancer_arn()
            .expect("arn");
        let listeners = self
            .elb
            .describe_listeners()
            .load_balancer_arn(arn)
            .send()
            .await
            .expect("listeners");
        let groups = self
            .elb
            .describe_target_groups()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .expect("tgs");
        let name = |arn: &str| {
            groups
                .iter()
                .find(|group| group.target_group_arn() == Some(arn))
                .and_then(|group| group.target_group_name())
                .unwrap_or_default()
                .to_owned()
        };
        // dashctl always sends a ForwardConfig with both colors (the idle one at weight 0).
        let action = &listeners.listeners()[0].default_actions()[0];
        let mut weights: Vec<(String, i32)> = action
            .forward_config()
            .expect("a forward config")
            .target_groups()
            .iter()
            .map(|group| {
                (
                    name(group.target_group_arn().unwrap_or_default()),
                    group.weight().unwrap_or(0),
                )
            })
            .collect();
        weights.sort();
        weights
    }
}

fn blue_live() -> Vec<(String, i32)> {
    vec![
        ("dashboard-prod-portal-blue".to_owned(), 100),
        ("dashboard-prod-portal-green".to_owned(), 0),
    ]
}

fn green_live() -> Vec<(String, i32)> {
    vec![
        ("dashboard-prod-portal-blue".to_owned(), 0),
        ("dashboard-prod-portal-green".to_owned(), 100),
    ]
}

/// Starts `deploy --image portal=example/portal:v2` in the background, output captured.
fn start_v2(moto: &Moto, spec: &str) -> std::process::Child {
    moto.command(&[
        "deploy",
        "--env",
        "aws",
        "-f",
        spec,
        "--image",
        "portal=example/portal:v2",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("deploy")
}

fn status(moto: &Moto, spec: &str) -> serde_json::Value {
    let output = moto
        .run(&["status", "--env", "aws", "-f", spec, "--output", "json"])
        .succeeds()
        .output;
    serde_json::from_slice(&output.stdout).expect("status json")
}

fn portal(status: &serde_json::Value) -> serde_json::Value {
    status["services"]
        .as_array()
        .and_then(|all| all.iter().find(|service| service["name"] == "portal"))
        .cloned()
        .expect("portal")
}

fn color<'a>(portal: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    portal["colors"]
        .as_array()
        .and_then(|all| all.iter().find(|color| color["color"] == name))
        .expect(name)
}

#[tokio::test]
async fn new_images_go_to_the_idle_color_and_rollback_returns() {
    let Deployed {
        moto,
        aws,
        spec,
        _dir,
    } = Deployed::new(ALL_AT_ONCE).await;
    assert_eq!(aws.listener_weights().await, blue_live());

    // --dry-run says what would happen and changes nothing.
    let dry = moto
        .run(&[
            "deploy",
            "--env",
            "aws",
            "-f",
            &spec,
            "--image",
            "portal=example/portal:v2",
            "--dry-run",
        ])
        .succeeds();
    for line in [
        "Rollout of portal (blue is live):",
        "  - start dashboard-prod-portal-green with example/portal:v2 at the live color's task count",
        "  - switch dashboard-prod-public:80 to green and move autoscaling to it",
        "  - scale dashboard-prod-portal-blue to 0 (kept for rollback)",
        "Dry run: nothing was changed.",
    ] {
        dry.stdout_contains(line);
    }
    assert_eq!(aws.listener_weights().await, blue_live());

    // v2 goes to green; the listener and autoscaling follow; blue is kept at zero.
    moto.run(&[
        "deploy",
        "--env",
        "aws",
        "-f",
        &spec,
        "--image",
        "portal=example/portal:v2",
    ])
    .succeeds()
    .stdout_contains("portal: live on green (was blue)")
    .stdout_contains("1 rolled out");
    assert_eq!(aws.listener_weights().await, green_live());
    let now = portal(&status(&moto, &spec));
    assert_eq!(now["live_color"], "green");
    assert_eq!(now["image"], "example/portal:v2");
    assert_eq!(color(&now, "green")["desired"], 2);
    assert_eq!(color(&now, "green")["weight"], 100);
    assert_eq!(color(&now, "blue")["desired"], 0);
    assert_eq!(
        color(&now, "blue")["image"],
        "ghcr.io/example/dashctl-portal:latest"
    );
    assert_eq!(now["scaling"]["min"], 2, "autoscaling moved to green");
    // The plan agrees with what runs: nothing to do.
    // (The spec still says :latest.)
    moto.run(&["plan", "-f", &spec])
        .succeeds()
        .stdout_contains("task definition dashboard-prod-portal");
    moto.run(&[
        "deploy",
        "--env",
        "aws",
        "-f",
        &spec,
        "--image",
        "portal=example/portal:v2",
        "--dry-run",
    ])
    .succeeds()
    .stdout_contains("No changes.");

    // Rollback: blue (the previous release) is scaled up and takes the traffic back.
    // Without --service: every service that has an earlier release (hardware has none).
    moto.run(&["rollback", "--env", "aws", "-f", &spec])
        .succeeds()
        .stdout_contains("hardware: nothing to roll back to (green has no earlier release)")
        .stdout_contains("portal: live on blue (was green)");
    assert_eq!(aws.listener_weights().await, blue_live());
    let now = portal(&status(&moto, &spec));
    assert_eq!(now["live_color"], "blue");
    assert_eq!(now["image"], "ghcr.io/example/dashctl-portal:latest");
    assert_eq!(color(&now, "blue")["desired"], 2);
    assert_eq!(color(&now, "green")["desired"], 0);
    let plan = moto.run(&["plan", "-f", &spec]).succeeds();
    assert_eq!(plan.stdout(), "No changes.\n", "{}", plan.text());

    // A release that never becomes healthy (the double fails the health checks of images
    // named `unhealthy`): blue keeps all traffic and green goes back to zero.
    moto.run(&[
        "deploy",
        "--env",
        "aws",
        "-f",
        &spec,
        "--image",
        "portal=example/portal:v3-unhealthy",
    ])
    .exits(1)
    .contains("green did not become healthy within 8s; blue still serves all traffic");
    assert_eq!(aws.listener_weights().await, blue_live());
    let now = portal(&status(&moto, &spec));
    assert_eq!(now["image"], "ghcr.io/example/dashctl-portal:latest");
    assert_eq!(color(&now, "green")["desired"], 0);
    assert_eq!(
        color(&now, "green")["image"],
        "example/portal:v2",
        "green keeps its last good release"
    );

    // The lock: a held lock stops a second rollout with a clear message.
    aws.ssm
        .put_parameter()
        .name("/dashctl/dashboard/prod/rollout-lock")
        .value("deploy by someone@elsewhere (pid 42)")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .expect("take the lock");
    moto.run(&[
        "deploy",
        "--env",
        "aws",
        "-f",
        &spec,
        "--image",
        "portal=example/portal:v2",
    ])
    .exits(1)
    .contains("another deploy, rollback or destroy of dashboard (prod) is in progress: deploy by someone@elsewhere (pid 42)");
    assert!(
        status(&moto, &spec)["rollout_in_progress"]
            .as_str()
            .is_some_and(|holder| holder.contains("someone"))
    );
    moto.run(&[
        "deploy",
        "--env",
        "aws",
        "-f",
        &spec,
        "--image",
        "portal=example/portal:v2",
        "--break-lock",
    ])
    .succeeds();
    assert!(
        aws.ssm
            .get_parameter()
            .name("/dashctl/dashboard/prod/rollout-lock")
            .send()
            .await
            .is_err(),
        "released after the deploy"
    );

    // --service: only that service changes, whatever else the command line or spec says.
    moto.run(&[
        "deploy",
        "--env",
        "aws",
        "-f",
        &spec,
        "--service",
        "hardware",
        "--image",
        "hardware=example/hardware:v2",
        "--image",
        "portal=example/portal:v9",
    ])
    .succeeds()
    .stdout_contains("Rollout of hardware (blue is live):")
    .lacks("Rollout of portal");
    let now = status(&moto, &spec);
    let hardware = now["services"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == "hardware"))
        .expect("hardware");
    assert_eq!(hardware["image"], "example/hardware:v2");
    assert_eq!(hardware["live_color"], "green");
    assert_eq!(
        portal(&now)["image"],
        "example/portal:v2",
        "portal untouched"
    );
}

#[tokio::test]
async fn canary_weights_step_up_before_the_full_switch() {
    let Deployed {
        moto,
        aws,
        spec,
        _dir,
    } = Deployed::new(
        "deploy: { strategy: canary, canary: [10%, 2s, 50%, 2s], bake: 0s, health_timeout: 8s }",
    )
    .await;

    let mut rollout = start_v2(&moto, &spec);
    let mut seen: Vec<Vec<(String, i32)>> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while rollout.try_wait().expect("wait").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the canary rollout did not finish"
        );
        let weights = aws.listener_weights().await;
        if seen.last() != Some(&weights) {
            seen.push(weights);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = aws.listener_weights().await;
    if seen.last() != Some(&last) {
        seen.push(last);
    }
    let output = rollout.wait_with_output().expect("output");
    assert!(output.status.success(), "{}", text(&output));
    let green = |weight| ("dashboard-prod-portal-green".to_owned(), weight);
    let blue = |weight| ("dashboard-prod-portal-blue".to_owned(), weight);
    assert!(seen.contains(&vec![blue(90), green(10)]), "{seen:?}");
    assert!(seen.contains(&vec![blue(50), green(50)]), "{seen:?}");
    assert_eq!(seen.last(), Some(&vec![blue(0), green(100)]), "{seen:?}");
    assert!(
        text(&output).contains("sending 10% of traffic to green for 2s"),
        "{}",
        text(&output)
    );
}

#[tokio::test]
async fn a_firing_alarm_while_baking_switches_traffic_back() {
    let Deployed {
        moto,
        aws,
        spec,
        _dir,
    } = Deployed::new(
        "deploy: { strategy: all-at-once, bake: 30s, auto_rollback: true, health_timeout: 8s }",
    )
    .await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&moto.config().await);

    let rollout = start_v2(&moto, &spec);
    // Once green takes all traffic, it is baking: make its 5xx alarm fire.
    aws.wait_for_weights("green went live", |weights| weights == green_live())
        .await;
    cloudwatch
        .set_alarm_state()
        .alarm_name("dashboard-prod-portal-green-5xx")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("test: 5xx burst")
        .send()
        .await
        .expect("set alarm");
    let output = rollout.wait_with_output().expect("output");
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("alarm dashboard-prod-portal-green-5xx is firing"),
        "{out}"
    );
    assert!(
        out.contains("green turned unhealthy while baking; traffic is back on blue"),
        "{out}"
    );
    assert_eq!(aws.listener_weights().await, blue_live());
    let now = portal(&status(&moto, &spec));
    assert_eq!(now["live_color"], "blue");
    assert_eq!(color(&now, "green")["desired"], 0);
}

#[tokio::test]
async fn ctrl_c_during_a_canary_leaves_the_live_color() {
    let Deployed {
        moto,
        aws,
        spec,
        _dir,
    } = Deployed::new(
        "deploy: { strategy: canary, canary: [10%, 5m], bake: 0s, health_timeout: 8s }",
    )
    .await;
    let rollout = start_v2(&moto, &spec);
    aws.wait_for_weights("the canary step started", |weights| {
        weights.iter().any(|(_, weight)| *weight == 10)
    })
    .await;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(rollout.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let output = rollout.wait_with_output().expect("output");
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("abandoned (canary at 10%: interrupted); blue still serves all traffic"),
        "{out}"
    );
    assert_eq!(aws.listener_weights().await, blue_live());
    assert_eq!(color(&portal(&status(&moto, &spec)), "green")["desired"], 0);
    let lock = aws
        .ssm
        .get_parameter()
        .name("/dashctl/dashboard/prod/rollout-lock")
        .send()
        .await;
    assert!(lock.is_err(), "the lock is released on Ctrl-C too");
}

#[tokio::test]
async fn autoscaling_out_while_baking_is_not_a_failure() {
    let Deployed {
        moto,
        aws,
        spec,
        _dir,
    } = Deployed::new(
        "deploy: { strategy: all-at-once, bake: 8s, auto_rollback: true, health_timeout: 8s }",
    )
    .await;
    let ecs = aws_sdk_ecs::Client::new(&moto.config().await);
    let rollout = start_v2(&moto, &spec);
    aws.wait_for_weights("green went live", |weights| weights == green_live())
        .await;
    // What target tracking does under load: two more tasks, `initial` for a while.
    ecs.update_service()
        .cluster("dashboard-prod")
        .service("dashboard-prod-portal-green")
        .desired_count(4)
        .send()
        .await
        .expect("scale out");
    let output = rollout.wait_with_output().expect("output");
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("portal: live on green (was blue)"), "{out}");
    assert_eq!(aws.listener_weights().await, green_live());
}

#[tokio::test]
async fn a_release_waits_for_a_deleted_idle_service_to_drain() {
    let Deployed {
        moto,
        aws,
        spec,
        _dir,
    } = Deployed::new(ALL_AT_ONCE).await;
    let ecs = aws_sdk_ecs::Client::new(&moto.config().await);
    let v2 = start_v2(&moto, &spec).wait_with_output().expect("v2");
    assert!(v2.status.success(), "{}", text(&v2));
    // Someone deletes the idle (blue) service by hand: it drains for a while, and ECS refuses
    // a new service of that name until it is inactive.
    ecs.delete_service()
        .cluster("dashboard-prod")
        .service("dashboard-prod-portal-blue")
        .force(true)
        .send()
        .await
        .expect("delete blue");
    let v3 = moto.dashctl(&[
        "deploy",
        "--env",
        "aws",
        "-f",
        &spec,
        "--image",
        "portal=example/portal:v3",
    ]);
    let out = text(&v3);
    assert!(v3.status.success(), "{out}");
    assert!(
        out.contains(
            "waiting for the deleted ECS service dashboard-prod-portal-blue to finish draining"
        ),
        "{out}"
    );
    assert!(out.contains("portal: live on blue (was green)"), "{out}");
    assert_eq!(aws.listener_weights().await, blue_live());
}

#[tokio::test]
async fn a_lock_whose_holder_died_expires() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec(&dir, ALL_AT_ONCE);
    // A lock left by a run that was killed: its lease ran out a minute ago.
    let expired = serde_json::json!({
        "holder": "deploy by ci@runner-7 (pid 99)",
        "token": "0123",
        "expires": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            - 60,
    });
    aws.ssm
        .put_parameter()
        .name("/dashctl/dashboard/prod/rollout-lock")
        .value(expired.to_string())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .expect("stale lock");
    let deploy = moto.dashctl(&["deploy", "--env", "aws", "-f", &spec]);
    let out = text(&deploy);
    assert!(deploy.status.success(), "{out}");
    assert!(
        out.contains(
            "taking over the rollout lock: deploy by ci@runner-7 (pid 99) (lease expired)"
        ),
        "{out}"
    );
    // A live lease is respected, and destroy takes the lock too.
    let live = serde_json::json!({
        "holder": "rollback by ops@laptop (pid 7)",
        "token": "4567",
        "expires": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            + 600,
    });
    aws.ssm
        .put_parameter()
        .name("/dashctl/dashboard/prod/rollout-lock")
        .value(live.to_string())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .expect("live lock");
    let destroy = moto.dashctl(&["destroy", "--yes", "-f", &spec]);
    let out = text(&destroy);
    assert_eq!(destroy.status.code(), Some(1), "{out}");
    assert!(
        out.contains("is in progress: rollback by ops@laptop (pid 7) (lease renewed, expires in"),
        "{out}"
    );
}
