//! The AWS platform: dashctl drives the AWS SDK directly (no CloudFormation, no Terraform).
//! `discover` finds what exists by tags, `desired` says what the spec wants, `plan::diff`
//! compares them, `apply` makes it so. One file per AWS concern.

mod apply;
mod balancer;
mod cluster;
mod desired;
mod discover;
mod errors;
pub mod health;
mod identity;
mod logs;
pub mod model;
mod names;
mod network;
mod progress;
mod scaling;
mod security;
mod status;
mod tags;

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context;
use aws_config::{BehaviorVersion, Region};

pub use status::{AwsStatus, ServiceReport};

use crate::plan;
use crate::rollout::Color;
use crate::spec::{LoadedSpec, Spec};
use model::{Inventory, Kind};
use names::Names;
use progress::Progress;

/// Command-line overrides for the AWS configuration.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub region: Option<String>,
    pub profile: Option<String>,
}

pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub scaling: aws_sdk_applicationautoscaling::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub region: String,
}

impl Aws {
    /// Region: `--region`, else the spec's `aws.region`, else the standard AWS configuration.
    /// Credentials, profiles and `AWS_ENDPOINT_URL` come from aws-config as usual.
    pub async fn connect(spec: &Spec, connection: &Connection) -> anyhow::Result<Self> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = connection
            .region
            .clone()
            .or_else(|| spec.aws.region.clone())
        {
            loader = loader.region(Region::new(region));
        }
        if let Some(profile) = &connection.profile {
            loader = loader.profile_name(profile);
        }
        let config = loader.load().await;
        let region = config.region().map(ToString::to_string).context(
            "no AWS region: set aws.region in the spec, pass --region, or set AWS_REGION",
        )?;
        Ok(Self {
            ec2: aws_sdk_ec2::Client::new(&config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            ecs: aws_sdk_ecs::Client::new(&config),
            scaling: aws_sdk_applicationautoscaling::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            region,
        })
    }

    /// The first `network.azs` available zones of the region, or the ones the VPC already uses.
    async fn zones(&self, spec: &Spec, inventory: &Inventory) -> anyhow::Result<Vec<String>> {
        let wanted = usize::from(spec.network.azs);
        let mut used: Vec<String> = inventory
            .resources
            .iter()
            .filter(|resource| resource.kind == Kind::Subnet && resource.get("tier") == "public")
            .map(|resource| (resource.name.clone(), resource.get("az").to_owned()))
            .collect::<BTreeMap<_, _>>()
            .into_values()
            .collect();
        if used.len() >= wanted {
            used.truncate(wanted);
            return Ok(used);
        }
        let zones = self
            .ec2
            .describe_availability_zones()
            .send()
            .await
            .map_err(|e| errors::explain("DescribeAvailabilityZones", e))?;
        let mut names: Vec<String> = zones
            .availability_zones()
            .iter()
            .filter(|zone| {
                zone.state()
                    .is_some_and(|state| state.as_str() == "available")
            })
            .filter_map(|zone| zone.zone_name().map(str::to_owned))
            .collect();
        names.sort();
        if names.len() < wanted {
            anyhow::bail!(
                "{} has {} availability zones; the spec asks for {wanted}",
                self.region,
                names.len()
            );
        }
        names.truncate(wanted);
        Ok(names)
    }
}

impl health::TargetHealth for Aws {
    async fn count(&self, target_group_arn: &str) -> anyhow::Result<(usize, usize)> {
        let described = self
            .elb
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .map_err(|e| errors::explain("DescribeTargetHealth", e))?;
        let targets = described.target_health_descriptions();
        let healthy = targets
            .iter()
            .filter(|target| {
                target
                    .target_health()
                    .and_then(|health| health.state())
                    .is_some_and(|state| state.as_str() == "healthy")
            })
            .count();
        Ok((healthy, targets.len()))
    }
}

