//! `dashctl deploy` on AWS: the plan, the infrastructure changes in dependency order, then a
//! blue/green rollout of every service whose release changed, under the rollout lock.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::events::{Event, Reach, Summary};
use crate::plan;
use crate::rollout::{self, Color, RolloutOptions};
use crate::spec::{LoadedSpec, Spec};

use super::model::{self, Inventory, Kind};
use super::names::Names;
use super::progress::Progress;
use super::{
    Aws, Overrides, State, apply, colors, database, desired, health, identity, lock, platform,
    rollout_options, traffic_record,
};

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
    live: &BTreeMap<String, Color>,
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
            let color = live.get(service).copied().unwrap_or(Color::Blue);
            inventory
                .ids
                .get(Kind::EcsService, &Names::new(spec).colored(service, color))
                .is_some()
        })
        .collect()
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
    let rollouts = rollout_services(&changes, &inventory, &live, spec);
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
        let image = model::find(&wanted, Kind::TaskDefinition, &names.family(service))
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
    let task_definitions = rollouts
        .iter()
        .map(|service| {
            model::find(&releases, Kind::TaskDefinition, &names.family(service))
                .map(|release| (service.clone(), release))
                .ok_or_else(|| anyhow::anyhow!("no task definition for {service}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut rolled = RolledOut {
        live: 0,
        paused: false,
    };
    rollout::deploy_all(
        &platform_,
        task_definitions,
        |service| {
            rollout_options(
                spec,
                service,
                options.bake,
                &options.cancel,
                options.wait_until,
            )
        },
        &|service, step| aws.events.rollout_step(service, step),
        |reached| {
            rolled.paused = aws.events.reached(reached);
            rolled.live += usize::from(!rolled.paused);
        },
    )
    .await?;
    Ok((applied, ids, rolled))
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
