//! SDK clients on the AWS double, and the reads of what dashctl built there that more than one
//! test makes.

use std::collections::HashMap;

use aws_sdk_ecs::types::{ContainerDefinition, Service};
use aws_sdk_elasticloadbalancingv2::types::{Listener, LoadBalancer, TargetGroup};

use crate::moto::Moto;

/// Every item of a paginated AWS list, all pages read: `every!(elb.describe_target_groups(), "target groups")`.
macro_rules! every {
    ($request:expr, $what:expr) => {
        $request
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .expect($what)
    };
}
pub(crate) use every;

pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub iam: aws_sdk_iam::Client,
    pub rds: aws_sdk_rds::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub scaling: aws_sdk_applicationautoscaling::Client,
}

impl Aws {
    /// Clients for `moto`. Build them in the test that uses them: a client keeps connections
    /// on the tokio runtime it first ran on, and every test has its own runtime.
    pub async fn new(moto: &Moto) -> Self {
        let config = moto.config().await;
        Self {
            ec2: aws_sdk_ec2::Client::new(&config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            ecs: aws_sdk_ecs::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            rds: aws_sdk_rds::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            scaling: aws_sdk_applicationautoscaling::Client::new(&config),
        }
    }

    pub async fn load_balancers(&self) -> Vec<LoadBalancer> {
        every!(self.elb.describe_load_balancers(), "load balancers")
    }

    pub async fn load_balancer(&self, name: &str) -> LoadBalancer {
        let found = self
            .elb
            .describe_load_balancers()
            .names(name)
            .send()
            .await
            .unwrap_or_else(|error| panic!("load balancer {name}: {error:?}"));
        found.load_balancers()[0].clone()
    }

    pub async fn target_groups(&self) -> Vec<TargetGroup> {
        every!(self.elb.describe_target_groups(), "target groups")
    }

    pub async fn listeners(&self, balancer: &str) -> Vec<Listener> {
        let arn = self.load_balancer(balancer).await.load_balancer_arn;
        self.elb
            .describe_listeners()
            .set_load_balancer_arn(arn)
            .send()
            .await
            .expect("listeners")
            .listeners()
            .to_vec()
    }

    /// Where the listener's default action forwards: (target group name, weight), sorted by name.
    pub async fn forward_weights(&self, listener: &Listener) -> Vec<(String, i32)> {
        let groups = self.target_groups().await;
        let names: HashMap<&str, &str> = groups
            .iter()
            .filter_map(|group| Some((group.target_group_arn()?, group.target_group_name()?)))
            .collect();
        // dashctl always sends a ForwardConfig with both colors (the idle one at weight 0).
        let mut weights: Vec<(String, i32)> = listener.default_actions()[0]
            .forward_config()
            .expect("a forward config")
            .target_groups()
            .iter()
            .map(|group| {
                let arn = group.target_group_arn().unwrap_or_default();
                let name = names.get(arn).copied().unwrap_or(arn);
                (name.to_owned(), group.weight().unwrap_or(0))
            })
            .collect();
        weights.sort();
        weights
    }

    /// The ingress rules of the security group named `name`: (port, source), the source a
    /// CIDR block or another group's name.
    pub async fn ingress(&self, name: &str) -> Vec<(i32, String)> {
        let groups = every!(self.ec2.describe_security_groups(), "security groups");
        let names: HashMap<&str, &str> = groups
            .iter()
            .filter_map(|group| Some((group.group_id()?, group.group_name()?)))
            .collect();
        let name_of = |id: &str| names.get(id).copied().unwrap_or(id).to_owned();
        let group = groups
            .iter()
            .find(|group| group.group_name() == Some(name))
            .unwrap_or_else(|| panic!("no security group {name}"));
        let mut rules: Vec<(i32, String)> = group
            .ip_permissions()
            .iter()
            .flat_map(|rule| {
                let port = rule.from_port().unwrap_or_default();
                let groups = rule
                    .user_id_group_pairs()
                    .iter()
                    .filter_map(|pair| pair.group_id())
                    .map(move |id| (port, name_of(id)));
                let blocks = rule
                    .ip_ranges()
                    .iter()
                    .filter_map(|range| range.cidr_ip())
                    .map(move |cidr| (port, cidr.to_owned()));
                groups.chain(blocks).collect::<Vec<_>>()
            })
            .collect();
        rules.sort();
        rules
    }

    /// The ECS services `names` of `cluster`.
    pub async fn services(&self, cluster: &str, names: &[&str]) -> Vec<Service> {
        let described = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(names.iter().map(|name| name.to_string()).collect()))
            .send()
            .await
            .expect("services");
        described.services().to_vec()
    }