/// The plan: discovered state against the spec.
pub async fn plan(aws: &Aws, spec: &Spec) -> anyhow::Result<Vec<plan::Change>> {
    let inventory = discover::inventory(aws, spec).await?;
    let azs = aws.zones(spec, &inventory).await?;
    let wanted = desired::resources(spec, &azs, &inventory.ids.dns);
    Ok(plan::diff(&wanted, &inventory.resources))
}

pub struct DeployOptions {
    pub gate: health::Gate,
    /// Change only this service's own resources (shared ones are still reconciled).
    pub only_service: Option<String>,
}

/// Prints the plan, applies it, waits for health, prints a summary with the public URL.
pub async fn deploy(aws: &Aws, loaded: &LoadedSpec, options: DeployOptions) -> anyhow::Result<()> {
    let spec = &loaded.spec;
    let started = Instant::now();
    let inventory = discover::inventory(aws, spec).await?;
    let azs = aws.zones(spec, &inventory).await?;
    let mut changes = plan::diff(
        &desired::resources(spec, &azs, &inventory.ids.dns),
        &inventory.resources,
    );
    if let Some(only) = &options.only_service {
        changes.retain(|change| apply::belongs(&inventory, spec, change, only));
    }
    print!("{}", plan::render(&changes));
    if changes.is_empty() {
        print_urls(spec, &inventory.ids.dns);
        return Ok(());
    }
    let progress = Progress::new();
    let (applied, ids) = apply::apply(
        aws,
        spec,
        &azs,
        inventory,
        options.only_service.as_deref(),
        &progress,
    )
    .await?;
    let names = Names::new(spec);
    let wanted: Vec<health::Wanted> = applied
        .rolled
        .iter()
        .filter_map(|service| {
            let definition = spec.services.get(service)?;
            let group = ids.get(Kind::TargetGroup, &names.colored(service, Color::Blue))?;
            Some(health::Wanted {
                service: service.clone(),
                target_group_arn: group.to_owned(),
                expected: definition.scaling.min.max(1) as usize,
            })
        })
        .collect();
    if !wanted.is_empty() && options.gate != health::Gate::Off {
        eprintln!("waiting for new tasks to pass their health checks...");
        health::wait_all(options.gate, aws, &wanted).await?;
    }
    println!(
        "Deployed {} ({}) to {}: {} created, {} updated, {} deleted in {:.1}s.",
        spec.app,
        spec.environment,
        aws.region,
        applied.created,
        applied.updated,
        applied.deleted,
        started.elapsed().as_secs_f64()
    );
    print_urls(spec, &ids.dns);
    Ok(())
}

fn print_urls(spec: &Spec, dns: &BTreeMap<String, String>) {
    for (name, service) in &spec.services {
        let url = desired::service_url(spec, name, dns);
        let scope = if service.public {
            "public"
        } else {
            "internal, VPC only"
        };
        println!("  {name}: {url} ({scope})");
    }
}

/// Lists what `destroy` removes (everything tagged with this app and environment), and
/// removes it when `confirmed`.
pub async fn destroy(aws: &Aws, spec: &Spec, confirmed: bool) -> anyhow::Result<Vec<plan::Change>> {
    let inventory = discover::inventory(aws, spec).await?;
    let deletes = plan::diff(&[], &inventory.resources);
    if !confirmed || deletes.is_empty() {
        return Ok(deletes);
    }
    let existing: BTreeMap<(Kind, String), &model::Resource> = inventory
        .resources
        .iter()
        .map(|resource| (resource.key(), resource))
        .collect();
    apply::delete_all(
        aws,
        spec,
        &deletes,
        &existing,
        &inventory.ids,
        &Progress::new(),
    )
    .await?;
    Ok(deletes)
}

pub async fn status(aws: &Aws, spec: &Spec) -> anyhow::Result<AwsStatus> {
    let inventory = discover::inventory(aws, spec).await?;
    status::collect(aws, spec, &inventory).await
}
