//! The AWS platform: dashctl drives the AWS SDK directly (no CloudFormation, no Terraform).
//! `discover` finds what exists by tags, `desired` says what the spec wants, `plan::diff`
//! compares them, `apply` makes it so. One file per verb (`deploy.rs`, `rollback.rs`,
//! `destroy.rs`, `unfinished_rollout.rs` for `rollout resume/abort`, `status.rs`) and one per
//! AWS resource kind; here the connection and what the verbs share.

mod alarms;
mod apply;
mod balancer;
mod cluster;
mod colors;
pub mod database;
mod deploy;
mod desired;
mod destroy;
mod discover;
mod errors;
pub mod health;
mod identity;
mod keep_warm;
mod listener_action;
mod lock;
pub mod log_reader;
mod logs;
mod metrics;
pub mod model;
mod names;
mod network;
mod overrides;
mod parameters;
mod platform;
mod progress;
mod retry;
mod rollback;
mod scaling;
mod security;
mod status;
pub mod tags;
mod test_route;
mod traffic_record;
mod unfinished_rollout;

pub use deploy::{DeployOptions, UnconfirmedDatabaseDeletion, WaitUntilNeedsOneService, deploy};
pub use destroy::destroy;
pub use lock::{LockReport, NoUnfinishedRollout, UnfinishedRollout, report as rollout_report};
pub use overrides::Overrides;
pub use rollback::{RollbackOptions, rollback};
pub use traffic_record::TrafficDrift;
pub use unfinished_rollout::{ResumeOptions, abort as abort_rollout, resume as resume_rollout};

use std::collections::BTreeMap;

use anyhow::Context;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};

pub use status::{AwsStatus, ServiceReport};

use crate::events::Events;
use crate::plan;
use crate::rollout::{self, Color, RolloutOptions};
use crate::spec::Spec;
use model::{Inventory, Kind};

/// How to reach AWS (the standard AWS_* environment variables and AWS_ENDPOINT_URL also apply):
/// global command-line flags, passed down as they are.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Connection {
    /// AWS region (default: the spec's aws.region, then AWS_REGION / the profile's region).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config.
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
}

#[derive(Clone)]
pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub scaling: aws_sdk_applicationautoscaling::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub rds: aws_sdk_rds::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub region: String,
    /// `aws`, `aws-cn` or `aws-us-gov`: from the caller's own ARN, for the ARNs dashctl writes.
    pub partition: String,
    /// Who is calling (`sts:GetCallerIdentity`'s ARN): recorded in the rollout lock, so
    /// whoever finds it held knows whom to ask.
    pub caller: String,
    /// Where what happens is reported: the command's renderer.
    pub events: Events,
}

