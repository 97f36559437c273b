//! The test route on AWS (the double): while a release's smoke test runs, a rule on the
//! service's listener forwards `X-Dashctl-Color: <color>` to the new color; it is gone after
//! the switch and after an abandon; a rule a killed dashctl left is replaced by the next
//! rollout; and destroy does not trip on one.

use std::path::Path;
use std::time::Duration;

use crate::aws_clients::Aws;
use crate::aws_fixture::{Deployed, Spec, dashboard_yaml, replaced};
use crate::harness::{Running, service};
use crate::smoke_test::{SmokeTest, assert_told_green};

/// Finds which rules the public listener has (through boto3 at the double).
const LISTENER_RULES_PROBE: &str = r#"
import boto3
elb = boto3.client("elbv2", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
balancer = elb.describe_load_balancers(Names=["dashboard-prod-public"])["LoadBalancers"][0]
listener = [found for found in elb.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"] if found["Port"] == 80][0]
group_names = {
    group["TargetGroupArn"]: group["TargetGroupName"]
    for page in elb.get_paginator("describe_target_groups").paginate()
    for group in page["TargetGroups"]
}
rules = []
for rule in elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]:
    if rule["IsDefault"]:
        continue
    forward = []
    for action in rule["Actions"]:
        arns = [group["TargetGroupArn"] for group in action.get("ForwardConfig", {}).get("TargetGroups", [])] or [action["TargetGroupArn"]]
        forward += [group_names[arn] for arn in arns]
    tags = elb.describe_tags(ResourceArns=[rule["RuleArn"]])["TagDescriptions"][0]["Tags"]
    rules.append({
        "arn": rule["RuleArn"],
        "priority": rule["Priority"],
        "conditions": [[condition["Field"], condition["HttpHeaderConfig"]["HttpHeaderName"], condition["HttpHeaderConfig"]["Values"]] for condition in rule["Conditions"]],
        "forward": forward,
        "tags": {tag["Key"]: tag["Value"] for tag in tags},
    })
seen = {"rules": rules}
said = f"{len(rules)} rule(s) on the listener"
"#;

/// config/dashboard.yaml with test-sized waits and portal's smoke test.
fn spec() -> Spec {
    let portal = format!(
        "deploy: {{ strategy: all-at-once, bake: 0s, auto_rollback: true, health_timeout: 8s, smoke_test: {{ command: [\"{}\", smoke.py], timeout: 2m }} }}",
        crate::moto::python().display()
    );
    let yaml = dashboard_yaml(&portal);
    // The smoke test runs in `local.workdir`: the spec's own directory here.
    let yaml = replaced(&yaml, "workdir: ..", "workdir: .");
    Spec::written("dashboard.yaml", &yaml)
}

fn directory(spec: &Spec) -> &Path {
    Path::new(&spec.path)
        .parent()
        .expect("the spec's directory")
}

/// ARNs of the rules (other than the default one) on the public listener.
async fn rules(aws: &Aws) -> Vec<String> {
    let listener = aws.listeners("dashboard-prod-public").await[0]
        .listener_arn()
        .expect("arn")
        .to_owned();
    aws.elb
        .describe_rules()
        .listener_arn(listener)
        .send()
        .await
        .expect("rules")
        .rules()
        .iter()
        .filter(|rule| rule.is_default() != Some(true))
        .filter_map(|rule| rule.rule_arn().map(str::to_owned))
        .collect()
}

fn live_weights(deployed: &Deployed) -> (String, serde_json::Value) {
    let portal = service(&deployed.status(), "portal").clone();
    (
        portal["live_color"].as_str().unwrap_or_default().to_owned(),
        portal["url"].clone(),
    )
}

/// Kills dashctl as a lost CI runner would (no clean-up at all) and reaps it.
async fn kill(mut rollout: Running) {
    nix::sys::signal::kill(rollout.pid(), nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
    while !rollout.has_ended() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_smoke_test_reaches_the_new_color_through_a_listener_rule_that_goes_afterwards() {
    let spec = spec();
    let smoke = SmokeTest::write(directory(&spec), LISTENER_RULES_PROBE);
    // The first deploy creates everything (no rollout: nothing to smoke-test yet).
    let deployed = Deployed::new(spec);
    let aws = Aws::new(&deployed.moto).await;
    let (live, url) = live_weights(&deployed);
    assert_eq!(live, "blue");

    deployed
        .release("portal=example/portal:v2")
        .args(&["--dry-run"])
        .succeeds()
        .stdout_contains("  - add a rule to dashboard-prod-public:80 forwarding `X-Dashctl-Color: green` to it until the switch; run the smoke test `")
        .stdout_contains("smoke.py` against it (up to 2m)");

    // While the smoke test runs, the rule forwards the header to green; blue has all traffic.
    smoke.holds();
    let rollout = deployed.release("portal=example/portal:v2").spawn();
    let (seen, rollout) = smoke.seen(rollout).await;
    assert_told_green(&seen, url.as_str().expect("portal's url"));
    let found = seen["rules"].as_array().expect("rules");
    assert_eq!(found.len(), 1, "{seen}");
    assert_eq!(found[0]["priority"], "1");
    assert_eq!(
        found[0]["conditions"],
        serde_json::json!([["http-header", "X-Dashctl-Color", ["green"]]])
    );
    assert_eq!(
        found[0]["forward"],
        serde_json::json!(["dashboard-prod-portal-green"])
    );
    assert_eq!(found[0]["tags"]["dashctl:test-route"], "green");
    assert_eq!(found[0]["tags"]["dashctl:app"], "dashboard");
    assert_eq!(live_weights(&deployed).0, "blue", "no traffic moved yet");
    smoke.ends_with(0);
    rollout
        .succeeds()
        .contains("portal: running the smoke test against green")
        .contains("portal: live on green (was blue)");
    assert!(rules(&aws).await.is_empty(), "the rule went at the switch");

    // A failing smoke test abandons: green keeps all traffic, the rule is gone.
    smoke.ends_with(5);
    deployed
        .release("portal=example/portal:v3")
        .exits(3)
        .contains("portal: rollout to blue abandoned (smoke test")
        .contains("smoke.py` exited with status 5; its output ended: 1 rule(s) on the listener | verdict 5); green still serves all traffic");
    assert!(
        rules(&aws).await.is_empty(),
        "the rule went with the abandon"
    );
    // The failed smoke test wrote what it saw too: gone, the next one's is waited for.
    smoke.take_seen();
    assert_eq!(live_weights(&deployed).0, "green");

    // A dashctl killed during its smoke test leaves its rule; resuming its rollout replaces
    // it (one rule, a new one) and removes it at the switch.
    smoke.holds();
    let rollout = deployed.release("portal=example/portal:v4").spawn();
    let (_, rollout) = smoke.seen(rollout).await;
    kill(rollout).await;
    let left = rules(&aws).await;
    assert_eq!(left.len(), 1, "the killed run's rule");
    // Its smoke test outlived it (nobody was left to kill it): let it end.
    smoke.ends_with(0);
    // The killed rollout is journaled: another release refuses, `rollout resume` goes on with
    // it, opening the route again.
    deployed
        .release("portal=example/portal:v5")
        .args(&["--break-lock"])
        .exits(2)
        .contains("portal: rollout green -> blue stopped at checking; green serves all traffic");
    let rollout = deployed.run(&["rollout", "resume", "--env", "aws"]).spawn();
    let (seen, rollout) = smoke.seen(rollout).await;
    let found = seen["rules"].as_array().expect("rules");
    assert_eq!(found.len(), 1, "{seen}");
    assert_ne!(found[0]["arn"].as_str(), Some(left[0].as_str()), "replaced");
    assert_eq!(
        found[0]["forward"],
        serde_json::json!(["dashboard-prod-portal-blue"])
    );
    rollout
        .succeeds()
        .contains("portal: live on blue (was green)");
    assert!(rules(&aws).await.is_empty());

    // Plan and status do not see a rule a killed run left as drift, and destroy removes it
    // with its listener.
    smoke.holds();
    let rollout = deployed.release("portal=example/portal:v6").spawn();
    let (_, rollout) = smoke.seen(rollout).await;
    kill(rollout).await;
    smoke.ends_with(0);
    assert_eq!(rules(&aws).await.len(), 1);
    deployed
        .run(&[
            "deploy",
            "--env",
            "aws",
            "--dry-run",
            "--image",
            "portal=example/portal:v4",
        ])
        .succeeds()
        .stdout_contains("No changes.");
    assert_eq!(live_weights(&deployed).0, "blue");
    deployed
        .run(&["destroy", "--yes", "--break-lock"])
        .succeeds();
    assert!(
        aws.load_balancers().await.is_empty(),
        "everything went, the listener and its rule with it"
    );
}
