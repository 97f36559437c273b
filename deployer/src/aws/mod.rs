//! The AWS platform: dashctl drives the AWS SDK directly (no CloudFormation, no Terraform).
//! `discover` finds what exists by tags, `desired` says what the spec wants, `plan::diff`
//! compares them, `apply` makes it so. One file per AWS concern.

mod alarms;
mod apply;
mod balancer;
mod cluster;
mod colors;
pub mod database;
mod desired;
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
mod scaling;
mod security;
mod status;
pub mod tags;
mod test_route;
mod traffic_record;
mod unfinished_rollout;

pub use lock::{LockReport, NoUnfinishedRollout, UnfinishedRollout, report as rollout_report};
pub use overrides::Overrides;
pub use traffic_record::TrafficDrift;
pub use unfinished_rollout::{ResumeOptions, abort as abort_rollout, resume as resume_rollout};

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::Context;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};

pub use status::{AwsStatus, ServiceReport};

use crate::events::{Event, Events, Reach, Summary};
use crate::plan;
use crate::rollout::{self, Color, RolloutOptions};
use crate::spec::{LoadedSpec, Spec};
use model::{Inventory, Kind};
use names::Names;
use progress::Progress;

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

pub struct DeployOptions {
    /// Change only this service's own resources (shared ones are still reconciled).
    pub only_service: Option<String>,
    /// Print what would happen and change nothing.
    pub dry_run: bool,
    /// Override every service's `deploy.bake`.
    pub bake: Option<std::time::Duration>,
    /// `--break-lock`, `--accept-live-traffic`.
    pub overrides: Overrides,
    /// `--yes`: the databases the spec no longer has may be deleted, as this says. Without
    /// it a deploy that would delete one refuses before changing anything.
    pub delete_databases: Option<database::Deletion>,
    /// Ctrl-C: abandons a rollout before its final switch.
    pub cancel: tokio_util::sync::CancellationToken,
    /// Stop the rollout at this stage, journaled for `rollout resume` or `rollout abort`.
    pub wait_until: Option<rollout::WaitUntil>,
}

/// `--wait-until` stops one rollout, and this deploy would roll out several.
#[derive(Debug, thiserror::Error)]
#[error(
    "--wait-until stops one service's rollout, but this deploy rolls out {}; pick one with --service",
    .services.join(", ")
)]
pub struct WaitUntilNeedsOneService {
    pub services: Vec<String>,
}

/// A deploy would delete databases and `--yes` was not given.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to delete database{} {} (no longer in the spec) without --yes; with --yes each leaves a final snapshot (--skip-final-snapshot for none)",
    if .databases.len() == 1 { "" } else { "s" },
    .databases.join(", ")
)]
pub struct UnconfirmedDatabaseDeletion {
    pub databases: Vec<String>,
}

