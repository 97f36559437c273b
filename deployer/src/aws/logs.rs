//! One CloudWatch log group per service, with the spec's retention.

use super::Aws;
use super::errors::explain;
use super::model::Resource;
use super::tags;
use crate::spec::Spec;

pub async fn create(aws: &Aws, spec: &Spec, resource: &Resource) -> anyhow::Result<String> {
    aws.logs
        .create_log_group()
        .log_group_name(&resource.name)
        .set_tags(Some(tags::map(spec, resource)))
        .send()
        .await
        .map_err(|e| explain("CreateLogGroup", e))?;
    set_retention(aws, resource).await?;
    Ok(resource.name.clone())
}

pub async fn set_retention(aws: &Aws, resource: &Resource) -> anyhow::Result<()> {
    let days: i32 = resource.get("retention_days").parse()?;
    aws.logs
        .put_retention_policy()
        .log_group_name(&resource.name)
        .retention_in_days(days)
        .send()
        .await
        .map_err(|e| explain("PutRetentionPolicy", e))?;
    Ok(())
}

pub async fn delete(aws: &Aws, name: &str) -> anyhow::Result<()> {
    aws.logs
        .delete_log_group()
        .log_group_name(name)
        .send()
        .await
        .map_err(|e| explain("DeleteLogGroup", e))?;
    Ok(())
}
