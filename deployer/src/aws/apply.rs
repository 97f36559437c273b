//! Makes AWS match the desired resources: kind by kind in dependency order, resources of one
//! kind in parallel, then deletions in reverse order.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt;

use super::model::{Ids, Inventory, Kind, Resource};
use super::names::Names;
use super::progress::Progress;
use super::retry::{self, Transient};
use super::{
    Aws, alarms, balancer, cluster, database, desired, identity, logs, network, scaling, security,
};
use crate::plan::{Action, Change, diff};
use crate::rollout::Color;
use crate::spec::Spec;

/// At most this many AWS calls of one step run at once: enough to go quickly, few enough to stay
/// under the per-account API rate limits (throttled calls are retried by the SDK's adaptive mode).
const CONCURRENCY: usize = 4;

/// Runs the futures with at most `CONCURRENCY` in flight; results in completion order.
async fn bounded<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    futures_util::stream::iter(futures)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

/// What an apply did, for the summary.
#[derive(Debug, Default)]
pub struct Applied {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    /// Services whose tasks were (re)deployed: their health is worth waiting for.
    pub rolled: BTreeSet<String>,
}

struct Step<'a> {
    resource: &'a Resource,
    existing: Option<&'a Resource>,
    changed: Vec<String>,
}

fn label(change: &Change) -> String {
    if change.kind == Kind::SecurityGroup {
        return format!("set rules of security group {}", change.name);
    }
    let verb = match change.action {
        Action::Create => "create",
        Action::Update(_) => "update",
        Action::Delete => "delete",
    };
    format!("{verb} {} {}", change.kind, change.name)
}

/// The service each resource belongs to (None: shared), from the desired and existing sides.
pub fn owners(
    wanted: &[Resource],
    existing: &[Resource],
) -> BTreeMap<(Kind, String), Option<String>> {
    existing
        .iter()
        .chain(wanted)
        .map(|resource| (resource.key(), resource.service.clone()))
        .collect()
}

/// Whether `change` is within `only`: that service's own resources, or shared ones.
pub fn belongs(
    owners: &BTreeMap<(Kind, String), Option<String>>,
    change: &Change,
    only: &str,
) -> bool {
    owners
        .get(&(change.kind, change.name.clone()))
        .cloned()
        .flatten()
        .is_none_or(|owner| owner == only)
}

/// What an apply leaves alone or narrows to.
pub struct Scope<'a> {
    /// Change only this service's own resources (and shared ones).
    pub only_service: Option<&'a str>,
    /// Services whose new release goes out blue/green afterwards: their task definition
    /// and ECS service are not touched here.
    pub rollouts: &'a BTreeSet<String>,
    pub live: &'a BTreeMap<String, Color>,
    /// Ctrl-C: stop before the next kind of resource (calls in flight finish).
    pub cancel: &'a tokio_util::sync::CancellationToken,
    /// What deleting a database the spec no longer has keeps (the command has confirmed it).
    pub deletion: &'a database::Deletion,
}

