//! The test route on AWS: a rule on the service's listener that forwards requests carrying
//! `X-Dashctl-Color: <color>` to that color's target group while the color is being checked.
//! The rule is tagged as dashctl's test route, so the one a run left (a killed run's too) is
//! found and replaced, and no rule dashctl did not create is ever touched. Discovery reads
//! listeners' default actions only, so the rule is never drift in a plan; deleting a listener
//! deletes its rules, so `destroy` takes a forgotten one with it.

use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HttpHeaderConditionConfig, RuleCondition, Tag,
};

use super::Aws;
use super::colors::listener_name;
use super::errors::{explain, none_on};
use super::model::{Ids, Kind, Resource};
use super::names::Names;
use super::tags;
use crate::rollout::{Color, TEST_HEADER};
use crate::spec::Spec;

/// Marks dashctl's test route; the value is the color it reaches.
pub const TAG_TEST_ROUTE: &str = "dashctl:test-route";

/// A listener evaluates its rules lowest priority first: the test route comes before any other.
pub const PRIORITY: i32 = 1;

/// Replaces any test route on `service`'s listener with one to `color`.
pub async fn open(
    aws: &Aws,
    spec: &Spec,
    ids: &Ids,
    service: &str,
    color: Color,
) -> anyhow::Result<()> {
    let listener = listener_name(spec, service);
    let Some(listener_arn) = ids.get(Kind::Listener, &listener) else {
        anyhow::bail!("listener {listener} does not exist; run `dashctl deploy` to create it");
    };
    delete_ours(aws, listener_arn).await?;
    let group = Names::new(spec).colored(service, color);
    let Some(group_arn) = ids.get(Kind::TargetGroup, &group) else {
        anyhow::bail!("target group {group} does not exist; run `dashctl deploy` to create it");
    };
    let mut rule_tags: Vec<Tag> = tags::sdk(
        spec,
        &Resource::new(Kind::Listener, format!("{listener}-test-route")).service(service),
    );
    rule_tags.push(
        Tag::builder()
            .key(TAG_TEST_ROUTE)
            .value(color.as_str())
            .build(),
    );
    let created = aws
        .elb
        .create_rule()
        .listener_arn(listener_arn)
        .priority(PRIORITY)
        .conditions(
            RuleCondition::builder()
                .field("http-header")
                .http_header_config(
                    HttpHeaderConditionConfig::builder()
                        .http_header_name(TEST_HEADER)
                        .values(color.as_str())
                        .build(),
                )
                .build(),
        )
        .actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(group_arn)
                .build(),
        )
        .set_tags(Some(rule_tags))
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(error) if error.code() == Some("PriorityInUse") => Err(explain("CreateRule", error)
            .context(format!(
                "listener {listener} has a rule at priority {PRIORITY} that dashctl did not create; the test route needs that priority: give that rule another one"
            ))),
        Err(error) => Err(explain("CreateRule", error)),
    }
}

/// Removes the test route from `service`'s listener, if it has one (or has no listener).
pub async fn close(aws: &Aws, spec: &Spec, ids: &Ids, service: &str) -> anyhow::Result<()> {
    match ids.get(Kind::Listener, &listener_name(spec, service)) {
        Some(listener_arn) => delete_ours(aws, listener_arn).await,
        None => Ok(()),
    }
}

async fn delete_ours(aws: &Aws, listener_arn: &str) -> anyhow::Result<()> {
    for rule in ours(aws, listener_arn).await? {
        let deleted = aws.elb.delete_rule().rule_arn(&rule).send().await;
        // Gone already (another run removed it): what was wanted.
        none_on(&["RuleNotFound"], "DeleteRule", deleted)?;
    }
    Ok(())
}

/// ARNs of the rules on the listener tagged as dashctl's test route.
async fn ours(aws: &Aws, listener_arn: &str) -> anyhow::Result<Vec<String>> {
    let mut rules = Vec::new();
    let mut pages = aws
        .elb
        .describe_rules()
        .listener_arn(listener_arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let Some(page) = none_on(&["ListenerNotFound"], "DescribeRules", page)? else {
            return Ok(Vec::new());
        };
        rules.extend(
            page.rules()
                .iter()
                .filter(|rule| rule.is_default() != Some(true))
                .filter_map(|rule| rule.rule_arn().map(str::to_owned)),
        );
    }
    Ok(super::balancer::tags_of(aws, &rules)
        .await?
        .into_iter()
        .filter(|(_, tags)| tags.contains_key(TAG_TEST_ROUTE))
        .map(|(arn, _)| arn)
        .collect())
}
