//! AWS as the rollout engine sees it: each color is a target group and an ECS service;
//! traffic moves by re-pointing the listener (weighted ForwardConfig for canary steps);
//! autoscaling follows the live color.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::colors::listener_name;
use super::listener_action::ListenerAction;
use super::model::{Ids, Kind, Resource};
use super::names::Names;
use serde::{Deserialize, Serialize};

use super::lock::Lock;
use super::{
    Aws, alarms, cluster, desired, errors::explain, keep_warm, metrics, retry, scaling, test_route,
    traffic_record,
};
use crate::events::Event;
use crate::rollout::{Color, Journal, Platform, PlatformError, PlatformResult, Readings, Traffic};
use crate::spec::Spec;

pub struct AwsPlatform<'a> {
    pub aws: &'a Aws,
    pub spec: &'a Spec,
    ids: Mutex<Ids>,
    /// Where rollouts are journaled: the rollout lock this run holds.
    lock: Option<&'a Lock>,
    /// Tasks each color was started with in this run: the healthy count a color must reach.
    started: Mutex<HashMap<(String, Color), i32>>,
}

/// The task definition a color ran before a rollout (None: it had no release).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptTaskDefinition {
    pub arn: Option<String>,
}

/// Marks an ECS service whose only release was abandoned: it is kept at zero (a deleted
/// service drains for minutes and blocks a new one of the same name), but there is nothing
/// on it to roll back to.
const RELEASE_TAG: &str = "dashctl:release";
const NO_RELEASE: &str = "none";

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<'a> AwsPlatform<'a> {
    pub fn new(aws: &'a Aws, spec: &'a Spec, ids: Ids) -> Self {
        Self {
            aws,
            spec,
            ids: Mutex::new(ids),
            lock: None,
            started: Mutex::new(HashMap::new()),
        }
    }

    /// Journals rollouts in `lock` (without one, nothing is journaled: a rollback).
    pub fn journaling(self, lock: &'a Lock) -> Self {
        Self {
            lock: Some(lock),
            ..self
        }
    }

    fn names(&self) -> Names<'a> {
        Names::new(self.spec)
    }

    fn ids(&self) -> Ids {
        self.ids
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn id(&self, kind: Kind, name: &str) -> PlatformResult<String> {
        self.ids()
            .get(kind, name)
            .map(str::to_owned)
            .ok_or_else(|| {
                PlatformError::Failed(format!(
                    "{kind} {name} does not exist; run `dashctl deploy` to create it"
                ))
            })
    }

    /// The ECS service of a color, if it exists and is active.
    async fn ecs_service(
        &self,
        service: &str,
        color: Color,
    ) -> PlatformResult<Option<aws_sdk_ecs::types::Service>> {
        Ok(self
            .described(service, color)
            .await?
            .filter(|found| found.status() == Some("ACTIVE")))
    }

    /// The ECS service of a color in any state (ACTIVE, DRAINING, INACTIVE), with its tags.
    async fn described(
        &self,
        service: &str,
        color: Color,
    ) -> PlatformResult<Option<aws_sdk_ecs::types::Service>> {
        cluster::describe_service(
            self.aws,
            &self.names().base(),
            &self.names().colored(service, color),
        )
        .await
        .map_err(PlatformError::Call)
    }

    /// A service deleted by hand drains for minutes; a new one of the same name can only be
    /// created once it is INACTIVE.
    async fn wait_until_not_draining(&self, service: &str, color: Color) -> PlatformResult {
        let Some(found) = self.described(service, color).await? else {
            return Ok(());
        };
        if found.status() != Some("DRAINING") {
            return Ok(());
        }
        let name = self.names().colored(service, color);
        self.aws.events.emit(Event::WaitingForDrain {
            service: Some(service.to_owned()),
            ecs_service: name.clone(),
        });
        cluster::wait_inactive(self.aws, &self.names().base(), &name)
            .await
            .map_err(PlatformError::Call)?;
        Ok(())
    }

    async fn mark_release(&self, arn: &str, abandoned: bool) -> PlatformResult {
        if abandoned {
            self.aws
                .ecs
                .tag_resource()
                .resource_arn(arn)
                .tags(
                    aws_sdk_ecs::types::Tag::builder()
                        .key(RELEASE_TAG)
                        .value(NO_RELEASE)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| PlatformError::Call(explain("TagResource", e)))?;
        } else {
            self.aws
                .ecs
                .untag_resource()
                .resource_arn(arn)
                .tag_keys(RELEASE_TAG)
                .send()
                .await
                .map_err(|e| PlatformError::Call(explain("UntagResource", e)))?;
        }
        Ok(())
    }

    /// How many tasks the new color starts with: what the live color runs now, at least the
    /// scaling minimum.
    async fn live_count(&self, service: &str, color: Color) -> PlatformResult<i32> {
        let minimum = self
            .spec
            .services
            .get(service)
            .map_or(1, |definition| definition.scaling.min.max(1) as i32);
        let live = self.ecs_service(service, color.other()).await?;
        Ok(live.map_or(minimum, |live| live.desired_count().max(minimum)))
    }

    async fn set_desired(&self, service: &str, color: Color, count: i32) -> PlatformResult {
        self.aws
            .ecs
            .update_service()
            .cluster(self.names().base())
            .service(self.names().colored(service, color))
            .desired_count(count)
            .send()
            .await
            .map_err(|e| PlatformError::Call(explain("UpdateService", e)))?;
        Ok(())
    }

    /// The service listener's default action as AWS reports it now (None: it has none).
    async fn listener_action(&self, service: &str) -> PlatformResult<Option<ListenerAction>> {
        let listener = self.id(Kind::Listener, &listener_name(self.spec, service))?;
        let described = self
            .aws
            .elb
            .describe_listeners()
            .listener_arns(&listener)
            .send()
            .await
            .map_err(|e| PlatformError::Call(explain("DescribeListeners", e)))?;
        let Some(action) = described
            .listeners()
            .first()
            .and_then(|found| found.default_actions().first())
        else {
            return Ok(None);
        };
        ListenerAction::from_aws(action, &self.ids())
            .map(Some)
            .map_err(|error| {
                PlatformError::Call(
                    anyhow::Error::new(error)
                        .context(format!("listener {}", listener_name(self.spec, service))),
                )
            })
    }

    /// Ends `color`'s keep_previous window (it is being started, restored or retired).
    async fn end_warm(&self, service: &str, color: Color) -> PlatformResult {
        keep_warm::end(self.aws, &self.names(), service, color)
            .await
            .map_err(PlatformError::Call)
    }

    fn scaling_resources(&self, service: &str, color: Color) -> Option<(Resource, Resource)> {
        self.spec
            .services
            .contains_key(service)
            .then(|| desired::scaling(self.spec, service, color))
    }
}

