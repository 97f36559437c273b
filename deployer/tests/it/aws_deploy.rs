//! dashctl against the AWS double: what one deploy of config/dashboard.yaml builds, checked
//! resource by resource on one shared deployment that these tests only read; a second deploy
//! changes nothing; another app in the same account is never touched.

use std::sync::LazyLock;

use aws_sdk_ec2::types::Filter;

use crate::aws_clients::{Aws, every};
use crate::aws_fixture::{Deployed, Spec};
use crate::harness::{Ran, live_release, service};
use crate::moto::Moto;

const SPEC: &str = "config/dashboard.yaml";

/// The dashboard deployed once on a fresh account, shared by every test here: they only read
/// it (a second deploy, a plan and the other apps' deploys change nothing of it; the tests
/// that change it have deployments of their own in aws_destroy.rs and aws_rollouts.rs).
struct Dashboard {
    /// `plan` before the deploy, on the empty account.
    fresh_plan: Ran,
    deployed: Deployed,
}

static DASHBOARD: LazyLock<Dashboard> = LazyLock::new(|| {
    let moto = Moto::start();
    let spec = Spec::project(SPEC);
    let fresh_plan = moto.run(&["plan", "-f", &spec.path]).succeeds();
    Dashboard {
        fresh_plan,
        deployed: Deployed::on(moto, spec),
    }
});

/// The shared deployment and clients for it on this test's runtime.
async fn dashboard() -> (&'static Deployed, Aws) {
    let deployed = &DASHBOARD.deployed;
    (deployed, Aws::new(&deployed.moto).await)
}

/// What discovery looks for: the dashboard's own tags.
fn tagged() -> Vec<Filter> {
    dashctl::aws::tags::ec2_filters("dashboard", "prod")
}

/// Other apps share the account (`two_apps_in_one_account_never_touch_each_other`).
fn is_the_dashboards(name: Option<&str>) -> bool {
    name.is_some_and(|name| name.starts_with("dashboard-prod-"))
}

#[test]
fn a_fresh_account_plans_45_resources_to_create() {
    DASHBOARD
        .fresh_plan
        .stdout_contains("Plan: 45 to create, 0 to update, 0 to delete.");
}

#[test]
fn the_first_deploy_creates_45_resources_waits_for_healthy_tasks_and_prints_the_url() {
    DASHBOARD
        .deployed
        .deploy
        .contains("waiting for new tasks to pass their health checks")
        .stdout_contains("Deployed dashboard (prod) to us-east-1: 45 created")
        .stdout_contains("portal: http://dashboard-prod-public-");
}

#[test]
fn a_fresh_account_gets_the_ecs_service_linked_role() {
    DASHBOARD
        .deployed
        .deploy
        .contains("created the service-linked role AWSServiceRoleForECS");
}

#[tokio::test]
async fn the_network_is_one_vpc_with_four_subnets_in_two_zones_and_one_shared_nat_gateway() {
    let (_, aws) = dashboard().await;
    let vpcs = every!(aws.ec2.describe_vpcs().set_filters(Some(tagged())), "vpcs");
    assert_eq!(vpcs.len(), 1);
    assert_eq!(vpcs[0].cidr_block(), Some("10.20.0.0/16"));
    let subnets = every!(
        aws.ec2.describe_subnets().set_filters(Some(tagged())),
        "subnets"
    );
    assert_eq!(subnets.len(), 4);
    let zones: std::collections::BTreeSet<_> = subnets
        .iter()
        .filter_map(|subnet| subnet.availability_zone())
        .collect();
    assert_eq!(zones.len(), 2);
    let nats = every!(
        aws.ec2.describe_nat_gateways().set_filter(Some(tagged())),
        "nat gateways"
    );
    assert_eq!(nats.len(), 1, "one NAT gateway, shared");
}

#[tokio::test]
async fn the_public_balancer_faces_the_internet_and_the_internal_one_does_not() {
    let (_, aws) = dashboard().await;
    for (name, scheme) in [
        ("dashboard-prod-public", "internet-facing"),
        ("dashboard-prod-internal", "internal"),
    ] {
        let balancer = aws.load_balancer(name).await;
        assert_eq!(
            balancer.scheme().map(|s| s.as_str()),
            Some(scheme),
            "{name}"
        );
    }
}

