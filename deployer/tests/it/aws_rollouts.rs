//! Blue/green on AWS (moto): a new image goes to the idle color and the listener follows;
//! canary weights step up; rollback; a release that never gets healthy stays off; the lock.

use std::time::Duration;

use crate::aws_clients::Aws;
use crate::aws_fixture::{ALL_AT_ONCE, Deployed, Spec};
use crate::harness::{Ran, Running, live_release, service};

/// What every rollout test starts from: the dashboard deployed once on a fresh double, portal
/// with the `deploy:` policy given, and clients to watch it.
async fn deployed(portal_deploy: &str) -> (Deployed, Aws) {
    let deployed = Deployed::new(Spec::dashboard(portal_deploy));
    let aws = Aws::new(&deployed.moto).await;
    (deployed, aws)
}

/// Polls the public listener until `done` holds for its weights (30 s at most).
async fn wait_for_weights(aws: &Aws, what: &str, done: impl Fn(&[(String, i32)]) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done(&listener_weights(aws).await) {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The public listener's target groups by name, with their weights.
async fn listener_weights(aws: &Aws) -> Vec<(String, i32)> {
    let listeners = aws.listeners("dashboard-prod-public").await;
    aws.forward_weights(&listeners[0]).await
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

/// `deploy --image portal=example/portal:v2`, started in the background.
fn start_v2(deployed: &Deployed) -> Running {
    deployed.release("portal=example/portal:v2").spawn()
}

/// The dashboard deployed with portal's `deploy:` policy, and a release of v2 under way until
/// `what`: `done` holds for the public listener's weights.
async fn rolling_out(
    portal_deploy: &str,
    what: &str,
    done: impl Fn(&[(String, i32)]) -> bool,
) -> (Deployed, Aws, Running) {
    let (deployed, aws) = deployed(portal_deploy).await;
    let rollout = start_v2(&deployed);
    wait_for_weights(&aws, what, done).await;
    (deployed, aws, rollout)
}

fn portal(deployed: &Deployed) -> serde_json::Value {
    service(&deployed.status(), "portal").clone()
}

fn color<'a>(portal: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    portal["colors"]
        .as_array()
        .and_then(|all| all.iter().find(|color| color["color"] == name))
        .expect(name)
}

/// A release of v2 (all at once, baking for `bake`) whose green has just taken all traffic.
async fn baking(bake: &str) -> (Deployed, Aws, Running) {
    let policy = format!(
        "deploy: {{ strategy: all-at-once, bake: {bake}, auto_rollback: true, health_timeout: 8s }}"
    );
    rolling_out(&policy, "green went live", |weights| {
        weights == green_live()
    })
    .await
}

#[tokio::test]
async fn new_images_go_to_the_idle_color_and_rollback_returns() {
    let (deployed, aws) = deployed(ALL_AT_ONCE).await;
    assert_eq!(listener_weights(&aws).await, blue_live());

    // --dry-run says what would happen and changes nothing.
    let dry = deployed
        .release("portal=example/portal:v2")
        .args(&["--dry-run"])
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
    assert_eq!(listener_weights(&aws).await, blue_live());

    // v2 goes to green; the listener and autoscaling follow; blue is kept at zero.
    start_v2(&deployed)
        .succeeds()
        .stdout_contains("portal: live on green (was blue)")
        .stdout_contains("1 rolled out");
    assert_eq!(listener_weights(&aws).await, green_live());
    let now = portal(&deployed);
    assert_eq!(live_release(&now), ("green", "example/portal:v2"));
    assert_eq!(color(&now, "green")["desired"], 2);
    assert_eq!(color(&now, "green")["weight"], 100);
    assert_eq!(color(&now, "blue")["desired"], 0);
    assert_eq!(
        color(&now, "blue")["image"],
        "ghcr.io/example/dashctl-portal:latest"
    );
    assert_eq!(now["scaling"]["min"], 2, "autoscaling moved to green");
    // The plan compares with the spec, which still says :latest: portal's task definition
    // would change. Deploying the image that runs changes nothing.
    deployed
        .plan()
        .stdout_contains("task definition dashboard-prod-portal");
    deployed
        .release("portal=example/portal:v2")
        .args(&["--dry-run"])
        .succeeds()
        .stdout_contains("No changes.");

    // Rollback: blue (the previous release) is scaled up and takes the traffic back.
    // Without --service: every service that has an earlier release (hardware has none).
    deployed
        .run(&["rollback", "--env", "aws"])
        .succeeds()
        .stdout_contains("hardware: nothing to roll back to (green has no earlier release)")
        .stdout_contains("portal: live on blue (was green)");
    assert_eq!(listener_weights(&aws).await, blue_live());
    let now = portal(&deployed);
    assert_eq!(
        live_release(&now),
        ("blue", "ghcr.io/example/dashctl-portal:latest")
    );
    assert_eq!(color(&now, "blue")["desired"], 2);
    assert_eq!(color(&now, "green")["desired"], 0);
    deployed.plan().stdout_is("No changes.\n");

    // A release that never becomes healthy (the double fails the health checks of images
    // named `unhealthy`): blue keeps all traffic and green goes back to zero. Exit 3 says so
    // to CI, and the JSON lines show each step.
    let abandoned = deployed
        .release("portal=example/portal:v3-unhealthy")
        .args(&["--output", "jsonl"])
        .exits(3);
    abandoned.contains("green did not become healthy within 8s; blue still serves all traffic");
    assert_abandoned_in_json_lines(&abandoned);
    assert_eq!(listener_weights(&aws).await, blue_live());
    let now = portal(&deployed);
    assert_eq!(now["image"], "ghcr.io/example/dashctl-portal:latest");
    assert_eq!(color(&now, "green")["desired"], 0);
    assert_eq!(
        color(&now, "green")["image"],
        "example/portal:v2",
        "green keeps its last good release"
    );

    // The lock: the failed release let go of it; a held lock stops a second rollout with a
    // clear message.
    assert_eq!(aws.rollout_lock("dashboard", "prod").await, None);
    take_the_lock(&aws, "deploy by someone@elsewhere (pid 42)").await;
    start_v2(&deployed)
        .exits(1)
        .contains("another deploy, rollback or destroy of dashboard (prod) is in progress: deploy by someone@elsewhere (pid 42)");
    assert!(
        deployed.status()["rollout_in_progress"]
            .as_str()
            .is_some_and(|holder| holder.contains("someone"))
    );
    deployed
        .release("portal=example/portal:v2")
        .args(&["--break-lock"])
        .succeeds();
    assert_eq!(
        aws.rollout_lock("dashboard", "prod").await,
        None,
        "released after the deploy"
    );

    // --service: only that service changes, whatever else the command line or spec says.
    deployed
        .run(&[
            "deploy",
            "--env",
            "aws",
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
    let now = deployed.status();
    let hardware = service(&now, "hardware");
    assert_eq!(live_release(hardware), ("green", "example/hardware:v2"));
    assert_eq!(
        service(&now, "portal")["image"],
        "example/portal:v2",
        "portal untouched"
    );
}

/// `--output jsonl` of the unhealthy v3: JSON only on stdout, the plan, then green started,
/// waited for and abandoned, and a result with exit code 3.
fn assert_abandoned_in_json_lines(abandoned: &Ran) {
    let lines = abandoned.json_lines();
    let plan = lines
        .iter()
        .position(|line| line["event"] == "plan")
        .unwrap_or_else(|| panic!("no plan in {lines:#?}"));
    let rollout_plan = lines
        .iter()
        .position(|line| line["event"] == "rollout_plan" && line["service"] == "portal")
        .unwrap_or_else(|| panic!("no rollout plan in {lines:#?}"));
    assert!(plan < rollout_plan, "{lines:#?}");
    assert_eq!(
        abandoned.rollout_steps(),
        [
            "portal start green",
            "portal wait_healthy green",
            "portal abandon green"
        ]
    );
    assert!(
        !lines.iter().any(|line| line["event"] == "live"),
        "nothing went live: {lines:#?}"
    );
    let result = abandoned.result();
    assert_eq!(
        (&result["ok"], &result["exit_code"], &result["failure"]),
        (
            &serde_json::json!(false),
            &serde_json::json!(3),
            &serde_json::json!("reverted")
        ),
        "{result}"
    );
    assert!(
        result["error"]
            .as_str()
            .is_some_and(|error| error.contains("green did not become healthy within 8s")),
        "{result}"
    );
}

/// Writes the rollout lock's parameter as a run holding it would: `value` is a bare holder
/// or the JSON lease.
async fn take_the_lock(aws: &Aws, value: &str) {
    aws.ssm
        .put_parameter()
        .name("/dashctl/dashboard/prod/rollout-lock")
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .expect("take the lock");
}

#[tokio::test]
async fn canary_weights_step_up_before_the_full_switch() {
    let (deployed, aws) = deployed(
        "deploy: { strategy: canary, canary: [10%, 2s, 50%, 2s], bake: 0s, health_timeout: 8s }",
    )
    .await;

    let mut rollout = start_v2(&deployed);
    let mut seen: Vec<Vec<(String, i32)>> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !rollout.has_ended() {
        assert!(
            std::time::Instant::now() < deadline,
            "the canary rollout did not finish"
        );
        let weights = listener_weights(&aws).await;
        if seen.last() != Some(&weights) {
            seen.push(weights);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = listener_weights(&aws).await;
    if seen.last() != Some(&last) {
        seen.push(last);
    }
    rollout
        .succeeds()
        .contains("sending 10% of traffic to green for 2s");
    let green = |weight| ("dashboard-prod-portal-green".to_owned(), weight);
    let blue = |weight| ("dashboard-prod-portal-blue".to_owned(), weight);
    assert!(seen.contains(&vec![blue(90), green(10)]), "{seen:?}");
    assert!(seen.contains(&vec![blue(50), green(50)]), "{seen:?}");
    assert_eq!(seen.last(), Some(&vec![blue(0), green(100)]), "{seen:?}");
}

#[tokio::test]
async fn a_firing_alarm_while_baking_switches_traffic_back() {
    // Once green takes all traffic, it is baking: make its 5xx alarm fire.
    let (deployed, aws, rollout) = baking("30s").await;
    aws.cloudwatch
        .set_alarm_state()
        .alarm_name("dashboard-prod-portal-green-5xx")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("test: 5xx burst")
        .send()
        .await
        .expect("set alarm");
    rollout
        .exits(3)
        .contains("alarm dashboard-prod-portal-green-5xx is firing")
        .contains("green turned unhealthy while baking; traffic is back on blue");
    assert_eq!(listener_weights(&aws).await, blue_live());
    let now = portal(&deployed);
    assert_eq!(now["live_color"], "blue");
    assert_eq!(color(&now, "green")["desired"], 0);
}

#[tokio::test]
async fn ctrl_c_during_a_canary_leaves_the_live_color() {
    let (deployed, aws, rollout) = rolling_out(
        "deploy: { strategy: canary, canary: [10%, 5m], bake: 0s, health_timeout: 8s }",
        "the canary step started",
        |weights| weights.iter().any(|(_, weight)| *weight == 10),
    )
    .await;
    nix::sys::signal::kill(rollout.pid(), nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    rollout
        .exits(3)
        .contains("abandoned (canary at 10%: interrupted); blue still serves all traffic");
    assert_eq!(listener_weights(&aws).await, blue_live());
    assert_eq!(color(&portal(&deployed), "green")["desired"], 0);
    assert_eq!(
        aws.rollout_lock("dashboard", "prod").await,
        None,
        "the lock is released on Ctrl-C too"
    );
}

#[tokio::test]
async fn autoscaling_out_while_baking_is_not_a_failure() {
    let (_deployed, aws, rollout) = baking("8s").await;
    // What target tracking does under load: two more tasks, `initial` for a while.
    aws.ecs
        .update_service()
        .cluster("dashboard-prod")
        .service("dashboard-prod-portal-green")
        .desired_count(4)
        .send()
        .await
        .expect("scale out");
    rollout
        .succeeds()
        .contains("portal: live on green (was blue)");
    assert_eq!(listener_weights(&aws).await, green_live());
}

#[tokio::test]
async fn a_release_waits_for_a_deleted_idle_service_to_drain() {
    let (deployed, aws) = deployed(ALL_AT_ONCE).await;
    start_v2(&deployed).succeeds();
    // Someone deletes the idle (blue) service by hand: it drains for a while, and ECS refuses
    // a new service of that name until it is inactive.
    aws.ecs
        .delete_service()
        .cluster("dashboard-prod")
        .service("dashboard-prod-portal-blue")
        .force(true)
        .send()
        .await
        .expect("delete blue");
    deployed
        .release("portal=example/portal:v3")
        .succeeds()
        .contains(
            "waiting for the deleted ECS service dashboard-prod-portal-blue to finish draining",
        )
        .contains("portal: live on blue (was green)");
    assert_eq!(listener_weights(&aws).await, blue_live());
}

/// A lease as a run holding the lock writes it, expiring `seconds_from_now` (negative: gone).
fn lease(holder: &str, token: &str, seconds_from_now: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let expires = now.saturating_add_signed(seconds_from_now);
    serde_json::json!({ "holder": holder, "token": token, "expires": expires }).to_string()
}

#[tokio::test]
async fn a_lock_whose_holder_died_expires() {
    let spec = Spec::dashboard(ALL_AT_ONCE);
    let moto = crate::moto::Moto::start();
    let aws = Aws::new(&moto).await;
    // A lock left by a run that was killed: its lease ran out a minute ago.
    take_the_lock(&aws, &lease("deploy by ci@runner-7 (pid 99)", "0123", -60)).await;
    moto.run(&["deploy", "--env", "aws", "-f", &spec.path])
        .succeeds()
        .contains("taking over the rollout lock: deploy by ci@runner-7 (pid 99) (lease expired)");
    // A live lease is respected, and destroy takes the lock too.
    take_the_lock(&aws, &lease("rollback by ops@laptop (pid 7)", "4567", 600)).await;
    moto.run(&["destroy", "--yes", "-f", &spec.path])
        .exits(1)
        .contains("is in progress: rollback by ops@laptop (pid 7) (lease renewed, expires in");
}

const KEEP_PREVIOUS_1H: &str = "deploy: { strategy: all-at-once, bake: 0s, keep_previous: 1h, auto_rollback: true, health_timeout: 8s }";

#[tokio::test]
async fn within_keep_previous_a_rollback_only_moves_traffic() {
    let (deployed, aws) = deployed(KEEP_PREVIOUS_1H).await;
    start_v2(&deployed)
        .succeeds()
        .contains("portal: keeping blue up for 1h (rolling back until then only moves traffic)")
        .stdout_contains("portal: live on green (was blue)");
    let now = portal(&deployed);
    assert_eq!(color(&now, "blue")["desired"], 2, "blue stays at its size");
    assert_eq!(now["kept_warm"]["color"], "blue");
    let blue_window = "service/dashboard-prod/dashboard-prod-portal-blue";
    let schedules = aws.scheduled_actions(blue_window).await;
    assert!(
        schedules.len() == 1 && schedules[0].starts_with("at("),
        "one one-time scale-down: {schedules:?}"
    );
    // The window belongs to the rollout: the plan leaves it alone.
    deployed
        .release("portal=example/portal:v2")
        .args(&["--dry-run"])
        .succeeds()
        .stdout_contains("No changes.");

    // Rollback inside the window: the same blue tasks take the traffic back.
    let blue_targets = aws.targets("dashboard-prod-portal-blue").await;
    assert_eq!(blue_targets.len(), 2);
    deployed
        .run(&["rollback", "--env", "aws", "--service", "portal"])
        .succeeds()
        .stdout_contains("portal: live on blue (was green)");
    assert_eq!(listener_weights(&aws).await, blue_live());
    assert_eq!(
        aws.targets("dashboard-prod-portal-blue").await,
        blue_targets,
        "no blue task was started or replaced"
    );
    let now = portal(&deployed);
    assert_eq!(color(&now, "blue")["desired"], 2);
    assert_eq!(color(&now, "green")["desired"], 0);
    assert_eq!(now["kept_warm"], serde_json::Value::Null);
    assert_eq!(
        aws.scheduled_actions(blue_window).await,
        Vec::<String>::new(),
        "the live color never scales itself down"
    );
    assert_eq!(now["scaling"]["min"], 2, "autoscaling is back on blue");
}

#[tokio::test]
async fn after_keep_previous_the_old_color_scales_to_zero_by_itself() {
    let (deployed, _aws) = deployed(
        "deploy: { strategy: all-at-once, bake: 0s, keep_previous: 3s, auto_rollback: true, health_timeout: 8s }",
    )
    .await;
    start_v2(&deployed)
        .succeeds()
        .contains("portal: keeping blue up for 3s");
    // No dashctl command runs meanwhile: Application Auto Scaling's one-time action does it
    // (reading status only lets the double's clock be seen).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while color(&portal(&deployed), "blue")["desired"] != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "blue still runs after its window"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(portal(&deployed)["kept_warm"], serde_json::Value::Null);

    // Outside the window a rollback works as before: blue is started again, then goes live.
    deployed
        .run(&["rollback", "--env", "aws", "--service", "portal"])
        .succeeds()
        .stdout_contains("portal: live on blue (was green)");
    let now = portal(&deployed);
    assert_eq!(color(&now, "blue")["desired"], 2);
    assert_eq!(now["scaling"]["min"], 2);
}

#[tokio::test]
async fn weights_changed_by_hand_stop_a_release_until_accepted() {
    let (deployed, aws) = deployed(ALL_AT_ONCE).await;
    let listener = aws.listeners("dashboard-prod-public").await.remove(0);
    aws.set_forward_weights(
        &listener,
        &[
            ("dashboard-prod-portal-blue", 50),
            ("dashboard-prod-portal-green", 50),
        ],
    )
    .await;
    start_v2(&deployed)
        .exits(2)
        .contains("refusing to deploy: portal sends blue 50% / green 50%, but dashctl last set blue 100% / green 0%")
        .contains("--accept-live-traffic");
    deployed
        .run(&["rollback", "--env", "aws", "--service", "portal"])
        .exits(2)
        .contains("refusing to roll back: portal sends blue 50% / green 50%");
    assert_eq!(
        listener_weights(&aws).await,
        vec![
            ("dashboard-prod-portal-blue".to_owned(), 50),
            ("dashboard-prod-portal-green".to_owned(), 50),
        ],
        "nothing changed"
    );
    deployed
        .release("portal=example/portal:v2")
        .args(&["--accept-live-traffic"])
        .succeeds()
        .contains("portal: traffic confirmed: blue 0% / green 100%")
        .stdout_contains("portal: live on green (was blue)");
    assert_eq!(listener_weights(&aws).await, green_live());
    // What dashctl set is recorded again: the next release needs no flag.
    deployed.release("portal=example/portal:v3").succeeds();
}