/// Creates and updates kind by kind in dependency order, then deletes what the spec no longer
/// has, newest kinds first. Returns the counts and every id (new ones included).
pub async fn apply(
    aws: &Aws,
    spec: &Spec,
    place: &desired::Placement<'_>,
    inventory: Inventory,
    scope: &Scope<'_>,
    progress: &Progress,
) -> anyhow::Result<(Applied, Ids)> {
    let Inventory {
        resources: existing,
        mut ids,
    } = inventory;
    let existing_by_key: BTreeMap<(Kind, String), &Resource> = existing
        .iter()
        .map(|resource| (resource.key(), resource))
        .collect();
    let mut applied = Applied::default();
    let mut new_revisions: BTreeSet<String> = BTreeSet::new();

    for kind in Kind::ALL {
        if scope.cancel.is_cancelled() {
            anyhow::bail!(
                "interrupted before the {kind} step; what was created so far stays and the next deploy continues from there"
            );
        }
        // Recomputed per kind: task definitions need the DNS names of load balancers
        // created a moment ago.
        let wanted: Vec<Resource> = desired::wanted(spec, place, &ids, scope.live, &existing)
            .into_iter()
            .filter(|resource| resource.kind == kind)
            .collect();
        let mut steps = steps(kind, &wanted, &existing, &existing_by_key, scope);
        if kind == Kind::EcsService {
            steps.extend(revision_steps(
                &wanted,
                &steps,
                &new_revisions,
                &existing_by_key,
            ));
        }
        if steps.is_empty() {
            continue;
        }
        if kind == Kind::SecurityGroup {
            create_security_groups(aws, spec, &steps, &mut ids, progress).await?;
        }
        let results = run_steps(aws, spec, place.azs, &steps, &ids, progress).await;
        record(kind, results, &mut ids, &mut applied, &mut new_revisions)?;
        if kind == Kind::Database {
            // The tasks configured next are told each database's endpoint and secret.
            database::refresh_addresses(aws, spec, &mut ids).await?;
        }
    }

    let all_wanted = desired::wanted(spec, place, &ids, scope.live, &existing);
    let deletes = deletes(&all_wanted, &existing, &existing_by_key, scope.only_service);
    applied.deleted += delete_all(
        aws,
        spec,
        &deletes,
        &existing_by_key,
        &ids,
        scope.deletion,
        progress,
    )
    .await?;
    Ok((applied, ids))
}