fn has_no_release(service: &aws_sdk_ecs::types::Service) -> bool {
    service
        .tags()
        .iter()
        .any(|tag| tag.key() == Some(RELEASE_TAG) && tag.value() == Some(NO_RELEASE))
}

impl Platform for AwsPlatform<'_> {
    /// The new task definition, in the desired-state shape.
    type Release = Resource;
    type Kept = KeptTaskDefinition;

    fn describe_release(&self, release: &Resource) -> String {
        release.get("image").to_owned()
    }

    async fn current_release(
        &self,
        service: &str,
        color: Color,
    ) -> PlatformResult<KeptTaskDefinition> {
        let found = self.ecs_service(service, color).await?;
        Ok(KeptTaskDefinition {
            arn: found
                .filter(|found| !has_no_release(found))
                .and_then(|found| found.task_definition().map(str::to_owned)),
        })
    }

    async fn live_color(&self, service: &str) -> PlatformResult<Option<Color>> {
        Ok(self
            .listener_action(service)
            .await?
            .and_then(|action| action.live_color(&self.names(), service)))
    }

    async fn start_release(
        &self,
        service: &str,
        color: Color,
        release: &Resource,
    ) -> PlatformResult {
        let ids = self.ids();
        alarms::reset(self.aws, self.spec, service, color)
            .await
            .map_err(PlatformError::Call)?;
        let arn = retry::after_create(&self.aws.events, "register the task definition", || {
            cluster::register_task_definition(self.aws, self.spec, release, &ids)
        })
        .await
        .map_err(PlatformError::Call)?;
        let count = self.live_count(service, color).await?;
        lock(&self.started).insert((service.to_owned(), color), count);
        let names = self.names();
        let ecs_name = names.colored(service, color);
        self.wait_until_not_draining(service, color).await?;
        self.end_warm(service, color).await?;
        match self.ecs_service(service, color).await? {
            Some(existing) => {
                if has_no_release(&existing) {
                    self.mark_release(existing.service_arn().unwrap_or_default(), false)
                        .await?;
                }
                self.aws
                    .ecs
                    .update_service()
                    .cluster(names.base())
                    .service(&ecs_name)
                    .task_definition(&arn)
                    .desired_count(count)
                    .send()
                    .await
                    .map_err(|e| PlatformError::Call(explain("UpdateService", e)))?;
            }
            None => {
                let mut with_revision = ids.clone();
                with_revision.insert(Kind::TaskDefinition, &release.name, &arn);
                let resource = Resource::new(Kind::EcsService, &ecs_name)
                    .service(service)
                    .attr("task_definition", &release.name)
                    .attr("target_group", names.colored(service, color))
                    .attr("security_group", names.tasks_group(service));
                let created = retry::after_create(
                    &self.aws.events,
                    &format!("create ECS service {ecs_name}"),
                    || {
                        cluster::create_service(
                            self.aws,
                            self.spec,
                            &resource,
                            &with_revision,
                            Some(count),
                        )
                    },
                )
                .await
                .map_err(PlatformError::Call)?;
                lock(&self.ids).insert(Kind::EcsService, &ecs_name, created);
            }
        }
        Ok(())
    }

    async fn has_release(&self, service: &str, color: Color) -> PlatformResult<bool> {
        Ok(self
            .ecs_service(service, color)
            .await?
            .is_some_and(|found| found.task_definition().is_some() && !has_no_release(&found)))
    }

    async fn restore(&self, service: &str, color: Color) -> PlatformResult {
        let Some(found) = self.ecs_service(service, color).await? else {
            return Err(PlatformError::Failed(format!(
                "{service} has never run on {color}; there is no previous release to roll back to"
            )));
        };
        // Ending the window deregisters a scalable target; the desired count stays as read.
        self.end_warm(service, color).await?;
        let kept = found.desired_count();
        if kept > 0 {
            // Kept warm: its tasks serve as they are; autoscaling sizes it once it is live.
            lock(&self.started).insert((service.to_owned(), color), kept);
            return Ok(());
        }
        let count = self.live_count(service, color).await?;
        lock(&self.started).insert((service.to_owned(), color), count);
        self.set_desired(service, color, count).await
    }

    /// After a release that never went live for good: the color gets its previous task
    /// definition back. A service that had none is kept at zero and marked as having no
    /// release, rather than deleted (a deleted service drains for minutes and blocks the next
    /// release of the same name).
    async fn revert_release(
        &self,
        service: &str,
        color: Color,
        kept: &KeptTaskDefinition,
    ) -> PlatformResult {
        let names = self.names();
        match &kept.arn {
            Some(task_definition) => {
                self.aws
                    .ecs
                    .update_service()
                    .cluster(names.base())
                    .service(names.colored(service, color))
                    .task_definition(task_definition)
                    .send()
                    .await
                    .map_err(|e| PlatformError::Call(explain("UpdateService", e)))?;
            }
            None => {
                // Created (or first given a release) by this rollout, if it got that far.
                if let Some(found) = self.ecs_service(service, color).await? {
                    self.mark_release(found.service_arn().unwrap_or_default(), true)
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn is_healthy(&self, service: &str, color: Color) -> PlatformResult<bool> {
        let Some(ecs) = self.ecs_service(service, color).await? else {
            return Ok(false);
        };
        if let Some(failure) = ecs.deployments().iter().find(|deployment| {
            deployment
                .rollout_state()
                .is_some_and(|state| state.as_str() == "FAILED")
        }) {
            return Err(PlatformError::Failed(format!(
                "the ECS deployment circuit breaker stopped {}: {}",
                self.names().colored(service, color),
                failure
                    .rollout_state_reason()
                    .unwrap_or("tasks keep failing")
            )));
        }
        let firing = alarms::firing(self.aws, self.spec, service, color)
            .await
            .map_err(PlatformError::Call)?;
        if !firing.is_empty() {
            self.aws.events.emit(Event::AlarmFiring {
                service: service.to_owned(),
                alarms: firing,
            });
            return Ok(false);
        }
        // Healthy: nothing failing its checks, and at least as many healthy targets as the
        // color was started with (or as it wants now, if autoscaling scaled it in). Tasks that
        // autoscaling adds while the color bakes are still `initial`: not a failure.
        let desired = usize::try_from(ecs.desired_count()).unwrap_or(0);
        let started = lock(&self.started)
            .get(&(service.to_owned(), color))
            .and_then(|count| usize::try_from(*count).ok())
            .unwrap_or(desired);
        let group = self.id(Kind::TargetGroup, &self.names().colored(service, color))?;
        let counts = self
            .aws
            .target_counts(&group)
            .await
            .map_err(PlatformError::Call)?;
        Ok(desired > 0 && counts.unhealthy == 0 && counts.healthy >= desired.min(started))
    }

    async fn shift_traffic(&self, service: &str, to: Color, percent: u8) -> PlatformResult {
        let listener = self.id(Kind::Listener, &listener_name(self.spec, service))?;
        let action = ListenerAction::colors(&self.names(), service, to, percent)
            .to_aws(&self.ids())
            .map_err(|error| PlatformError::Call(error.into()))?;
        self.aws
            .elb
            .modify_listener()
            .listener_arn(listener)
            .default_actions(action)
            .send()
            .await
            .map_err(|e| PlatformError::Call(explain("ModifyListener", e)))?;
        traffic_record::record(
            self.aws,
            self.spec,
            [(service.to_owned(), Traffic::to(to, percent))],
        )
        .await
        .map_err(PlatformError::Call)
    }

    async fn traffic(&self, service: &str) -> PlatformResult<Option<Traffic>> {
        let Some(action) = self.listener_action(service).await? else {
            return Ok(None);
        };
        Ok(action.traffic(&self.names(), service))
    }

    async fn retarget_scaling(&self, service: &str, to: Color) -> PlatformResult {
        let Some((target, policy)) = self.scaling_resources(service, to) else {
            return Ok(());
        };
        let public = self
            .spec
            .services
            .get(service)
            .is_some_and(|definition| definition.public);
        let ids = self.ids();
        scaling::register_target(self.aws, &target)
            .await
            .map_err(PlatformError::Call)?;
        scaling::put_policy(self.aws, &policy, &ids, &self.names().load_balancer(public))
            .await
            .map_err(PlatformError::Call)?;
        // The old color's scaling goes; a missing one is fine (first rollout, or cleaned up).
        if let Some((old_target, old_policy)) = self.scaling_resources(service, to.other()) {
            let _ = scaling::delete(self.aws, &old_policy).await;
            let _ = scaling::delete(self.aws, &old_target).await;
        }
        Ok(())
    }

    async fn keep_warm(&self, service: &str, color: Color, window: Duration) -> PlatformResult {
        let count = self
            .ecs_service(service, color)
            .await?
            .map_or(0, |found| found.desired_count());
        if count == 0 {
            return Ok(());
        }
        keep_warm::begin(self.aws, &self.names(), service, color, count, window)
            .await
            .map_err(PlatformError::Call)
    }

    async fn retire(&self, service: &str, color: Color) -> PlatformResult {
        if self.ecs_service(service, color).await?.is_none() {
            return Ok(());
        }
        self.end_warm(service, color).await?;
        self.set_desired(service, color, 0).await
    }

    /// A listener rule: `X-Dashctl-Color: <color>` forwards to the color's target group.
    async fn open_test_route(&self, service: &str, color: Color) -> PlatformResult<String> {
        let ids = self.ids();
        test_route::open(self.aws, self.spec, &ids, service, color)
            .await
            .map_err(PlatformError::Call)?;
        Ok(desired::service_url(self.spec, service, &ids.dns))
    }

    async fn close_test_route(&self, service: &str) -> PlatformResult {
        test_route::close(self.aws, self.spec, &self.ids(), service)
            .await
            .map_err(PlatformError::Call)
    }

    async fn save_journal(&self, journal: &Journal<KeptTaskDefinition>) -> PlatformResult {
        let Some(lock) = self.lock else {
            return Ok(());
        };
        let stored = serde_json::to_value(journal)
            .and_then(serde_json::from_value)
            .map_err(|error| PlatformError::Call(error.into()))?;
        lock.record(self.aws, Some(stored))
            .await
            .map_err(PlatformError::Call)
    }

    async fn clear_journal(&self, _: &str) -> PlatformResult {
        match self.lock {
            Some(lock) => lock
                .record(self.aws, None)
                .await
                .map_err(PlatformError::Call),
            None => Ok(()),
        }
    }

    async fn readings(
        &self,
        service: &str,
        color: Color,
        since: SystemTime,
    ) -> PlatformResult<Option<Readings>> {
        let public = self
            .spec
            .services
            .get(service)
            .is_some_and(|definition| definition.public);
        let names = self.names();
        let load_balancer = self.id(Kind::LoadBalancer, &names.load_balancer(public))?;
        let target_group = self.id(Kind::TargetGroup, &names.colored(service, color))?;
        metrics::readings(&self.aws.cloudwatch, &load_balancer, &target_group, since)
            .await
            .map_err(PlatformError::Call)
    }
}