#[tokio::test]
async fn security_groups_let_each_tier_reach_only_the_next() {
    let (_, aws) = dashboard().await;
    let from = |port: i32, source: &str| vec![(port, source.to_owned())];
    assert_eq!(
        aws.ingress("dashboard-prod-public-alb").await,
        from(80, "0.0.0.0/0")
    );
    assert_eq!(
        aws.ingress("dashboard-prod-portal-tasks").await,
        from(5000, "dashboard-prod-public-alb")
    );
    assert_eq!(
        aws.ingress("dashboard-prod-internal-alb").await,
        from(5001, "dashboard-prod-portal-tasks"),
        "only portal's tasks reach the internal ALB"
    );
    assert_eq!(
        aws.ingress("dashboard-prod-hardware-tasks").await,
        from(5001, "dashboard-prod-internal-alb")
    );
}

#[tokio::test]
async fn each_service_has_blue_and_green_ip_target_groups_checking_readyz_that_drain_in_30_s() {
    let (_, aws) = dashboard().await;
    let groups: Vec<_> = aws
        .target_groups()
        .await
        .into_iter()
        .filter(|group| is_the_dashboards(group.target_group_name()))
        .collect();
    let mut names: Vec<&str> = groups
        .iter()
        .filter_map(|group| group.target_group_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "dashboard-prod-hardware-blue",
            "dashboard-prod-hardware-green",
            "dashboard-prod-portal-blue",
            "dashboard-prod-portal-green"
        ]
    );
    for group in &groups {
        assert_eq!(group.target_type().map(|t| t.as_str()), Some("ip"));
        assert_eq!(group.health_check_path(), Some("/readyz"));
        // Set explicitly: AWS's default keeps a leaving target for 300 s.
        let attributes = aws
            .elb
            .describe_target_group_attributes()
            .set_target_group_arn(group.target_group_arn.clone())
            .send()
            .await
            .expect("attributes");
        assert!(
            attributes
                .attributes()
                .iter()
                .any(
                    |attribute| attribute.key() == Some("deregistration_delay.timeout_seconds")
                        && attribute.value() == Some("30")
                ),
            "{:?}",
            attributes.attributes()
        );
    }
}

#[tokio::test]
async fn target_groups_are_tagged_with_app_environment_service_and_color() {
    let (_, aws) = dashboard().await;
    let portal_blue = aws
        .target_groups()
        .await
        .into_iter()
        .find(|group| group.target_group_name() == Some("dashboard-prod-portal-blue"))
        .expect("portal blue");
    let described = aws
        .elb
        .describe_tags()
        .set_resource_arns(Some(portal_blue.target_group_arn.into_iter().collect()))
        .send()
        .await
        .expect("tags");
    let tags = dashctl::aws::tags::elb_map(described.tag_descriptions()[0].tags());
    for (key, value) in [
        ("dashctl:app", "dashboard"),
        ("dashctl:environment", "prod"),
        ("dashctl:service", "portal"),
        ("dashctl:color", "blue"),
    ] {
        assert_eq!(
            tags.get(key).map(String::as_str),
            Some(value),
            "tag {key} in {tags:?}"
        );
    }
}

/// Green stays attached at weight 0: a target group no listener uses cannot take an ECS service.
#[tokio::test]
async fn the_public_listener_on_80_forwards_to_blue_and_keeps_green_attached_at_weight_0() {
    let (_, aws) = dashboard().await;
    let listeners = aws.listeners("dashboard-prod-public").await;
    assert_eq!(listeners.len(), 1);
    assert_eq!(listeners[0].port(), Some(80));
    assert_eq!(
        aws.forward_weights(&listeners[0]).await,
        [
            ("dashboard-prod-portal-blue".to_owned(), 100),
            ("dashboard-prod-portal-green".to_owned(), 0)
        ]
    );
}

#[tokio::test]
async fn services_run_on_fargate_in_private_subnets_without_public_addresses() {
    let (_, aws) = dashboard().await;
    let services = aws
        .services(
            "dashboard-prod",
            &["dashboard-prod-portal-blue", "dashboard-prod-hardware-blue"],
        )
        .await;
    assert_eq!(services.len(), 2);
    let private: Vec<String> = every!(
        aws.ec2.describe_subnets().set_filters(Some(tagged())),
        "subnets"
    )
    .iter()
    .filter(|subnet| {
        subnet
            .tags()
            .iter()
            .any(|tag| tag.key() == Some("dashctl:tier") && tag.value() == Some("private"))
    })
    .filter_map(|subnet| subnet.subnet_id().map(str::to_owned))
    .collect();
    for service in &services {
        assert_eq!(service.launch_type().map(|t| t.as_str()), Some("FARGATE"));
        let network = service
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .expect("awsvpc");
        assert_eq!(
            network.assign_public_ip().map(|a| a.as_str()),
            Some("DISABLED")
        );
        assert!(
            network
                .subnets()
                .iter()
                .all(|subnet| private.contains(subnet)),
            "tasks run in private subnets"
        );
        // moto does not keep the deployment circuit breaker; a unit test of the request
        // (aws::cluster) covers it.
    }
}

