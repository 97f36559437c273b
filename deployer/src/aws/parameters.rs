//! SSM parameters holding JSON that dashctl keeps for itself (the rollout lock, the traffic
//! record): read, written (optionally only if absent), deleted; a missing one is not an error.

use aws_sdk_ssm::types::ParameterType;
use serde::Serialize;

use super::Aws;
use super::errors::none_on;

pub async fn read(aws: &Aws, name: &str) -> anyhow::Result<Option<String>> {
    let found = aws.ssm.get_parameter().name(name).send().await;
    Ok(none_on(&["ParameterNotFound"], "GetParameter", found)?
        .as_ref()
        .and_then(|found| found.parameter())
        .and_then(|parameter| parameter.value().map(str::to_owned)))
}

/// Writes `value` as JSON; false when it exists and `overwrite` is off.
pub async fn put(
    aws: &Aws,
    name: &str,
    value: &impl Serialize,
    overwrite: bool,
) -> anyhow::Result<bool> {
    let value = serde_json::to_string(value)?;
    let put = aws
        .ssm
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::String)
        .overwrite(overwrite)
        .send()
        .await;
    Ok(none_on(&["ParameterAlreadyExists"], "PutParameter", put)?.is_some())
}

pub async fn delete(aws: &Aws, name: &str) -> anyhow::Result<()> {
    let deleted = aws.ssm.delete_parameter().name(name).send().await;
    none_on(&["ParameterNotFound"], "DeleteParameter", deleted)?;
    Ok(())
}
