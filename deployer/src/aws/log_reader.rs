//! `dashctl logs` on AWS: the service's CloudWatch log group, where ECS's awslogs driver writes
//! each task's output to the stream `{prefix}/{container}/{task id}` (both are the service's
//! name, cluster.rs). A task's color is the ECS service (`…-portal-green`) that ran it, which
//! ListTasks tells for running tasks and for tasks stopped within about an hour.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use aws_sdk_ecs::types::DesiredStatus;

use super::Aws;
use super::errors::none_on;
use super::names::Names;
use crate::log_line::{self, LogLine};
use crate::rollout::Color;
use crate::spec::Spec;

pub struct AwsLogs<'a> {
    aws: &'a Aws,
    service: String,
    color: Option<Color>,
    group: String,
    cluster: String,
    /// ECS service name of each color.
    ecs_services: [(Color, String); 2],
    /// Task id -> color, from ListTasks.
    colors: HashMap<String, Color>,
    /// Tasks ListTasks did not know when last asked (stopped long ago): not asked about again.
    unknown: HashSet<String>,
    /// Where the next read starts: the newest event's time, and the ids of the events read at
    /// that time (a later read starts there again, so those are skipped).
    cursor: Option<(i64, HashSet<String>)>,
}

impl<'a> AwsLogs<'a> {
    pub fn new(aws: &'a Aws, spec: &Spec, service: &str, color: Option<Color>) -> Self {
        let names = Names::new(spec);
        Self {
            aws,
            service: service.to_owned(),
            color,
            group: names.log_group(service),
            cluster: names.base(),
            ecs_services: [Color::Blue, Color::Green]
                .map(|color| (color, names.colored(service, color))),
            colors: HashMap::new(),
            unknown: HashSet::new(),
            cursor: None,
        }
    }

    /// The log group read.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The events since the last call (on the first: from `since` on), in time order, the
    /// color asked for only. `None` while the log group does not exist (nothing deployed yet).
    pub async fn read_new(&mut self, since: SystemTime) -> anyhow::Result<Option<Vec<LogLine>>> {
        let start = match &self.cursor {
            Some((newest, _)) => *newest,
            None => millis(since),
        };
        let Some(events) = self.filter_events(start).await? else {
            return Ok(None);
        };
        let mut lines = Vec::with_capacity(events.len());
        let mut looked_up = false;
        let mut newest = self.cursor.take().unwrap_or((start, HashSet::new()));
        for event in events {
            let id = event.event_id.unwrap_or_default();
            let timestamp = event.timestamp.unwrap_or_default();
            if timestamp == newest.0 && newest.1.contains(&id) {
                continue;
            }
            if timestamp > newest.0 {
                newest = (timestamp, HashSet::new());
            }
            if timestamp == newest.0 {
                newest.1.insert(id);
            }
            let stream = event.log_stream_name.unwrap_or_default();
            let task = self.task_of(&stream).to_owned();
            // A task started since the colors were read: read them again, once per call.
            if !self.colors.contains_key(&task) && !self.unknown.contains(&task) && !looked_up {
                self.colors = self.task_colors().await?;
                looked_up = true;
            }
            let color = self.colors.get(&task).copied();
            if color.is_none() {
                self.unknown.insert(task.clone());
            }
            if self.color.is_some() && color != self.color {
                continue;
            }
            let message = event.message.unwrap_or_default();
            lines.push(LogLine {
                at: SystemTime::UNIX_EPOCH
                    + Duration::from_millis(u64::try_from(timestamp).unwrap_or_default()),
                service: self.service.clone(),
                color,
                instance: task,
                message: message.trim_end_matches(['\n', '\r']).to_owned(),
            });
        }
        self.cursor = Some(newest);
        log_line::in_time_order(&mut lines);
        Ok(Some(lines))
    }

    /// The task id in `portal/portal/<task id>`; another stream's whole name.
    fn task_of<'s>(&self, stream: &'s str) -> &'s str {
        stream
            .strip_prefix(&self.service)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.strip_prefix(&self.service))
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|task| !task.is_empty())
            .unwrap_or(stream)
    }

    /// Every page of FilterLogEvents from `start` (milliseconds since the epoch) on.
    async fn filter_events(
        &self,
        start: i64,
    ) -> anyhow::Result<Option<Vec<aws_sdk_cloudwatchlogs::types::FilteredLogEvent>>> {
        let mut events = Vec::new();
        let mut pages = self
            .aws
            .logs
            .filter_log_events()
            .log_group_name(&self.group)
            .start_time(start)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let Some(page) = none_on(&["ResourceNotFoundException"], "FilterLogEvents", page)?
            else {
                return Ok(None);
            };
            events.extend(page.events.unwrap_or_default());
        }
        Ok(Some(events))
    }

    /// Which color ran each task ECS still lists: running ones and those stopped recently.
    async fn task_colors(&self) -> anyhow::Result<HashMap<String, Color>> {
        let mut colors = HashMap::new();
        for (color, ecs_service) in &self.ecs_services {
            for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
                let mut pages = self
                    .aws
                    .ecs
                    .list_tasks()
                    .cluster(&self.cluster)
                    .service_name(ecs_service)
                    .desired_status(status)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let missing = ["ClusterNotFoundException", "ServiceNotFoundException"];
                    // Nothing deployed (any more): no task has a known color.
                    let Some(page) = none_on(&missing, "ListTasks", page)? else {
                        break;
                    };
                    for arn in page.task_arns() {
                        let id = arn.rsplit('/').next().unwrap_or(arn);
                        colors.insert(id.to_owned(), *color);
                    }
                }
            }
        }
        Ok(colors)
    }
}

fn millis(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}