#[tokio::test]
async fn portal_tasks_find_hardware_through_the_internal_balancer_and_log_to_their_group() {
    let (_, aws) = dashboard().await;
    let portal = aws
        .services("dashboard-prod", &["dashboard-prod-portal-blue"])
        .await;
    let definition = aws
        .ecs
        .describe_task_definition()
        .set_task_definition(portal[0].task_definition.clone())
        .send()
        .await
        .expect("task definition");
    let definition = definition.task_definition().expect("task definition");
    assert_eq!(definition.cpu(), Some("256"));
    let container = &definition.container_definitions()[0];
    let hardware_url = container
        .environment()
        .iter()
        .find(|pair| pair.name() == Some("HARDWARE_URL"))
        .and_then(|pair| pair.value())
        .expect("HARDWARE_URL");
    let internal = aws.load_balancer("dashboard-prod-internal").await;
    assert_eq!(
        hardware_url,
        format!("http://{}:5001", internal.dns_name().expect("dns name"))
    );
    assert_eq!(
        container
            .log_configuration()
            .and_then(|l| l.options())
            .and_then(|o| o.get("awslogs-group"))
            .map(String::as_str),
        Some("/dashctl/dashboard/prod/portal")
    );
}

#[tokio::test]
async fn the_execution_role_has_the_managed_ecs_policy_and_task_roles_have_none() {
    let (_, aws) = dashboard().await;
    let attached =
        |role: &'static str| aws.iam.list_attached_role_policies().role_name(role).send();
    let execution = attached("dashboard-prod-execution")
        .await
        .expect("attached");
    assert_eq!(
        execution.attached_policies()[0].policy_name(),
        Some("AmazonECSTaskExecutionRolePolicy")
    );
    let task = attached("dashboard-prod-portal-task")
        .await
        .expect("attached");
    assert!(task.attached_policies().is_empty());
    let inline = aws
        .iam
        .list_role_policies()
        .role_name("dashboard-prod-portal-task")
        .send()
        .await
        .expect("inline");
    assert!(inline.policy_names().is_empty());
}

#[tokio::test]
async fn every_color_has_alarms_on_the_balancer_metrics_the_rollouts_watch() {
    let (_, aws) = dashboard().await;
    let alarms: Vec<_> = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix("dashboard-prod-")
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("alarms")
        .iter()
        .flat_map(|page| page.metric_alarms().to_vec())
        .collect();
    let names: Vec<&str> = alarms
        .iter()
        .filter_map(|alarm| alarm.alarm_name())
        .collect();
    assert_eq!(names.len(), 8, "{names:?}");
    let five_xx = alarms
        .iter()
        .find(|alarm| alarm.alarm_name() == Some("dashboard-prod-portal-green-5xx"))
        .expect("5xx alarm");
    assert_eq!(five_xx.metric_name(), Some("HTTPCode_Target_5XX_Count"));
    assert_eq!(five_xx.threshold(), Some(10.0));
    for (name, prefix) in [
        ("TargetGroup", "targetgroup/dashboard-prod-portal-green/"),
        ("LoadBalancer", "app/dashboard-prod-public/"),
    ] {
        assert!(
            five_xx
                .dimensions()
                .iter()
                .any(|dimension| dimension.name() == Some(name)
                    && dimension
                        .value()
                        .is_some_and(|value| value.starts_with(prefix))),
            "{name}={prefix}... in {:?}",
            five_xx.dimensions()
        );
    }
}

#[tokio::test]
async fn each_service_logs_to_a_group_kept_30_days() {
    let (_, aws) = dashboard().await;
    let groups = every!(
        aws.logs
            .describe_log_groups()
            .log_group_name_prefix("/dashctl/dashboard/prod/"),
        "log groups"
    );
    assert_eq!(groups.len(), 2);
    assert!(
        groups
            .iter()
            .all(|group| group.retention_in_days() == Some(30))
    );
}

