//! `dashctl status` on AWS: per service, what runs and how healthy it is.

use serde::Serialize;

use super::health::TargetHealth;
use super::model::{Inventory, Kind};
use super::names::Names;
use super::{Aws, desired, errors::explain};
use crate::rollout::Color;
use crate::spec::Spec;

#[derive(Debug, Clone, Serialize)]
pub struct AwsStatus {
    pub app: String,
    pub environment: String,
    pub services: Vec<ServiceReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub name: String,
    pub public: bool,
    pub live_color: Option<Color>,
    pub image: Option<String>,
    pub desired: i32,
    pub running: i32,
    pub healthy_targets: usize,
    pub registered_targets: usize,
    pub url: Option<String>,
    pub scaling: ScalingReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScalingReport {
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub requests_per_target: Option<u32>,
}

pub async fn collect(aws: &Aws, spec: &Spec, inventory: &Inventory) -> anyhow::Result<AwsStatus> {
    let names = Names::new(spec);
    let find = |kind: Kind, name: &str| {
        inventory
            .resources
            .iter()
            .find(|resource| resource.kind == kind && resource.name == name)
    };
    let mut services = Vec::new();
    for (name, definition) in &spec.services {
        let lb = names.load_balancer(definition.public);
        let listener_port = if definition.public {
            if spec.aws.certificate_arn.is_some() {
                443
            } else {
                80
            }
        } else {
            definition.port
        };
        let listener = find(Kind::Listener, &format!("{lb}:{listener_port}"));
        let live_color = listener.and_then(|listener| {
            let group = listener.get("action").strip_prefix("forward:")?;
            [Color::Blue, Color::Green]
                .into_iter()
                .find(|color| group == names.colored(name, *color))
        });
        let ecs_name = names.colored(name, live_color.unwrap_or(Color::Blue));
        let (mut desired_count, mut running) = (0, 0);
        if inventory.ids.get(Kind::EcsService, &ecs_name).is_some() {
            let described = aws
                .ecs
                .describe_services()
                .cluster(names.base())
                .services(&ecs_name)
                .send()
                .await
                .map_err(|e| explain("DescribeServices", e))?;
            if let Some(service) = described.services().first() {
                desired_count = service.desired_count();
                running = service.running_count();
            }
        }
        let (healthy_targets, registered_targets) =
            match inventory.ids.get(Kind::TargetGroup, &ecs_name) {
                Some(arn) => aws.count(arn).await?,
                None => (0, 0),
            };
        let target = find(Kind::ScalableTarget, &names.scalable_resource(&ecs_name));
        let policy = find(Kind::ScalingPolicy, &names.scaling_policy(name));
        services.push(ServiceReport {
            name: name.clone(),
            public: definition.public,
            live_color,
            image: find(Kind::TaskDefinition, &names.family(name))
                .map(|definition| definition.get("image").to_owned()),
            desired: desired_count,
            running,
            healthy_targets,
            registered_targets,
            url: inventory
                .ids
                .dns
                .contains_key(&lb)
                .then(|| desired::service_url(spec, name, &inventory.ids.dns)),
            scaling: ScalingReport {
                min: target.and_then(|target| target.get("min").parse().ok()),
                max: target.and_then(|target| target.get("max").parse().ok()),
                requests_per_target: policy
                    .and_then(|policy| policy.get("requests_per_target").parse().ok()),
            },
        });
    }
    Ok(AwsStatus {
        app: spec.app.clone(),
        environment: spec.environment.clone(),
        services,
    })
}