    /// The first container of the task definition `family_or_arn` (the latest revision of a
    /// family).
    pub async fn container(&self, family_or_arn: &str) -> ContainerDefinition {
        let described = self
            .ecs
            .describe_task_definition()
            .task_definition(family_or_arn)
            .send()
            .await
            .expect("task definition");
        described
            .task_definition()
            .and_then(|definition| definition.container_definitions().first().cloned())
            .expect("a container")
    }

    /// The rollout lock's parameter, if any run holds it (or left it).
    pub async fn rollout_lock(&self, app: &str, environment: &str) -> Option<String> {
        self.ssm
            .get_parameter()
            .name(format!("/dashctl/{app}/{environment}/rollout-lock"))
            .send()
            .await
            .ok()
            .and_then(|found| found.parameter()?.value().map(str::to_owned))
    }

    /// The targets registered in the target group named `name` (ip:port), sorted.
    pub async fn targets(&self, name: &str) -> Vec<String> {
        let arn = self
            .target_groups()
            .await
            .into_iter()
            .find(|group| group.target_group_name() == Some(name))
            .and_then(|group| group.target_group_arn)
            .unwrap_or_else(|| panic!("target group {name}"));
        let health = self
            .elb
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await
            .expect("target health");
        let mut targets: Vec<String> = health
            .target_health_descriptions()
            .iter()
            .filter_map(|description| description.target())
            .map(|target| {
                format!(
                    "{}:{}",
                    target.id().unwrap_or_default(),
                    target.port().unwrap_or(0)
                )
            })
            .collect();
        targets.sort();
        targets
    }

    /// Schedules of the ECS scheduled actions on `resource_id` (`service/cluster/name`).
    pub async fn scheduled_actions(&self, resource_id: &str) -> Vec<String> {
        let found = self
            .scaling
            .describe_scheduled_actions()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
            .resource_id(resource_id)
            .send()
            .await
            .expect("scheduled actions");
        found
            .scheduled_actions()
            .iter()
            .map(|action| action.schedule().to_owned())
            .collect()
    }

    /// Sets the listener's default action by hand (as someone in the console would): target
    /// group name -> weight.
    pub async fn set_forward_weights(&self, listener: &Listener, weights: &[(&str, i32)]) {
        use aws_sdk_elasticloadbalancingv2::types::{
            Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
        };
        let groups = self.target_groups().await;
        let tuples = weights.iter().map(|(name, weight)| {
            let arn = groups
                .iter()
                .find(|group| group.target_group_name() == Some(*name))
                .and_then(|group| group.target_group_arn())
                .unwrap_or_else(|| panic!("target group {name}"));
            TargetGroupTuple::builder()
                .target_group_arn(arn)
                .weight(*weight)
                .build()
        });
        let action = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(
                ForwardActionConfig::builder()
                    .set_target_groups(Some(tuples.collect()))
                    .build(),
            )
            .build();
        self.elb
            .modify_listener()
            .set_listener_arn(listener.listener_arn().map(str::to_owned))
            .default_actions(action)
            .send()
            .await
            .expect("listener changed by hand");
    }
}