#[tokio::test]
async fn portal_scales_on_requests_per_target_of_the_live_color() {
    let (_, aws) = dashboard().await;
    let live = "service/dashboard-prod/dashboard-prod-portal-blue";
    let ecs = aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs;
    let policies = aws
        .scaling
        .describe_scaling_policies()
        .service_namespace(ecs.clone())
        .resource_id(live)
        .send()
        .await
        .expect("policies");
    let configuration = policies.scaling_policies()[0]
        .target_tracking_scaling_policy_configuration()
        .expect("target tracking");
    let metric = configuration
        .predefined_metric_specification()
        .expect("predefined");
    assert_eq!(
        metric.predefined_metric_type().as_str(),
        "ALBRequestCountPerTarget"
    );
    let label = metric.resource_label().expect("label");
    assert!(
        label.starts_with("app/dashboard-prod-public/")
            && label.contains("/targetgroup/dashboard-prod-portal-blue/"),
        "{label}"
    );
    assert_eq!(configuration.target_value(), 60000.0);
    assert_eq!(configuration.scale_out_cooldown(), Some(60));
    assert_eq!(configuration.scale_in_cooldown(), Some(300));
    let targets = aws
        .scaling
        .describe_scalable_targets()
        .service_namespace(ecs)
        .resource_ids(live)
        .send()
        .await
        .expect("targets");
    let target = &targets.scalable_targets()[0];
    assert_eq!((target.min_capacity(), target.max_capacity()), (2, 6));
}

#[test]
fn a_second_plan_after_deploy_shows_no_changes() {
    DASHBOARD.deployed.plan().stdout_is("No changes.\n");
}

#[tokio::test]
async fn a_second_deploy_changes_nothing_and_duplicates_nothing() {
    let (deployed, aws) = dashboard().await;
    deployed
        .run(&["deploy", "--env", "aws"])
        .succeeds()
        .stdout_contains("No changes.");
    let vpcs = every!(aws.ec2.describe_vpcs().set_filters(Some(tagged())), "vpcs");
    assert_eq!(vpcs.len(), 1);
    let balancers = aws.load_balancers().await;
    let balancers: Vec<_> = balancers
        .iter()
        .filter_map(|balancer| balancer.load_balancer_name())
        .filter(|name| is_the_dashboards(Some(name)))
        .collect();
    assert_eq!(balancers.len(), 2, "{balancers:?}");
}

#[test]
fn status_reports_each_services_live_color_image_capacity_scaling_and_url() {
    let status = DASHBOARD.deployed.status();
    assert_eq!(status["app"], "dashboard");
    assert_eq!(status["environment"], "prod");
    let portal = service(&status, "portal");
    assert_eq!(portal["public"], true);
    assert_eq!(
        live_release(portal),
        ("blue", "ghcr.io/example/dashctl-portal:latest")
    );
    assert_eq!(portal["desired"], 2);
    assert_eq!(
        portal["scaling"],
        serde_json::json!({"min": 2, "max": 6, "requests_per_target": 60000})
    );
    assert!(
        portal["url"]
            .as_str()
            .is_some_and(|url| url.starts_with("http://dashboard-prod-public-")),
        "{portal}"
    );
    assert!(portal.get("running").is_some(), "{portal}");
}

/// Look-alike names: `hello`/`dev` and `hello`/`dev2` share every name prefix but the last
/// character (`shop-eu`/`prod` against `shop`/`eu-prod` is refused by validate). They go into
/// the account that holds the dashboard.
#[test]
fn two_apps_in_one_account_never_touch_each_other() {
    let dashboard = &DASHBOARD.deployed;
    dashboard.deploy.contains(" 0 deleted");
    let minimal = Spec::project("examples/minimal.yaml");
    let lookalike = Spec::written(
        "minimal-dev2.yaml",
        &crate::aws_fixture::replaced(&minimal.yaml(), "environment: dev", "environment: dev2"),
    );
    for spec in [&minimal, &lookalike] {
        dashboard
            .moto
            .run(&["deploy", "--env", "aws", "-f", &spec.path])
            .succeeds()
            .contains(" 0 deleted");
    }
    let destroy = dashboard
        .moto
        .run(&["destroy", "--yes", "-f", &minimal.path])
        .succeeds();
    for other in ["dashboard-prod", "hello-dev2"] {
        destroy.lacks(other);
    }
    for spec in [&dashboard.spec, &lookalike] {
        dashboard
            .moto
            .run(&["plan", "-f", &spec.path])
            .succeeds()
            .stdout_is("No changes.\n");
    }
}

#[tokio::test]
async fn an_ecs_cluster_by_our_name_but_not_our_tags_is_left_alone() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    aws.ecs
        .create_cluster()
        .cluster_name("hello-dev")
        .send()
        .await
        .expect("someone else's cluster");
    let minimal = Spec::project("examples/minimal.yaml");
    for verb in [&["plan"][..], &["destroy", "--yes"][..]] {
        let mut args = verb.to_vec();
        args.extend(["-f", minimal.path.as_str()]);
        moto.run(&args)
            .exits(1)
            .contains("an ECS cluster named hello-dev exists but is not tagged dashctl:app=hello");
    }
    let cluster = aws
        .ecs
        .describe_clusters()
        .clusters("hello-dev")
        .send()
        .await
        .expect("describe");
    assert_eq!(cluster.clusters()[0].status(), Some("ACTIVE"));
}