/// Runs one kind's steps, a bounded number at a time.
async fn run_steps(
    aws: &Aws,
    spec: &Spec,
    azs: &[String],
    steps: &[(Change, Step<'_>)],
    ids: &Ids,
    progress: &Progress,
) -> Vec<anyhow::Result<Done>> {
    bounded(steps.iter().map(|(change, step)| async move {
        let task = progress.start(label(change));
        let apply = || apply_once(aws, spec, azs, change, step, ids);
        let result = if is_single_call(change) {
            retry::after_create(&aws.events, &label(change), apply).await
        } else {
            apply().await
        };
        task.finish(&result);
        result.map(|outcome| (change.clone(), step.resource.service.clone(), outcome))
    }))
    .await
}

/// Counts what one kind's steps did and records the new ids; the first error stops the deploy
/// (after every step of the kind has finished).
fn record(
    kind: Kind,
    results: Vec<anyhow::Result<Done>>,
    ids: &mut Ids,
    applied: &mut Applied,
    new_revisions: &mut BTreeSet<String>,
) -> anyhow::Result<()> {
    let mut first_error = None;
    for result in results {
        match result {
            Ok((change, service, outcome)) => {
                applied.count(&change, service);
                if let Some((id, dns)) = outcome {
                    ids.insert(kind, &change.name, id);
                    if let Some(dns) = dns {
                        ids.dns.insert(change.name.clone(), dns);
                    }
                }
                if kind == Kind::TaskDefinition {
                    new_revisions.insert(change.name);
                }
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        Some(error) => Err(error.context(format!("deploy stopped at the {kind} step; what was created so far stays and the next deploy continues from there"))),
        None => Ok(()),
    }
}

impl Applied {
    fn count(&mut self, change: &Change, service: Option<String>) {
        match change.action {
            Action::Create => self.created += 1,
            _ => self.updated += 1,
        }
        if matches!(change.kind, Kind::TaskDefinition | Kind::EcsService)
            && let Some(service) = service
        {
            self.rolled.insert(service);
        }
    }
}

/// The creates and updates of one kind within the scope: not another service's resources
/// with `only_service`, not the release of a service that goes out blue/green.
fn steps<'a>(
    kind: Kind,
    wanted: &'a [Resource],
    existing: &[Resource],
    existing_by_key: &BTreeMap<(Kind, String), &'a Resource>,
    scope: &Scope<'_>,
) -> Vec<(Change, Step<'a>)> {
    let have: Vec<Resource> = existing
        .iter()
        .filter(|resource| resource.kind == kind)
        .cloned()
        .collect();
    let mut steps = Vec::new();
    for change in diff(wanted, &have) {
        if change.action == Action::Delete {
            continue;
        }
        let resource_owner = wanted
            .iter()
            .find(|resource| resource.name == change.name)
            .and_then(|resource| resource.service.as_deref());
        if let (Some(only), Some(owner)) = (scope.only_service, resource_owner)
            && only != owner
        {
            continue;
        }
        let rolls_out = resource_owner.is_some_and(|owner| scope.rollouts.contains(owner));
        if rolls_out
            && matches!(change.action, Action::Update(_))
            && matches!(kind, Kind::TaskDefinition | Kind::EcsService)
        {
            continue;
        }
        let Some(resource) = wanted.iter().find(|resource| resource.name == change.name) else {
            continue;
        };
        let changed = match &change.action {
            Action::Update(diffs) => diffs.iter().map(|(attr, _, _)| attr.clone()).collect(),
            _ => Vec::new(),
        };
        let step = Step {
            resource,
            existing: existing_by_key.get(&(kind, change.name.clone())).copied(),
            changed,
        };
        steps.push((change, step));
    }
    steps
}

/// A new task definition revision must reach its ECS service even when nothing else about
/// the service changed: updates for the existing services `steps` leaves out.
fn revision_steps<'a>(
    wanted: &'a [Resource],
    steps: &[(Change, Step<'a>)],
    new_revisions: &BTreeSet<String>,
    existing_by_key: &BTreeMap<(Kind, String), &'a Resource>,
) -> Vec<(Change, Step<'a>)> {
    wanted
        .iter()
        .filter(|resource| new_revisions.contains(resource.get("task_definition")))
        .filter(|resource| {
            steps.iter().all(|(change, _)| change.name != resource.name)
                && existing_by_key.contains_key(&resource.key())
        })
        .map(|resource| {
            let change = Change {
                kind: resource.kind,
                name: resource.name.clone(),
                action: Action::Update(vec![(
                    "task_definition".into(),
                    "previous revision".into(),
                    "new revision".into(),
                )]),
                settings: Vec::new(),
            };
            let step = Step {
                resource,
                existing: existing_by_key.get(&resource.key()).copied(),
                changed: vec!["task_definition".into()],
            };
            (change, step)
        })
        .collect()
}

/// Security groups reference each other: all missing ones are created before any rule.
async fn create_security_groups(
    aws: &Aws,
    spec: &Spec,
    steps: &[(Change, Step<'_>)],
    ids: &mut Ids,
    progress: &Progress,
) -> anyhow::Result<()> {
    let missing: Vec<&Resource> = steps
        .iter()
        .filter(|(change, _)| change.action == Action::Create)
        .map(|(_, step)| step.resource)
        .collect();
    let ids_now = &*ids;
    let created = bounded(missing.iter().map(|resource| async move {
        let task = progress.start(format!("create security group {}", resource.name));
        let result = security::create(aws, spec, resource, ids_now).await;
        task.finish(&result);
        result.map(|id| (resource.name.clone(), id))
    }))
    .await;
    for result in created {
        let (name, id) = result?;
        ids.insert(Kind::SecurityGroup, &name, id);
    }
    Ok(())
}

/// What the spec no longer has, within `only_service` (its own resources and shared ones).
fn deletes(
    wanted: &[Resource],
    existing: &[Resource],
    existing_by_key: &BTreeMap<(Kind, String), &Resource>,
    only_service: Option<&str>,
) -> Vec<Change> {
    diff(wanted, existing)
        .into_iter()
        .filter(|change| change.action == Action::Delete)
        .filter(|change| {
            only_service.is_none_or(|only| {
                existing_by_key
                    .get(&(change.kind, change.name.clone()))
                    .is_none_or(|resource| {
                        resource
                            .service
                            .as_deref()
                            .is_none_or(|owner| owner == only)
                    })
            })
        })
        .collect()
}

/// Deletes in the order given (reverse dependency order), one kind at a time, in parallel
/// within a kind. Returns how many were deleted.
pub async fn delete_all(
    aws: &Aws,
    spec: &Spec,
    deletes: &[Change],
    existing: &BTreeMap<(Kind, String), &Resource>,
    ids: &Ids,
    deletion: &database::Deletion,
    progress: &Progress,
) -> anyhow::Result<usize> {
    let mut count = 0;
    let mut kinds: Vec<Kind> = deletes.iter().map(|change| change.kind).collect();
    kinds.dedup();
    for kind in kinds {
        let batch: Vec<&Resource> = deletes
            .iter()
            .filter(|change| change.kind == kind)
            .filter_map(|change| existing.get(&(kind, change.name.clone())).copied())
            .collect();
        if kind == Kind::SecurityGroup {
            // Revoke every rule first: groups that reference each other block deletion.
            for resource in &batch {
                let empty = Resource::new(Kind::SecurityGroup, &resource.name).attr("rules", "");
                security::sync_rules(aws, &empty, Some(resource), ids).await?;
            }
        }
        let results = bounded(batch.iter().map(|resource| async {
            let snapshot = (kind == Kind::Database)
                .then(|| deletion.final_snapshot(&resource.name))
                .map(|snapshot| match snapshot {
                    Some(snapshot) => format!(" (final snapshot {snapshot})"),
                    None => " (no final snapshot)".to_owned(),
                })
                .unwrap_or_default();
            let task = progress.start(format!("delete {kind} {}{snapshot}", resource.name));
            // What still depends on it is waited out: network interfaces that linger after
            // their load balancer or tasks, tasks still draining from a cluster, an address
            // still held by a NAT gateway.
            let result = retry::until_ok(
                &aws.events,
                &format!("delete {} {}", resource.kind, resource.name),
                Transient::Settling,
                || delete_once(aws, spec, resource, ids, deletion),
            )
            .await;
            task.finish(&result);
            result
        }))
        .await;
        for result in results {
            result?;
            count += 1;
        }
    }
    Ok(count)
}

type Outcome = Option<(String, Option<String>)>;

/// A step that succeeded: its change, the service it belongs to, and its outcome.
type Done = (Change, Option<String>, Outcome);

fn immutable(change: &Change, what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{} {}: {what} cannot change on an existing resource ({change}); run `dashctl destroy` first or keep the old value",
        change.kind,
        change.name
    )
}

/// A call that only references what an earlier step created is retried while AWS has not
/// caught up yet (`*.NotFound`, a role not yet assumable); calls that create something and then
/// configure it retry inside, call by call.
fn is_single_call(change: &Change) -> bool {
    matches!(
        change.kind,
        Kind::Subnet
            | Kind::NatGateway
            | Kind::LoadBalancer
            | Kind::TargetGroup
            | Kind::TaskDefinition
            | Kind::EcsService
            | Kind::ScalableTarget
    ) && change.action == Action::Create
}

/// Applies one change.
async fn apply_once(
    aws: &Aws,
    spec: &Spec,
    azs: &[String],
    change: &Change,
    step: &Step<'_>,
    ids: &Ids,
) -> anyhow::Result<Outcome> {
    let resource = step.resource;
    let create = change.action == Action::Create;
    let names = Names::new(spec);
    let id = |id: String| Ok(Some((id, None)));
    match resource.kind {
        Kind::Vpc if create => id(network::create_vpc(aws, spec, resource).await?),
        Kind::InternetGateway if create => {
            id(network::create_internet_gateway(aws, spec, resource, ids).await?)
        }
        Kind::Subnet if create => id(network::create_subnet(aws, spec, resource, ids).await?),
        Kind::ElasticIp if create => id(network::create_elastic_ip(aws, spec, resource).await?),
        Kind::NatGateway if create => {
            id(network::create_nat_gateway(aws, spec, resource, ids).await?)
        }
        Kind::Vpc | Kind::InternetGateway | Kind::Subnet | Kind::ElasticIp | Kind::NatGateway => {
            Err(immutable(change, "its network layout"))
        }
        Kind::RouteTable => {
            id(network::ensure_route_table(aws, spec, resource, step.existing, ids).await?)
        }
        Kind::SecurityGroup => {
            security::sync_rules(aws, resource, step.existing, ids).await?;
            Ok(None)
        }
        Kind::DbSubnetGroup if create => {
            let subnets = (0..azs.len())
                .filter_map(|index| {
                    ids.get(Kind::Subnet, &names.subnet("private", index))
                        .map(str::to_owned)
                })
                .collect();
            id(database::create_subnet_group(aws, spec, resource, subnets).await?)
        }
        Kind::DbSubnetGroup => Err(immutable(change, "its subnets")),
        Kind::Database if create => id(database::create_instance(aws, spec, resource, ids).await?),
        Kind::Database => {
            database::modify_instance(aws, resource, &step.changed, ids).await?;
            Ok(None)
        }
        Kind::LoadBalancer if create => {
            let tier = resource.get("subnets");
            let subnets = (0..azs.len())
                .filter_map(|index| {
                    ids.get(Kind::Subnet, &names.subnet(tier, index))
                        .map(str::to_owned)
                })
                .collect();
            let (arn, dns) =
                balancer::create_load_balancer(aws, spec, resource, ids, subnets).await?;
            Ok(Some((arn, Some(dns))))
        }
        Kind::LoadBalancer => Err(immutable(change, "its scheme, subnets or security group")),
        Kind::TargetGroup if create => {
            id(balancer::create_target_group(aws, spec, resource, ids).await?)
        }
        Kind::TargetGroup => {
            balancer::update_target_group(aws, spec, resource, ids, &step.changed).await?;
            Ok(None)
        }
        Kind::Listener if create => id(balancer::create_listener(aws, resource, ids).await?),
        Kind::Listener => {
            balancer::update_listener(aws, resource, ids).await?;
            Ok(None)
        }
        Kind::Alarm => id(alarms::put(aws, spec, resource, ids).await?),
        Kind::LogGroup if create => id(logs::create(aws, spec, resource).await?),
        Kind::LogGroup => {
            logs::set_retention(aws, resource).await?;
            Ok(None)
        }
        Kind::Role if create => id(identity::create(aws, spec, resource).await?),
        Kind::Role => {
            identity::sync(aws, resource, step.existing).await?;
            Ok(None)
        }
        Kind::Cluster => id(cluster::create_cluster(aws, spec, resource).await?),
        Kind::TaskDefinition => {
            id(cluster::register_task_definition(aws, spec, resource, ids).await?)
        }
        Kind::EcsService if create => {
            id(cluster::create_service(aws, spec, resource, ids, None).await?)
        }
        Kind::EcsService => {
            cluster::update_service(aws, spec, resource, ids).await?;
            Ok(None)
        }
        Kind::ScalableTarget => id(scaling::register_target(aws, resource).await?),
        Kind::ScalingPolicy => {
            let service = resource
                .service
                .as_deref()
                .and_then(|name| spec.services.get(name))
                .ok_or_else(|| {
                    anyhow::anyhow!("scaling policy {} has no service", resource.name)
                })?;
            id(
                scaling::put_policy(aws, resource, ids, &names.load_balancer(service.public))
                    .await?,
            )
        }
    }
}

/// Deletes one resource (once: the caller waits out what still depends on it).
async fn delete_once(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    ids: &Ids,
    deletion: &database::Deletion,
) -> anyhow::Result<()> {
    match resource.kind {
        Kind::Database => database::delete_instance(aws, &resource.name, deletion).await,
        Kind::DbSubnetGroup => database::delete_subnet_group(aws, &resource.name).await,
        Kind::Vpc
        | Kind::InternetGateway
        | Kind::Subnet
        | Kind::ElasticIp
        | Kind::NatGateway
        | Kind::RouteTable => network::delete(aws, resource.kind, &resource.name, ids).await,
        Kind::SecurityGroup => {
            security::delete(
                aws,
                &Resource::new(Kind::SecurityGroup, &resource.name),
                ids,
            )
            .await
        }
        Kind::LoadBalancer | Kind::TargetGroup | Kind::Listener => {
            balancer::delete(aws, resource.kind, &resource.name, ids).await
        }
        Kind::LogGroup => logs::delete(aws, &resource.name).await,
        Kind::Alarm => alarms::delete(aws, &resource.name).await,
        Kind::Role => identity::delete(aws, resource, ids).await,
        Kind::Cluster | Kind::TaskDefinition | Kind::EcsService => {
            cluster::delete(aws, spec, resource.kind, &resource.name, ids).await
        }
        Kind::ScalableTarget | Kind::ScalingPolicy => scaling::delete(aws, resource).await,
    }
}
