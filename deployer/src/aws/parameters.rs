//! SSM parameters holding JSON that dashctl keeps for itself (the rollout lock, the traffic
//! record): read, written (optionally only if absent), deleted; a missing one is not an error.

use aws_sdk_ssm::types::ParameterType;
use serde::Serialize;

use super::Aws;
use super::errors::explain;

pub async fn read(aws: &Aws, name: &str) -> anyhow::Result<Option<String>> {
    match aws.ssm.get_parameter().name(name).send().await {
        Ok(found) => Ok(found
            .parameter()
            .and_then(|parameter| parameter.value().map(str::to_owned))),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_parameter_not_found()) =>
        {
            Ok(None)
        }
        Err(error) => Err(explain("GetParameter", error)),
    }
}

/// Writes `value` as JSON; false when it exists and `overwrite` is off.
pub async fn put(
    aws: &Aws,
    name: &str,
    value: &impl Serialize,
    overwrite: bool,
) -> anyhow::Result<bool> {
    let value = serde_json::to_string(value)?;
    match aws
        .ssm
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::String)
        .overwrite(overwrite)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_parameter_already_exists()) =>
        {
            Ok(false)
        }
        Err(error) => Err(explain("PutParameter", error)),
    }
}

pub async fn delete(aws: &Aws, name: &str) -> anyhow::Result<()> {
    match aws.ssm.delete_parameter().name(name).send().await {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_parameter_not_found()) =>
        {
            Ok(())
        }
        Err(error) => Err(explain("DeleteParameter", error)),
    }
}
