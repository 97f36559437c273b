//! AWS as the rollout engine sees it: each color is a target group and an ECS service;
//! traffic moves by re-pointing the listener (weighted ForwardConfig for canary steps);
//! autoscaling follows the live color.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
};

use super::colors::{listener_name, weights};
use super::health::{Gate, TargetHealth};
use super::model::{Ids, Kind, Resource};
use super::names::Names;
use super::{Aws, alarms, cluster, desired, errors::explain, scaling};
use crate::rollout::{Color, Platform, PlatformError};
use crate::spec::Spec;

pub struct AwsPlatform<'a> {
    pub aws: &'a Aws,
    pub spec: &'a Spec,
    pub gate: Gate,
    ids: Mutex<Ids>,
    /// Task definition each color ran before this run's `start_release`, for `revert_release`.
    previous: Mutex<HashMap<(String, Color), Option<String>>>,
}

fn failed(error: anyhow::Error) -> PlatformError {
    PlatformError(format!("{error:#}"))
}

impl<'a> AwsPlatform<'a> {
    pub fn new(aws: &'a Aws, spec: &'a Spec, ids: Ids, gate: Gate) -> Self {
        Self {
            aws,
            spec,
            gate,
            ids: Mutex::new(ids),
            previous: Mutex::new(HashMap::new()),
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

    fn id(&self, kind: Kind, name: &str) -> Result<String, PlatformError> {
        self.ids()
            .get(kind, name)
            .map(str::to_owned)
            .ok_or_else(|| {
                PlatformError(format!(
                    "{kind} {name} does not exist; run `dashctl deploy` to create it"
                ))
            })
    }

    /// The ECS service of a color, if it exists and is active.
    async fn ecs_service(
        &self,
        service: &str,
        color: Color,
    ) -> Result<Option<aws_sdk_ecs::types::Service>, PlatformError> {
        let described = self
            .aws
            .ecs
            .describe_services()
            .cluster(self.names().base())
            .services(self.names().colored(service, color))
            .send()
            .await
            .map_err(|e| failed(explain("DescribeServices", e)))?;
        Ok(described
            .services()
            .iter()
            .find(|found| found.status() == Some("ACTIVE"))
            .cloned())
    }

    /// How many tasks the new color starts with: what the live color runs now, at least the
    /// scaling minimum.
    async fn live_count(&self, service: &str, color: Color) -> Result<i32, PlatformError> {
        let minimum = self
            .spec
            .services
            .get(service)
            .map_or(1, |definition| definition.scaling.min.max(1) as i32);
        let live = self.ecs_service(service, color.other()).await?;
        Ok(live.map_or(minimum, |live| live.desired_count().max(minimum)))
    }

    async fn set_desired(
        &self,
        service: &str,
        color: Color,
        count: i32,
    ) -> Result<(), PlatformError> {
        self.aws
            .ecs
            .update_service()
            .cluster(self.names().base())
            .service(self.names().colored(service, color))
            .desired_count(count)
            .send()
            .await
            .map_err(|e| failed(explain("UpdateService", e)))?;
        Ok(())
    }

    fn scaling_resources(&self, service: &str, color: Color) -> Option<(Resource, Resource)> {
        self.spec
            .services
            .contains_key(service)
            .then(|| desired::scaling(self.spec, service, color))
    }
}

impl Platform for AwsPlatform<'_> {
    /// The new task definition, in the desired-state shape.
    type Release = Resource;

    async fn live_color(&self, service: &str) -> Result<Option<Color>, PlatformError> {
        let listener = self.id(Kind::Listener, &listener_name(self.spec, service))?;
        let described = self
            .aws
            .elb
            .describe_listeners()
            .listener_arns(&listener)
            .send()
            .await
            .map_err(|e| failed(explain("DescribeListeners", e)))?;
        let ids = self.ids();
        let action = described
            .listeners()
            .first()
            .and_then(|found| found.default_actions().first())
            .map(|action| {
                let name = |arn: &str| ids.name_of(Kind::TargetGroup, arn).unwrap_or_default();
                match action.forward_config() {
                    Some(forward) if forward.target_groups().len() > 1 => {
                        let parts: Vec<String> = forward
                            .target_groups()
                            .iter()
                            .map(|group| {
                                format!(
                                    "{}={}",
                                    name(group.target_group_arn().unwrap_or_default()),
                                    group.weight().unwrap_or(1)
                                )
                            })
                            .collect();
                        format!("forward:{}", parts.join(","))
                    }
                    _ => format!(
                        "forward:{}",
                        action.target_group_arn().map(name).unwrap_or_default()
                    ),
                }
            })
            .unwrap_or_default();
        Ok(weights(self.spec, service, &action)
            .into_iter()
            .max_by_key(|(_, weight)| *weight)
            .map(|(color, _)| color))
    }

    async fn start_release(
        &self,
        service: &str,
        color: Color,
        release: &Resource,
    ) -> Result<(), PlatformError> {
        let ids = self.ids();
        alarms::reset(self.aws, self.spec, service, color)
            .await
            .map_err(failed)?;
        let arn = cluster::register_task_definition(self.aws, self.spec, release, &ids)
            .await
            .map_err(failed)?;
        let count = self.live_count(service, color).await?;
        let names = self.names();
        let ecs_name = names.colored(service, color);
        match self.ecs_service(service, color).await? {
            Some(existing) => {
                self.previous
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(
                        (service.to_owned(), color),
                        existing.task_definition().map(str::to_owned),
                    );
                self.aws
                    .ecs
                    .update_service()
                    .cluster(names.base())
                    .service(&ecs_name)
                    .task_definition(&arn)
                    .desired_count(count)
                    .send()
                    .await
                    .map_err(|e| failed(explain("UpdateService", e)))?;
            }
            None => {
                self.previous
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert((service.to_owned(), color), None);
                let mut with_revision = ids.clone();
                with_revision.insert(Kind::TaskDefinition, &release.name, &arn);
                let resource = Resource::new(Kind::EcsService, &ecs_name)
                    .service(service)
                    .attr("task_definition", &release.name)
                    .attr("target_group", names.colored(service, color))
                    .attr("security_group", names.tasks_group(service));
                let created = cluster::create_service(
                    self.aws,
                    self.spec,
                    &resource,
                    &with_revision,
                    Some(count),
                )
                .await
                .map_err(failed)?;
                self.ids
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(Kind::EcsService, &ecs_name, created);
            }
        }
        Ok(())
    }

    async fn has_release(&self, service: &str, color: Color) -> Result<bool, PlatformError> {
        Ok(self
            .ecs_service(service, color)
            .await?
            .is_some_and(|found| found.task_definition().is_some()))
    }

    async fn restore(&self, service: &str, color: Color) -> Result<(), PlatformError> {
        if self.ecs_service(service, color).await?.is_none() {
            return Err(PlatformError(format!(
                "{service} has never run on {color}; there is no previous release to roll back to"
            )));
        }
        let count = self.live_count(service, color).await?;
        self.set_desired(service, color, count).await
    }

    async fn revert_release(&self, service: &str, color: Color) -> Result<(), PlatformError> {
        let previous = self
            .previous
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&(service.to_owned(), color));
        let names = self.names();
        match previous {
            Some(Some(task_definition)) => {
                self.aws
                    .ecs
                    .update_service()
                    .cluster(names.base())
                    .service(names.colored(service, color))
                    .task_definition(task_definition)
                    .send()
                    .await
                    .map_err(|e| failed(explain("UpdateService", e)))?;
            }
            // Created for this rollout: it has no earlier release to keep.
            Some(None) => {
                self.aws
                    .ecs
                    .delete_service()
                    .cluster(names.base())
                    .service(names.colored(service, color))
                    .force(true)
                    .send()
                    .await
                    .map_err(|e| failed(explain("DeleteService", e)))?;
            }
            None => {}
        }
        Ok(())
    }