impl Aws {
    /// Region: `--region`, else the spec's `aws.region`, else the standard AWS configuration.
    /// Credentials, profiles and `AWS_ENDPOINT_URL` come from aws-config as usual.
    pub async fn connect(
        spec: &Spec,
        connection: &Connection,
        events: Events,
    ) -> anyhow::Result<Self> {
        // Adaptive retries slow down on throttling (PutMetricAlarm, for one, allows a few
        // calls a second) instead of failing a deploy halfway.
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::adaptive().with_max_attempts(5));
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
        let identity = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| errors::explain("GetCallerIdentity", e))?;
        let partition = identity
            .arn()
            .and_then(|arn| arn.split(':').nth(1))
            .filter(|partition| !partition.is_empty())
            .unwrap_or("aws")
            .to_owned();
        let caller = identity
            .arn()
            .unwrap_or("an unknown AWS identity")
            .to_owned();
        Ok(Self {
            partition,
            caller,
            ec2: aws_sdk_ec2::Client::new(&config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            ecs: aws_sdk_ecs::Client::new(&config),
            scaling: aws_sdk_applicationautoscaling::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            rds: aws_sdk_rds::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            region,
            events,
        })
    }

    pub fn placement<'a>(&'a self, azs: &'a [String]) -> desired::Placement<'a> {
        desired::Placement {
            azs,
            partition: &self.partition,
        }
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
        // Local Zones and Wavelength Zones cannot hold an ALB subnet pair.
        let zones = self
            .ec2
            .describe_availability_zones()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("zone-type")
                    .values("availability-zone")
                    .build(),
            )
            .send()
            .await
            .map_err(|e| errors::explain("DescribeAvailabilityZones", e))?;
        let mut names: Vec<String> = zones
            .availability_zones()
            .iter()
            .filter(|zone| {
                zone.state()
                    .is_some_and(|state| state.as_str() == "available")
                    && zone
                        .zone_type()
                        .is_none_or(|kind| kind == "availability-zone")
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

/// A target group's targets by state, as DescribeTargetHealth reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetCounts {
    pub healthy: usize,
    /// Failing their health checks: `unhealthy`, never `initial`, `draining` or `unused`.
    pub unhealthy: usize,
    pub total: usize,
}

impl Aws {
    pub async fn target_counts(&self, target_group_arn: &str) -> anyhow::Result<TargetCounts> {
        let described = self
            .elb
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .map_err(|e| errors::explain("DescribeTargetHealth", e))?;
        let mut counts = TargetCounts::default();
        for target in described.target_health_descriptions() {
            counts.total += 1;
            match target
                .target_health()
                .and_then(|health| health.state())
                .map(|state| state.as_str())
            {
                Some("healthy") => counts.healthy += 1,
                Some("unhealthy") => counts.unhealthy += 1,
                _ => {}
            }
        }
        Ok(counts)
    }
}

impl health::TargetHealth for Aws {
    async fn count(&self, target_group_arn: &str) -> anyhow::Result<(usize, usize)> {
        let counts = self.target_counts(target_group_arn).await?;
        Ok((counts.healthy, counts.total))
    }
}

/// The plan: discovered state against the spec.
pub async fn plan(aws: &Aws, spec: &Spec) -> anyhow::Result<Vec<plan::Change>> {
    let state = State::read(aws, spec).await?;
    Ok(plan::diff(&state.wanted, &state.inventory.resources))
}

/// What exists and what the spec wants of it, read once per command.
struct State {
    inventory: Inventory,
    azs: Vec<String>,
    live: BTreeMap<String, Color>,
    wanted: Vec<model::Resource>,
}

impl State {
    async fn read(aws: &Aws, spec: &Spec) -> anyhow::Result<Self> {
        let inventory = discover::inventory(aws, spec).await?;
        let azs = aws.zones(spec, &inventory).await?;
        let live = colors::live_colors(spec, &inventory);
        let wanted = desired::wanted(
            spec,
            &aws.placement(&azs),
            &inventory.ids,
            &live,
            &inventory.resources,
        );
        Ok(Self {
            inventory,
            azs,
            live,
            wanted,
        })
    }
}

/// `service`'s rollout options on AWS: its `deploy:` section, `--bake` over its bake.
fn rollout_options(
    spec: &Spec,
    service: &str,
    bake: Option<std::time::Duration>,
    cancel: &tokio_util::sync::CancellationToken,
    wait_until: Option<rollout::WaitUntil>,
) -> RolloutOptions {
    let options = RolloutOptions::for_service(spec, service, cancel.clone());
    RolloutOptions {
        bake: bake.unwrap_or(options.bake),
        wait_until,
        // Often enough that a release moves on within 2 s of turning healthy (a release or
        // rollback used to wait up to 10 s past it); two Describe calls per service every 2 s
        // stay far below ECS's and ELB's API rates.
        poll_interval: (options.health_timeout / 10).clamp(
            std::time::Duration::from_millis(200),
            std::time::Duration::from_secs(2),
        ),
        ..options
    }
}

pub async fn status(aws: &Aws, spec: &Spec) -> anyhow::Result<AwsStatus> {
    let inventory = discover::inventory(aws, spec).await?;
    status::collect(aws, spec, &inventory).await
}