/// Services whose running release changes: their task definition differs from what the live
/// color runs. These go out blue/green instead of being updated in place.
fn rollout_services(
    changes: &[plan::Change],
    inventory: &Inventory,
    spec: &Spec,
) -> BTreeSet<String> {
    changes
        .iter()
        .filter(|change| {
            change.kind == Kind::TaskDefinition && matches!(change.action, plan::Action::Update(_))
        })
        .filter_map(|change| {
            spec.services
                .keys()
                .find(|service| Names::new(spec).family(service) == change.name)
                .cloned()
        })
        .filter(|service| {
            let live = colors::live_colors(spec, inventory);
            let color = live.get(service).copied().unwrap_or(Color::Blue);
            inventory
                .ids
                .get(Kind::EcsService, &Names::new(spec).colored(service, color))
                .is_some()
        })
        .collect()
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

/// What a rollout of `service` will do, step by step, for the plan and `--dry-run`.
fn describe_rollout(
    spec: &Spec,
    service: &str,
    live: Color,
    image: &str,
    options: &RolloutOptions,
) -> Vec<String> {
    let names = Names::new(spec);
    let idle = live.other();
    let mut steps = vec![
        format!(
            "start {} with {image} at the live color's task count",
            names.colored(service, idle)
        ),
        format!(
            "wait until its targets in {} are healthy (up to {})",
            names.colored(service, idle),
            humantime::format_duration(options.health_timeout)
        ),
    ];
    let test_route = format!(
        "add a rule to {} forwarding `{}: {idle}` to it until the switch",
        colors::listener_name(spec, service),
        rollout::TEST_HEADER
    );
    steps.push(match &options.smoke_test {
        Some(smoke) => format!(
            "{test_route}; run the smoke test `{}` against it (up to {})",
            smoke.command.join(" "),
            humantime::format_duration(smoke.timeout)
        ),
        None => test_route,
    });
    // deploy.judge: the metrics watched besides health.
    let judged = if options.judge.is_some() {
        format!(", judging its 5xx rate and p99 against {live}'s (deploy.judge)")
    } else {
        String::new()
    };
    for (percent, duration) in &options.canary {
        steps.push(format!(
            "send {percent}% of {} to {idle} for {}{judged}",
            colors::listener_name(spec, service),
            humantime::format_duration(*duration)
        ));
    }
    steps.push(format!(
        "switch {} to {idle} and move autoscaling to it",
        colors::listener_name(spec, service)
    ));
    steps.push(format!(
        "bake {}{judged}{}",
        humantime::format_duration(options.bake),
        if options.auto_rollback {
            " (switch back if it turns unhealthy)"
        } else {
            ""
        }
    ));
    steps.push(if options.keep_previous.is_zero() {
        format!(
            "scale {} to 0 (kept for rollback)",
            names.colored(service, live)
        )
    } else {
        format!(
            "keep {} at its size for {} (rollback only moves traffic), then scale it to 0",
            names.colored(service, live),
            humantime::format_duration(options.keep_previous)
        )
    });
    steps
}

/// Prints the plan, applies infrastructure changes, rolls changed services out blue/green,
/// and prints a summary with the URLs.
pub async fn deploy(aws: &Aws, loaded: &LoadedSpec, options: DeployOptions) -> anyhow::Result<()> {
    let spec = &loaded.spec;
    // The lock comes before the plan: a plan computed while another run changes things
    // would be stale by the time it is applied.
    let lock = if options.dry_run {
        None
    } else {
        Some(
            lock::Lock::acquire(
                aws,
                spec,
                "deploy",
                options.overrides.break_lock,
                lock::Journaled::Refuse,
            )
            .await?,
        )
    };
    let result = plan_and_deploy(aws, loaded, &options, lock.as_ref()).await;
    if let Some(lock) = lock {
        lock.release(aws).await?;
    }
    result
}

async fn plan_and_deploy(
    aws: &Aws,
    loaded: &LoadedSpec,
    options: &DeployOptions,
    lock: Option<&lock::Lock>,
) -> anyhow::Result<()> {
    let spec = &loaded.spec;
    let started = Instant::now();
    let State {
        inventory,
        azs,
        live,
        wanted,
    } = State::read(aws, spec).await?;
    traffic_record::check(
        aws,
        spec,
        &inventory.resources,
        "deploy",
        options.overrides.accept_live_traffic,
    )
    .await?;
    let mut changes = plan::diff(&wanted, &inventory.resources);
    if let Some(only) = &options.only_service {
        let owners = apply::owners(&wanted, &inventory.resources);
        changes.retain(|change| apply::belongs(&owners, change, only));
    }
    let rollouts = rollout_services(&changes, &inventory, spec);
    if options.wait_until.is_some() && rollouts.len() > 1 {
        return Err(WaitUntilNeedsOneService {
            services: rollouts.into_iter().collect(),
        }
        .into());
    }
    aws.events.emit(Event::Plan {
        changes: changes.clone(),
    });
    let doomed: Vec<String> = changes
        .iter()
        .filter(|change| change.kind == Kind::Database && change.action == plan::Action::Delete)
        .map(|change| change.name.clone())
        .collect();
    if !doomed.is_empty() && options.delete_databases.is_none() && !options.dry_run {
        return Err(UnconfirmedDatabaseDeletion { databases: doomed }.into());
    }
    let names = Names::new(spec);
    for service in &rollouts {
        let color = live.get(service).copied().unwrap_or(Color::Blue);
        let image = wanted
            .iter()
            .find(|resource| {
                resource.kind == Kind::TaskDefinition && resource.name == names.family(service)
            })
            .map_or("", |resource| resource.get("image"));
        aws.events.emit(Event::RolloutPlan {
            service: service.clone(),
            live: color,
            steps: describe_rollout(
                spec,
                service,
                color,
                image,
                &rollout_options(spec, service, options.bake, &options.cancel, None),
            ),
        });
    }
    if changes.is_empty() {
        report_urls(aws, spec, &inventory.ids.dns);
        return Ok(());
    }
    let Some(lock) = lock.filter(|_| !options.dry_run) else {
        aws.events.emit(Event::DryRun);
        return Ok(());
    };
    for role in identity::ensure_service_linked_roles(aws).await? {
        aws.events.emit(Event::ServiceLinkedRoleCreated {
            role: role.to_owned(),
        });
    }
    let (applied, ids, rolled) =
        apply_and_roll_out(aws, spec, &azs, inventory, &live, &rollouts, options, lock).await?;
    if rolled.paused {
        return Ok(());
    }
    aws.events.emit(Event::Deployed(Summary {
        app: spec.app.clone(),
        environment: spec.environment.clone(),
        region: aws.region.clone(),
        created: applied.created,
        updated: applied.updated,
        deleted: applied.deleted,
        rolled_out: rolled.live,
        took: started.elapsed(),
    }));
    report_urls(aws, spec, &ids.dns);
    Ok(())
}

/// How many rollouts went live, and whether the last one paused (`--wait-until`).
struct RolledOut {
    live: usize,
    paused: bool,
}

#[allow(clippy::too_many_arguments)]
async fn apply_and_roll_out(
    aws: &Aws,
    spec: &Spec,
    azs: &[String],
    inventory: Inventory,
    live: &BTreeMap<String, Color>,
    rollouts: &BTreeSet<String>,
    options: &DeployOptions,
    lock: &lock::Lock,
) -> anyhow::Result<(apply::Applied, model::Ids, RolledOut)> {
    let progress = Progress::new(&aws.events);
    // Without --yes nothing reaches here that deletes a database (checked above).
    let keep_everything = database::Deletion::new(false);
    let scope = apply::Scope {
        only_service: options.only_service.as_deref(),
        rollouts,
        live,
        cancel: &options.cancel,
        deletion: options
            .delete_databases
            .as_ref()
            .unwrap_or(&keep_everything),
    };
    let place = aws.placement(azs);
    let (applied, ids) = apply::apply(aws, spec, &place, inventory, &scope, &progress).await?;
    let names = Names::new(spec);

    // First deploys and in-place changes: wait for the live color to be healthy.
    let wanted: Vec<health::Wanted> = applied
        .rolled
        .iter()
        .filter(|service| !rollouts.contains(*service))
        .filter_map(|service| {
            let definition = spec.services.get(service)?;
            let color = live.get(service).copied().unwrap_or(Color::Blue);
            let group = ids.get(Kind::TargetGroup, &names.colored(service, color))?;
            Some(health::Wanted {
                service: service.clone(),
                target_group_arn: group.to_owned(),
                expected: definition.scaling.min.max(1) as usize,
            })
        })
        .collect();
    if !wanted.is_empty() {
        aws.events.emit(Event::WaitingForHealthyTasks);
        let timeout = spec
            .services
            .values()
            .map(|definition| definition.deploy.health_timeout.0)
            .max()
            .unwrap_or_default();
        health::wait_all(timeout, health::POLL, aws, &wanted).await?;
    }

    let releases = desired::resources(spec, &place, &ids, live);
    // What apply left on the listeners is now what dashctl last set.
    traffic_record::record(aws, spec, traffic_record::of(spec, &releases)).await?;
    let platform_ = platform::AwsPlatform::new(aws, spec, ids.clone()).journaling(lock);
    let mut rolled = RolledOut {
        live: 0,
        paused: false,
    };
    for service in rollouts {
        let release = releases
            .iter()
            .find(|resource| {
                resource.kind == Kind::TaskDefinition && resource.name == names.family(service)
            })
            .ok_or_else(|| anyhow::anyhow!("no task definition for {service}"))?;
        let report = aws.events.rollout_steps(service);
        let reached = rollout::deploy(
            &platform_,
            service,
            release,
            &rollout_options(
                spec,
                service,
                options.bake,
                &options.cancel,
                options.wait_until,
            ),
            &report,
        )
        .await?;
        rolled.paused = aws.events.reached(reached);
        rolled.live += usize::from(!rolled.paused);
    }
    Ok((applied, ids, rolled))
}

pub struct RollbackOptions {
    /// `--break-lock`, `--accept-live-traffic`.
    pub overrides: Overrides,
    /// Ctrl-C: abandons a rollback before its switch.
    pub cancel: tokio_util::sync::CancellationToken,
}

/// Switches services back to their other color (scaling it up first), under the rollout lock.
/// Services with nothing to roll back to are skipped when several are asked for.
pub async fn rollback(
    aws: &Aws,
    spec: &Spec,
    services: &[String],
    options: &RollbackOptions,
) -> anyhow::Result<rollout::Rollbacks> {
    let lock = lock::Lock::acquire(
        aws,
        spec,
        "rollback",
        options.overrides.break_lock,
        lock::Journaled::Refuse,
    )
    .await?;
    let inventory = match rollback_inventory(aws, spec, options).await {
        Ok(inventory) => inventory,
        Err(error) => {
            lock.release(aws).await?;
            return Err(error);
        }
    };
    let platform_ = platform::AwsPlatform::new(aws, spec, inventory.ids.clone());
    let rolled = rollout::rollback_all(
        &platform_,
        services,
        |service| rollout_options(spec, service, None, &options.cancel, None),
        &|service, step| {
            aws.events.emit(Event::Rollout {
                service: service.to_owned(),
                step,
            });
        },
    )
    .await;
    lock.release(aws).await?;
    Ok(rolled?)
}

/// What exists, once it is clear that traffic is where dashctl left it.
async fn rollback_inventory(
    aws: &Aws,
    spec: &Spec,
    options: &RollbackOptions,
) -> anyhow::Result<Inventory> {
    let inventory = discover::inventory(aws, spec).await?;
    traffic_record::check(
        aws,
        spec,
        &inventory.resources,
        "roll back",
        options.overrides.accept_live_traffic,
    )
    .await?;
    Ok(inventory)
}

fn report_urls(aws: &Aws, spec: &Spec, dns: &BTreeMap<String, String>) {
    for (name, service) in &spec.services {
        aws.events.emit(Event::Endpoint {
            service: name.clone(),
            url: desired::service_url(spec, name, dns),
            reach: if service.public {
                Reach::Public
            } else {
                Reach::Vpc
            },
        });
    }
}

/// Lists what `destroy` removes (everything tagged with this app and environment), and
/// removes it when `deletion` confirms it (saying what databases keep).
pub async fn destroy(
    aws: &Aws,
    spec: &Spec,
    deletion: Option<&database::Deletion>,
    break_lock: bool,
) -> anyhow::Result<Vec<plan::Change>> {
    let Some(deletion) = deletion else {
        let inventory = discover::inventory(aws, spec).await?;
        return Ok(plan::diff(&[], &inventory.resources));
    };
    // A destroy during a rollout would pull resources from under it.
    let lock =
        lock::Lock::acquire(aws, spec, "destroy", break_lock, lock::Journaled::Discard).await?;
    let result = destroy_locked(aws, spec, deletion).await;
    lock.release(aws).await?;
    result
}

async fn destroy_locked(
    aws: &Aws,
    spec: &Spec,
    deletion: &database::Deletion,
) -> anyhow::Result<Vec<plan::Change>> {
    let inventory = discover::inventory(aws, spec).await?;
    let deletes = plan::diff(&[], &inventory.resources);
    // No listener left to have weights: the record goes too (a later deploy starts afresh).
    traffic_record::forget(aws, spec).await?;
    if deletes.is_empty() {
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
        deletion,
        &Progress::new(&aws.events),
    )
    .await?;
    Ok(deletes)
}

pub async fn status(aws: &Aws, spec: &Spec) -> anyhow::Result<AwsStatus> {
    let inventory = discover::inventory(aws, spec).await?;
    status::collect(aws, spec, &inventory).await
}