    async fn is_healthy(&self, service: &str, color: Color) -> Result<bool, PlatformError> {
        let Some(ecs) = self.ecs_service(service, color).await? else {
            return Ok(false);
        };
        if let Some(failure) = ecs.deployments().iter().find(|deployment| {
            deployment
                .rollout_state()
                .is_some_and(|state| state.as_str() == "FAILED")
        }) {
            return Err(PlatformError(format!(
                "the ECS deployment circuit breaker stopped {}: {}",
                self.names().colored(service, color),
                failure
                    .rollout_state_reason()
                    .unwrap_or("tasks keep failing")
            )));
        }
        let firing = alarms::firing(self.aws, self.spec, service, color)
            .await
            .map_err(failed)?;
        if !firing.is_empty() {
            eprintln!("  {service}: alarm {} is firing", firing.join(", "));
            return Ok(false);
        }
        if self.gate == Gate::Off {
            return Ok(true);
        }
        let desired = usize::try_from(ecs.desired_count()).unwrap_or(0);
        let running = usize::try_from(ecs.running_count()).unwrap_or(0);
        let group = self.id(Kind::TargetGroup, &self.names().colored(service, color))?;
        let (healthy, _) = self.aws.count(&group).await.map_err(failed)?;
        Ok(desired > 0 && running >= desired && healthy >= desired)
    }

    async fn shift_traffic(
        &self,
        service: &str,
        to: Color,
        percent: u8,
    ) -> Result<(), PlatformError> {
        let names = self.names();
        let listener = self.id(Kind::Listener, &listener_name(self.spec, service))?;
        let new_group = self.id(Kind::TargetGroup, &names.colored(service, to))?;
        let action = if percent >= 100 {
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(new_group)
                .build()
        } else {
            let old_group = self.id(Kind::TargetGroup, &names.colored(service, to.other()))?;
            let forward = ForwardActionConfig::builder()
                .target_groups(
                    TargetGroupTuple::builder()
                        .target_group_arn(new_group)
                        .weight(i32::from(percent))
                        .build(),
                )
                .target_groups(
                    TargetGroupTuple::builder()
                        .target_group_arn(old_group)
                        .weight(100 - i32::from(percent))
                        .build(),
                )
                .build();
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .forward_config(forward)
                .build()
        };
        self.aws
            .elb
            .modify_listener()
            .listener_arn(listener)
            .default_actions(action)
            .send()
            .await
            .map_err(|e| failed(explain("ModifyListener", e)))?;
        Ok(())
    }

    async fn retarget_scaling(&self, service: &str, to: Color) -> Result<(), PlatformError> {
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
            .map_err(failed)?;
        scaling::put_policy(self.aws, &policy, &ids, &self.names().load_balancer(public))
            .await
            .map_err(failed)?;
        // The old color's scaling goes; a missing one is fine (first rollout, or cleaned up).
        if let Some((old_target, old_policy)) = self.scaling_resources(service, to.other()) {
            let _ = scaling::delete(self.aws, &old_policy).await;
            let _ = scaling::delete(self.aws, &old_target).await;
        }
        Ok(())
    }

    async fn retire(&self, service: &str, color: Color) -> Result<(), PlatformError> {
        if self.ecs_service(service, color).await?.is_none() {
            return Ok(());
        }
        self.set_desired(service, color, 0).await
    }
}
