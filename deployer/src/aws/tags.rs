//! The tags every resource gets: dashctl's own (how discovery finds it) and the spec's.

use super::model::{Kind, Resource};
use super::names::{TAG_APP, TAG_COLOR, TAG_ENVIRONMENT, TAG_SERVICE, TAG_TIER};
use crate::spec::Spec;

pub fn for_resource(spec: &Spec, resource: &Resource) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = spec
        .tags
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    tags.push(("Name".to_owned(), resource.name.clone()));
    tags.push((TAG_APP.to_owned(), spec.app.clone()));
    tags.push((TAG_ENVIRONMENT.to_owned(), spec.environment.clone()));
    if let Some(service) = &resource.service {
        tags.push((TAG_SERVICE.to_owned(), service.clone()));
    }
    if matches!(resource.kind, Kind::TargetGroup | Kind::EcsService) {
        for color in ["blue", "green"] {
            if resource.name.ends_with(&format!("-{color}")) {
                tags.push((TAG_COLOR.to_owned(), color.to_owned()));
            }
        }
    }
    if resource.kind == Kind::Subnet {
        tags.push((TAG_TIER.to_owned(), resource.get("tier").to_owned()));
    }
    tags
}

/// A service's own tag type, built from a key and a value.
pub trait SdkTag {
    fn new(key: String, value: String) -> Self;
}

macro_rules! sdk_tag {
    ($($tag:ty),* $(,)?) => {$(
        impl SdkTag for $tag {
            fn new(key: String, value: String) -> Self {
                <$tag>::builder().key(key).value(value).build()
            }
        }
    )*};
}

sdk_tag!(
    aws_sdk_ec2::types::Tag,
    aws_sdk_elasticloadbalancingv2::types::Tag,
    aws_sdk_ecs::types::Tag,
    aws_sdk_rds::types::Tag,
    aws_sdk_cloudwatch::types::Tag,
);

/// The resource's tags (`for_resource`) as the SDK type of the service they are sent to.
pub fn sdk<T: SdkTag>(spec: &Spec, resource: &Resource) -> Vec<T> {
    for_resource(spec, resource)
        .into_iter()
        .map(|(key, value)| T::new(key, value))
        .collect()
}

/// The resource's tags for an EC2 Create call, which takes them by resource type.
pub fn ec2(
    spec: &Spec,
    resource: &Resource,
    resource_type: aws_sdk_ec2::types::ResourceType,
) -> aws_sdk_ec2::types::TagSpecification {
    aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(sdk(spec, resource)))
        .build()
}

/// The EC2 Describe filter for what dashctl created for `app` in `environment`.
pub fn ec2_filters(app: &str, environment: &str) -> Vec<aws_sdk_ec2::types::Filter> {
    [(TAG_APP, app), (TAG_ENVIRONMENT, environment)]
        .into_iter()
        .map(|(key, value)| {
            aws_sdk_ec2::types::Filter::builder()
                .name(format!("tag:{key}"))
                .values(value)
                .build()
        })
        .collect()
}

/// Tags as ELB reports them (DescribeTags), by key.
pub fn elb_map(
    tags: &[aws_sdk_elasticloadbalancingv2::types::Tag],
) -> std::collections::BTreeMap<String, String> {
    tags.iter()
        .map(|tag| {
            (
                tag.key().unwrap_or_default().to_owned(),
                tag.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

pub fn map(spec: &Spec, resource: &Resource) -> std::collections::HashMap<String, String> {
    for_resource(spec, resource).into_iter().collect()
}
