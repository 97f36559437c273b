//! `dashctl status` on AWS: per service, both colors, which is live and with what weight,
//! what each runs, counts and target health, scaling, URL, and a rollout in progress.

use serde::Serialize;

use super::colors::{listener_name, live_colors, weights};
use super::health::TargetHealth;
use super::model::{self, Inventory, Kind};
use super::names::Names;
use super::{Aws, cluster, desired, keep_warm, lock};
use crate::rollout::Color;
use crate::spec::Spec;
use crate::table;

#[derive(Debug, Clone, Serialize)]
pub struct AwsStatus {
    pub app: String,
    pub environment: String,
    /// Who holds the rollout lock, when a rollout runs.
    pub rollout_in_progress: Option<String>,
    /// The rollout lock with its journal: a rollout running, paused or left by a dashctl
    /// that died.
    pub lock: Option<lock::LockReport>,
    pub services: Vec<ServiceReport>,
    pub databases: Vec<super::database::DatabaseReport>,
}

impl AwsStatus {
    /// The `dashctl status --env aws` tables.
    pub fn table(&self) -> String {
        let mut out = format!("{} ({}) on AWS\n\n", self.app, self.environment);
        let dash = || "-".to_owned();
        out.push_str(&table::plain(
            [
                "SERVICE",
                "LIVE",
                "IMAGE",
                "RUNNING/DESIRED",
                "HEALTHY TARGETS",
                "SCALING",
                "URL",
            ],
            self.services.iter().map(|service| {
                let scaling = match (
                    service.scaling.min,
                    service.scaling.max,
                    service.scaling.requests_per_target,
                ) {
                    (Some(min), Some(max), Some(target)) => {
                        format!("{min}-{max} @ {target} req/min")
                    }
                    _ => dash(),
                };
                [
                    table::service_name(&service.name, service.public),
                    match (service.live_color, &service.kept_warm) {
                        (Some(live), Some(warm)) => {
                            format!("{live} ({} warm until {})", warm.color, warm.until)
                        }
                        (Some(live), None) => live.to_string(),
                        (None, _) => dash(),
                    },
                    service.image.clone().unwrap_or_else(dash),
                    format!("{}/{}", service.running, service.desired),
                    format!("{}/{}", service.healthy_targets, service.registered_targets),
                    scaling,
                    service
                        .url
                        .clone()
                        .unwrap_or_else(|| "(not deployed)".to_owned()),
                ]
            }),
        ));
        out.push_str("\n\n");
        out.push_str(&table::plain(
            [
                "SERVICE",
                "COLOR",
                "TRAFFIC",
                "TASK DEFINITION",
                "IMAGE",
                "RUNNING/DESIRED",
                "HEALTHY",
            ],
            self.services.iter().flat_map(|service| {
                service.colors.iter().map(|color| {
                    [
                        service.name.clone(),
                        color.color.to_string(),
                        format!("{}%", color.weight),
                        color.task_definition.clone().unwrap_or_else(dash),
                        color.image.clone().unwrap_or_else(dash),
                        format!("{}/{}", color.running, color.desired),
                        format!("{}/{}", color.healthy_targets, color.registered_targets),
                    ]
                })
            }),
        ));
        out.push('\n');
        if !self.databases.is_empty() {
            out.push('\n');
            out.push_str(&table::plain(
                [
                    "DATABASE",
                    "RDS INSTANCE",
                    "STATE",
                    "VERSION",
                    "ENDPOINT",
                    "DELETION PROTECTION",
                ],
                self.databases.iter().map(|database| {
                    [
                        database.name.clone(),
                        database.identifier.clone(),
                        database
                            .state
                            .clone()
                            .unwrap_or_else(|| "(not created)".to_owned()),
                        database.engine_version.clone().unwrap_or_else(dash),
                        database.endpoint.clone().unwrap_or_else(dash),
                        if database.deletion_protection {
                            "on"
                        } else {
                            "off"
                        }
                        .to_owned(),
                    ]
                }),
            ));
            out.push('\n');
        }
        if let Some(lock) = &self.lock {
            out.push_str(&format!("\n{}\n", lock.describe()));
        }
        out
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub name: String,
    pub public: bool,
    pub live_color: Option<Color>,
    /// The live color's image, desired and running counts.
    pub image: Option<String>,
    pub desired: i32,
    pub running: i32,
    pub healthy_targets: usize,
    pub registered_targets: usize,
    pub url: Option<String>,
    pub scaling: ScalingReport,
    /// The previous color kept up by `deploy.keep_previous`, and until when (RFC 3339, UTC):
    /// rolling back before then only moves traffic.
    pub kept_warm: Option<KeptWarm>,
    pub colors: Vec<ColorReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeptWarm {
    pub color: Color,
    pub until: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColorReport {
    pub color: Color,
    /// Percent of the listener's traffic.
    pub weight: u16,
    pub image: Option<String>,
    /// `family:revision`.
    pub task_definition: Option<String>,
    pub desired: i32,
    pub running: i32,
    pub healthy_targets: usize,
    pub registered_targets: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScalingReport {
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub requests_per_target: Option<u32>,
}

async fn color_report(
    aws: &Aws,
    spec: &Spec,
    inventory: &Inventory,
    service: &str,
    color: Color,
    weight: u16,
) -> anyhow::Result<ColorReport> {
    let names = Names::new(spec);
    let ecs_name = names.colored(service, color);
    let mut report = ColorReport {
        color,
        weight,
        image: None,
        task_definition: None,
        desired: 0,
        running: 0,
        healthy_targets: 0,
        registered_targets: 0,
    };
    if inventory.ids.get(Kind::EcsService, &ecs_name).is_some() {
        if let Some(found) = cluster::describe_service(aws, &names.base(), &ecs_name).await? {
            report.desired = found.desired_count();
            report.running = found.running_count();
            if let Some(arn) = found.task_definition() {
                report.task_definition = arn.rsplit('/').next().map(str::to_owned);
                report.image = cluster::describe_task_definition(aws, arn, inventory)
                    .await?
                    .map(|definition| definition.get("image").to_owned());
            }
        }
    }
    if let Some(arn) = inventory.ids.get(Kind::TargetGroup, &ecs_name) {
        (report.healthy_targets, report.registered_targets) = aws.count(arn).await?;
    }
    Ok(report)
}

pub async fn collect(aws: &Aws, spec: &Spec, inventory: &Inventory) -> anyhow::Result<AwsStatus> {
    let names = Names::new(spec);
    let live = live_colors(spec, inventory);
    let find = |kind: Kind, name: &str| model::find(&inventory.resources, kind, name);
    let mut services = Vec::new();
    for (name, definition) in &spec.services {
        let lb = names.load_balancer(definition.public);
        let has_listener = find(Kind::Listener, &listener_name(spec, name)).is_some();
        let split = weights(spec, name, &inventory.resources);
        let live_color = has_listener.then(|| live.get(name).copied().unwrap_or(Color::Blue));
        let mut colors = Vec::new();
        for color in [Color::Blue, Color::Green] {
            let weight = split
                .iter()
                .find(|(found, _)| *found == color)
                .map_or(0, |(_, weight)| *weight);
            colors.push(color_report(aws, spec, inventory, name, color, weight).await?);
        }
        let current = colors
            .iter()
            .find(|report| Some(report.color) == live_color)
            .cloned();
        let scaled = names.colored(name, live_color.unwrap_or(Color::Blue));
        let target = find(Kind::ScalableTarget, &names.scalable_resource(&scaled));
        let policy = find(Kind::ScalingPolicy, &names.scaling_policy(name));
        let kept_warm = match live_color {
            Some(live) => keep_warm::until(aws, &names, name, live.other())
                .await?
                .map(|until| KeptWarm {
                    color: live.other(),
                    until: humantime::format_rfc3339_seconds(until).to_string(),
                }),
            None => None,
        };
        services.push(ServiceReport {
            name: name.clone(),
            public: definition.public,
            live_color,
            image: current.as_ref().and_then(|report| report.image.clone()),
            desired: current.as_ref().map_or(0, |report| report.desired),
            running: current.as_ref().map_or(0, |report| report.running),
            healthy_targets: current.as_ref().map_or(0, |report| report.healthy_targets),
            registered_targets: current
                .as_ref()
                .map_or(0, |report| report.registered_targets),
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
            kept_warm,
            colors,
        });
    }
    let lock = lock::report(aws, spec).await?;
    Ok(AwsStatus {
        app: spec.app.clone(),
        environment: spec.environment.clone(),
        rollout_in_progress: lock
            .as_ref()
            .filter(|lock| lock.is_held())
            .map(|lock| lock.holder.clone()),
        lock,
        services,
        databases: super::database::reports(aws, spec).await?,
    })
}
