//! dashctl against moto: a full deploy of config/dashboard.yaml checked resource by resource,
//! an idempotent second deploy, status, and a destroy that leaves nothing tagged.

use std::collections::HashMap;

use aws_sdk_ec2::types::Filter;

use crate::moto::Moto;

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/dashboard.yaml");

/// What the spec's resources are tagged with, as discovery filters on it.
fn tag_filter() -> Vec<Filter> {
    dashctl::aws::tags::ec2_filters("dashboard", "prod")
}

#[tokio::test]
async fn deploy_builds_the_dashboard_then_changes_nothing_and_destroy_removes_it() {
    let moto = Moto::start();
    moto.run(&["plan", "-f", SPEC])
        .succeeds()
        .stdout_contains("Plan: 45 to create, 0 to update, 0 to delete.");

    moto.run(&["deploy", "--env", "aws", "-f", SPEC])
        .succeeds()
        .contains("waiting for new tasks to pass their health checks")
        // A fresh account gets the service-linked roles.
        .contains("created the service-linked role AWSServiceRoleForECS")
        .stdout_contains("Deployed dashboard (prod) to us-east-1: 45 created")
        .stdout_contains("portal: http://dashboard-prod-public-");

    let config = moto.config().await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let ecs = aws_sdk_ecs::Client::new(&config);
    let scaling = aws_sdk_applicationautoscaling::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);

    // Network: one tagged VPC with two public and two private subnets in two AZs.
    let vpcs = ec2
        .describe_vpcs()
        .set_filters(Some(tag_filter()))
        .send()
        .await
        .expect("vpcs");
    assert_eq!(vpcs.vpcs().len(), 1);
    let vpc = &vpcs.vpcs()[0];
    assert_eq!(vpc.cidr_block(), Some("10.20.0.0/16"));
    let subnets = ec2
        .describe_subnets()
        .set_filters(Some(tag_filter()))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("subnets");
    assert_eq!(subnets.len(), 4);
    let zones: std::collections::BTreeSet<_> = subnets
        .iter()
        .filter_map(|subnet| subnet.availability_zone())
        .collect();
    assert_eq!(zones.len(), 2);
    let nats = ec2
        .describe_nat_gateways()
        .set_filter(Some(tag_filter()))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("nat");
    assert_eq!(nats.len(), 1, "nat: shared");

    // Load balancers: one internet-facing, one internal.
    let balancers = elb
        .describe_load_balancers()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("lbs");
    let scheme: HashMap<&str, &str> = balancers
        .iter()
        .map(|lb| {
            (
                lb.load_balancer_name().unwrap_or_default(),
                lb.scheme().map(|s| s.as_str()).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        scheme.get("dashboard-prod-public"),
        Some(&"internet-facing")
    );
    assert_eq!(scheme.get("dashboard-prod-internal"), Some(&"internal"));
    let lb_arn = |name: &str| {
        balancers
            .iter()
            .find(|lb| lb.load_balancer_name() == Some(name))
            .and_then(|lb| lb.load_balancer_arn())
            .expect("lb")
            .to_owned()
    };

    // Security groups: who may reach whom.
    let groups = ec2
        .describe_security_groups()
        .set_filters(Some(tag_filter()))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("sgs");
    let id_of = |name: &str| {
        groups
            .iter()
            .find(|group| group.group_name() == Some(name))
            .and_then(|group| group.group_id())
            .expect(name)
            .to_owned()
    };
    let rules = |name: &str| -> Vec<String> {
        let group = groups
            .iter()
            .find(|group| group.group_name() == Some(name))
            .expect(name);
        let mut rules: Vec<String> = group
            .ip_permissions()
            .iter()
            .flat_map(|permission| {
                let port = permission.from_port().unwrap_or_default();
                permission
                    .ip_ranges()
                    .iter()
                    .map(move |range| {
                        format!("{port} from {}", range.cidr_ip().unwrap_or_default())
                    })
                    .chain(permission.user_id_group_pairs().iter().map(move |pair| {
                        format!("{port} from {}", pair.group_id().unwrap_or_default())
                    }))
            })
            .collect();
        rules.sort();
        rules
    };
    assert_eq!(rules("dashboard-prod-public-alb"), ["80 from 0.0.0.0/0"]);
    assert_eq!(
        rules("dashboard-prod-internal-alb"),
        [format!(
            "5001 from {}",
            id_of("dashboard-prod-portal-tasks")
        )],
        "only portal's tasks reach the internal ALB"
    );
    assert_eq!(
        rules("dashboard-prod-portal-tasks"),
        [format!("5000 from {}", id_of("dashboard-prod-public-alb"))]
    );
    assert_eq!(
        rules("dashboard-prod-hardware-tasks"),
        [format!(
            "5001 from {}",
            id_of("dashboard-prod-internal-alb")
        )]
    );

    // Target groups: blue and green per service, IP targets, the spec's health check.
    let target_groups = elb
        .describe_target_groups()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("tgs");
    let mut names: Vec<&str> = target_groups
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
    for group in &target_groups {
        assert_eq!(group.target_type().map(|t| t.as_str()), Some("ip"));
        assert_eq!(group.health_check_path(), Some("/readyz"));
        // Set explicitly: AWS's default keeps a leaving target for 300 s.
        let attributes = elb
            .describe_target_group_attributes()
            .target_group_arn(group.target_group_arn().expect("arn"))
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
    let portal_blue = target_groups
        .iter()
        .find(|group| group.target_group_name() == Some("dashboard-prod-portal-blue"))
        .expect("portal blue");
    let portal_green = target_groups
        .iter()
        .find(|group| group.target_group_name() == Some("dashboard-prod-portal-green"))
        .expect("portal green");
    let tags = elb
        .describe_tags()
        .resource_arns(portal_blue.target_group_arn().expect("arn"))
        .send()
        .await
        .expect("tags");
    let tags = dashctl::aws::tags::elb_map(tags.tag_descriptions()[0].tags());
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

    // Listener: public :80 forwards to portal blue; green stays attached at weight 0 (a target
    // group no listener uses cannot take an ECS service).
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(lb_arn("dashboard-prod-public"))
        .send()
        .await
        .expect("listeners");
    assert_eq!(listeners.listeners().len(), 1);
    assert_eq!(listeners.listeners()[0].port(), Some(80));
    let forward: Vec<(Option<&str>, Option<i32>)> = listeners.listeners()[0].default_actions()[0]
        .forward_config()
        .expect("forward config")
        .target_groups()
        .iter()
        .map(|group| (group.target_group_arn(), group.weight()))
        .collect();
    assert!(
        forward.contains(&(portal_blue.target_group_arn(), Some(100))),
        "{forward:?}"
    );
    assert_eq!(forward.len(), 2, "{forward:?}");
    assert!(
        forward.contains(&(portal_green.target_group_arn(), Some(0))),
        "{forward:?}"
    );

    // ECS: Fargate services in private subnets, no public IPs, circuit breaker on.
    let services = ecs
        .describe_services()
        .cluster("dashboard-prod")
        .services("dashboard-prod-portal-blue")
        .services("dashboard-prod-hardware-blue")
        .send()
        .await
        .expect("services");
    assert_eq!(services.services().len(), 2);
    let private: Vec<String> = subnets
        .iter()
        .filter(|subnet| {
            subnet
                .tags()
                .iter()
                .any(|tag| tag.key() == Some("dashctl:tier") && tag.value() == Some("private"))
        })
        .filter_map(|subnet| subnet.subnet_id().map(str::to_owned))
        .collect();
    for service in services.services() {
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
    // portal finds hardware through the internal load balancer.
    let portal = services
        .services()
        .iter()
        .find(|service| service.service_name() == Some("dashboard-prod-portal-blue"))
        .expect("portal");
    let definition = ecs
        .describe_task_definition()
        .task_definition(portal.task_definition().expect("td"))
        .send()
        .await
        .expect("td");
    let definition = definition.task_definition().expect("td");
    assert_eq!(definition.cpu(), Some("256"));
    let container = &definition.container_definitions()[0];
    let hardware_url = container
        .environment()
        .iter()
        .find(|pair| pair.name() == Some("HARDWARE_URL"))
        .and_then(|pair| pair.value())
        .expect("HARDWARE_URL");
    let internal_dns = balancers
        .iter()
        .find(|lb| lb.load_balancer_name() == Some("dashboard-prod-internal"))
        .and_then(|lb| lb.dns_name())
        .expect("dns");
    assert_eq!(hardware_url, format!("http://{internal_dns}:5001"));
    assert_eq!(
        container
            .log_configuration()
            .and_then(|l| l.options())
            .and_then(|o| o.get("awslogs-group"))
            .map(String::as_str),
        Some("/dashctl/dashboard/prod/portal")
    );

    // IAM: the execution role has the managed ECS policy; task roles have nothing.
    let attached = iam
        .list_attached_role_policies()
        .role_name("dashboard-prod-execution")
        .send()
        .await
        .expect("attached");
    assert_eq!(
        attached.attached_policies()[0].policy_name(),
        Some("AmazonECSTaskExecutionRolePolicy")
    );
    let task_policies = iam
        .list_attached_role_policies()
        .role_name("dashboard-prod-portal-task")
        .send()
        .await
        .expect("attached");
    assert!(task_policies.attached_policies().is_empty());
    let inline = iam
        .list_role_policies()
        .role_name("dashboard-prod-portal-task")
        .send()
        .await
        .expect("inline");
    assert!(inline.policy_names().is_empty());

    // Alarms per color on the ALB metrics the rollouts watch.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    let alarms: Vec<_> = cloudwatch
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
    let mut alarm_names: Vec<&str> = alarms
        .iter()
        .filter_map(|alarm| alarm.alarm_name())
        .collect();
    alarm_names.sort();
    assert_eq!(alarm_names.len(), 8, "{alarm_names:?}");
    let five_xx = alarms
        .iter()
        .find(|alarm| alarm.alarm_name() == Some("dashboard-prod-portal-green-5xx"))
        .expect("5xx alarm");
    assert_eq!(five_xx.metric_name(), Some("HTTPCode_Target_5XX_Count"));
    assert_eq!(five_xx.threshold(), Some(10.0));
    let dimensions: Vec<String> = five_xx
        .dimensions()
        .iter()
        .map(|d| {
            format!(
                "{}={}",
                d.name().unwrap_or_default(),
                d.value().unwrap_or_default()
            )
        })
        .collect();
    assert!(
        dimensions
            .iter()
            .any(|d| d.starts_with("TargetGroup=targetgroup/dashboard-prod-portal-green/")),
        "{dimensions:?}"
    );
    assert!(
        dimensions
            .iter()
            .any(|d| d.starts_with("LoadBalancer=app/dashboard-prod-public/")),
        "{dimensions:?}"
    );

    // Logs with retention.
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix("/dashctl/dashboard/prod/")
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("log groups");
    assert_eq!(groups.len(), 2);
    assert!(
        groups
            .iter()
            .all(|group| group.retention_in_days() == Some(30))
    );

    // Autoscaling: request count per target on the live (blue) target group.
    let policies = scaling
        .describe_scaling_policies()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id("service/dashboard-prod/dashboard-prod-portal-blue")
        .send()
        .await
        .expect("policies");
    let policy = &policies.scaling_policies()[0];
    let configuration = policy
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
    let targets = scaling
        .describe_scalable_targets()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_ids("service/dashboard-prod/dashboard-prod-portal-blue")
        .send()
        .await
        .expect("targets");
    assert_eq!(
        (
            targets.scalable_targets()[0].min_capacity(),
            targets.scalable_targets()[0].max_capacity()
        ),
        (2, 6)
    );

    // Second deploy: nothing to do, nothing duplicated.
    moto.run(&["deploy", "--env", "aws", "-f", SPEC])
        .succeeds()
        .stdout_contains("No changes.");
    let plan = moto.run(&["plan", "-f", SPEC]).succeeds();
    assert_eq!(plan.stdout(), "No changes.\n");
    assert_eq!(
        ec2.describe_vpcs()
            .set_filters(Some(tag_filter()))
            .send()
            .await
            .expect("vpcs")
            .vpcs()
            .len(),
        1
    );
    assert_eq!(
        elb.describe_load_balancers()
            .send()
            .await
            .expect("lbs")
            .load_balancers()
            .len(),
        2
    );

    // A new image rolls out blue/green: green gets it, then the traffic.
    moto.run(&[
        "deploy",
        "--env",
        "aws",
        "-f",
        SPEC,
        "--image",
        "portal=ghcr.io/example/dashctl-portal:1.2.0",
        "--bake",
        "0s",
    ])
    .succeeds()
    .contains(
        "image: ghcr.io/example/dashctl-portal:latest -> ghcr.io/example/dashctl-portal:1.2.0",
    )
    // The running release changes blue/green: nothing is updated in place.
    .contains("0 created, 0 updated, 0 deleted, 1 rolled out")
    .contains("portal: live on green (was blue)");

    // Status, as JSON.
    let status = moto
        .run(&["status", "--env", "aws", "-f", SPEC, "--output", "json"])
        .succeeds();
    let status: serde_json::Value = serde_json::from_slice(&status.output.stdout).expect("json");
    assert_eq!(status["app"], "dashboard");
    assert_eq!(status["environment"], "prod");
    let portal = status["services"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == "portal"))
        .expect("portal");
    assert_eq!(portal["public"], true);
    assert_eq!(portal["live_color"], "green");
    assert_eq!(portal["image"], "ghcr.io/example/dashctl-portal:1.2.0");
    assert_eq!(portal["desired"], 2);
    assert_eq!(
        portal["scaling"],
        serde_json::json!({"min": 2, "max": 6, "requests_per_target": 60000})
    );
    assert!(
        portal["url"]
            .as_str()
            .is_some_and(|url| url.starts_with("http://dashboard-prod-public-"))
    );
    assert!(portal.get("running").is_some());

    // Destroy: without --yes it lists and refuses; with --yes nothing tagged is left.
    moto.run(&["destroy", "-f", SPEC])
        .exits(2)
        .contains("Would remove (46)");
    moto.run(&["destroy", "--yes", "-f", SPEC])
        .succeeds()
        .contains("Removed (46)");
    assert!(
        ec2.describe_vpcs()
            .set_filters(Some(tag_filter()))
            .send()
            .await
            .expect("vpcs")
            .vpcs()
            .is_empty()
    );
    assert!(
        ec2.describe_subnets()
            .set_filters(Some(tag_filter()))
            .send()
            .await
            .expect("subnets")
            .subnets()
            .is_empty()
    );
    assert!(
        ec2.describe_security_groups()
            .set_filters(Some(tag_filter()))
            .send()
            .await
            .expect("sgs")
            .security_groups()
            .is_empty()
    );
    assert!(
        elb.describe_load_balancers()
            .send()
            .await
            .expect("lbs")
            .load_balancers()
            .is_empty()
    );
    assert!(
        elb.describe_target_groups()
            .send()
            .await
            .expect("tgs")
            .target_groups()
            .is_empty()
    );
    assert!(
        iam.list_roles()
            .path_prefix("/dashctl/dashboard/prod/")
            .send()
            .await
            .expect("roles")
            .roles()
            .is_empty()
    );
    assert!(
        logs.describe_log_groups()
            .log_group_name_prefix("/dashctl/dashboard/prod/")
            .send()
            .await
            .expect("logs")
            .log_groups()
            .is_empty()
    );
    moto.run(&["plan", "-f", SPEC])
        .succeeds()
        .contains("Plan: 45 to create, 0 to update, 0 to delete.");
}

#[tokio::test]
async fn two_apps_in_one_account_never_touch_each_other() {
    let moto = Moto::start();
    let minimal = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/minimal.yaml");
    // Look-alike names: `hello`/`dev` and `hello`/`dev2` share every name prefix but the last
    // character (`shop-eu`/`prod` against `shop`/`eu-prod` is refused by validate).
    let dir = tempfile::tempdir().expect("tempdir");
    let lookalike = dir.path().join("minimal-dev2.yaml");
    std::fs::write(
        &lookalike,
        std::fs::read_to_string(minimal)
            .expect("minimal")
            .replace("environment: dev", "environment: dev2"),
    )
    .expect("write");
    let lookalike = lookalike.to_str().expect("path");
    for spec in [SPEC, minimal, lookalike] {
        moto.run(&["deploy", "--env", "aws", "-f", spec])
            .succeeds()
            .contains(" 0 deleted");
    }
    let destroy = moto.run(&["destroy", "--yes", "-f", minimal]).succeeds();
    for other in ["dashboard-prod", "hello-dev2"] {
        destroy.lacks(other);
    }
    for spec in [SPEC, lookalike] {
        let plan = moto.run(&["plan", "-f", spec]).succeeds();
        assert_eq!(plan.stdout(), "No changes.\n", "{spec}: {}", plan.text());
    }
}

#[tokio::test]
async fn an_ecs_cluster_by_our_name_but_not_our_tags_is_left_alone() {
    let moto = Moto::start();
    let ecs = aws_sdk_ecs::Client::new(&moto.config().await);
    ecs.create_cluster()
        .cluster_name("hello-dev")
        .send()
        .await
        .expect("someone else's cluster");
    let minimal = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/minimal.yaml");
    for args in [
        &["plan", "-f", minimal][..],
        &["destroy", "--yes", "-f", minimal][..],
    ] {
        moto.run(args)
            .exits(1)
            .contains("an ECS cluster named hello-dev exists but is not tagged dashctl:app=hello");
    }
    let cluster = ecs
        .describe_clusters()
        .clusters("hello-dev")
        .send()
        .await
        .expect("describe");
    assert_eq!(cluster.clusters()[0].status(), Some("ACTIVE"));
}
