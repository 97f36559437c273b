//! dashctl against the AWS double: a release of the dashboard, then a destroy that asks first
//! and then leaves nothing tagged. One kept sequence on a deployment of its own: destroy is
//! checked after a release because a release adds the idle color's ECS service (46 resources
//! where the first deploy made 45), which destroy must find too.

use aws_sdk_ec2::types::Filter;

use crate::aws_clients::{Aws, every};
use crate::aws_fixture::{Deployed, Spec};
use crate::harness::{live_release, service};

fn tagged() -> Vec<Filter> {
    dashctl::aws::tags::ec2_filters("dashboard", "prod")
}

#[tokio::test]
async fn a_release_changes_colors_then_destroy_asks_and_removes_both_colors_and_everything_tagged()
{
    let deployed = Deployed::new(Spec::project("config/dashboard.yaml"));
    let aws = Aws::new(&deployed.moto).await;

    // A new image rolls out blue/green: green gets it, then the traffic. The running release
    // changes colors: nothing is updated in place.
    deployed
        .release("portal=ghcr.io/example/dashctl-portal:1.2.0")
        .args(&["--bake", "0s"])
        .succeeds()
        .contains(
            "image: ghcr.io/example/dashctl-portal:latest -> ghcr.io/example/dashctl-portal:1.2.0",
        )
        .contains("0 created, 0 updated, 0 deleted, 1 rolled out")
        .contains("portal: live on green (was blue)");
    let status = deployed.status();
    let portal = service(&status, "portal");
    assert_eq!(
        live_release(portal),
        ("green", "ghcr.io/example/dashctl-portal:1.2.0")
    );
    assert_eq!(portal["desired"], 2);
    assert_eq!(
        portal["scaling"],
        serde_json::json!({"min": 2, "max": 6, "requests_per_target": 60000}),
        "autoscaling moved to green"
    );

    // Without --yes it lists and refuses; with --yes nothing tagged is left.
    deployed
        .run(&["destroy"])
        .exits(2)
        .contains("Would remove (46)");
    deployed
        .run(&["destroy", "--yes"])
        .succeeds()
        .contains("Removed (46)");
    let vpcs = every!(aws.ec2.describe_vpcs().set_filters(Some(tagged())), "vpcs");
    assert!(vpcs.is_empty(), "{vpcs:?}");
    let subnets = every!(
        aws.ec2.describe_subnets().set_filters(Some(tagged())),
        "subnets"
    );
    assert!(subnets.is_empty(), "{subnets:?}");
    let groups = every!(
        aws.ec2
            .describe_security_groups()
            .set_filters(Some(tagged())),
        "security groups"
    );
    assert!(groups.is_empty(), "{groups:?}");
    assert!(aws.load_balancers().await.is_empty());
    assert!(aws.target_groups().await.is_empty());
    let roles = every!(
        aws.iam.list_roles().path_prefix("/dashctl/dashboard/prod/"),
        "roles"
    );
    assert!(roles.is_empty(), "{roles:?}");
    let logs = every!(
        aws.logs
            .describe_log_groups()
            .log_group_name_prefix("/dashctl/dashboard/prod/"),
        "log groups"
    );
    assert!(logs.is_empty(), "{logs:?}");
    deployed
        .plan()
        .contains("Plan: 45 to create, 0 to update, 0 to delete.");
}
