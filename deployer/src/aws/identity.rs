//! IAM: one execution role (pulls images, writes logs, reads the spec's secrets and nothing
//! else) and one task role per service, empty: the services need no AWS permissions.

use aws_sdk_iam::types::Tag;

use super::Aws;
use super::errors::{explain, none_on};
use super::model::{Ids, Kind, Resource};
use super::names::Names;
use super::tags;
use crate::spec::Spec;

const ECS_TASKS_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const SECRETS_POLICY: &str = "read-secrets";

/// IAM returns policy documents URL-encoded.
pub fn decode_policy(document: &str) -> String {
    percent_encoding::percent_decode_str(document)
        .decode_utf8_lossy()
        .into_owned()
}

/// The secret ARNs an inline `read-secrets` policy grants, canonical (sorted, `; `-joined).
pub fn secrets_in_policy(document: &str) -> String {
    let decoded = decode_policy(document);
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&decoded) else {
        return String::new();
    };
    let mut resources: Vec<String> = value["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|statement| match &statement["Resource"] {
            serde_json::Value::String(one) => vec![one.clone()],
            serde_json::Value::Array(many) => many
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    resources.sort();
    resources.dedup();
    resources.join("; ")
}

fn secrets_policy(secrets: &[&str]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["ssm:GetParameters", "secretsmanager:GetSecretValue"],
            "Resource": secrets,
        }]
    })
    .to_string()
}

fn list(text: &str) -> Vec<&str> {
    text.split("; ").filter(|item| !item.is_empty()).collect()
}

pub async fn create(aws: &Aws, spec: &Spec, resource: &Resource) -> anyhow::Result<String> {
    let tags: Vec<Tag> = tags::for_resource(spec, resource)
        .into_iter()
        .filter_map(|(key, value)| Tag::builder().key(key).value(value).build().ok())
        .collect();
    let role = aws
        .iam
        .create_role()
        .role_name(&resource.name)
        .path(Names::new(spec).role_path())
        .assume_role_policy_document(ECS_TASKS_TRUST)
        .description(format!("dashctl: {}", resource.name))
        .set_permissions_boundary(spec.aws.permissions_boundary.clone())
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| explain("CreateRole", e))?;
    let arn = role
        .role()
        .map(|role| role.arn().to_owned())
        .unwrap_or_default();
    sync(aws, resource, None).await?;
    Ok(arn)
}

/// Makes the attached managed policy and the secrets policy match `resource`.
pub async fn sync(
    aws: &Aws,
    resource: &Resource,
    existing: Option<&Resource>,
) -> anyhow::Result<()> {
    let name = &resource.name;
    if let Some(existing) = existing
        && existing.get("boundary") != resource.get("boundary")
    {
        match resource.get("boundary") {
            "" => aws
                .iam
                .delete_role_permissions_boundary()
                .role_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| explain("DeleteRolePermissionsBoundary", e))?,
            boundary => aws
                .iam
                .put_role_permissions_boundary()
                .role_name(name)
                .permissions_boundary(boundary)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| explain("PutRolePermissionsBoundary", e))?,
        }
    }
    let wanted = list(resource.get("managed"));
    let have = existing
        .map(|existing| list(existing.get("managed")))
        .unwrap_or_default();
    for policy in wanted.iter().filter(|policy| !have.contains(policy)) {
        aws.iam
            .attach_role_policy()
            .role_name(name)
            .policy_arn(*policy)
            .send()
            .await
            .map_err(|e| explain("AttachRolePolicy", e))?;
    }
    for policy in have.iter().filter(|policy| !wanted.contains(policy)) {
        aws.iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(*policy)
            .send()
            .await
            .map_err(|e| explain("DetachRolePolicy", e))?;
    }
    let secrets = list(resource.get("secrets"));
    let had_secrets = existing.is_some_and(|existing| !existing.get("secrets").is_empty());
    if !secrets.is_empty() {
        aws.iam
            .put_role_policy()
            .role_name(name)
            .policy_name(SECRETS_POLICY)
            .policy_document(secrets_policy(&secrets))
            .send()
            .await
            .map_err(|e| explain("PutRolePolicy", e))?;
    } else if had_secrets {
        aws.iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(SECRETS_POLICY)
            .send()
            .await
            .map_err(|e| explain("DeleteRolePolicy", e))?;
    }
    Ok(())
}

/// The roles through which ECS manages tasks and load balancer targets, and Application Auto
/// Scaling scales ECS services. A fresh account has neither until someone creates them; AWS
/// creates them on first use only for callers in the console.
const SERVICE_LINKED_ROLES: [(&str, &str); 2] = [
    ("ecs.amazonaws.com", "AWSServiceRoleForECS"),
    (
        "ecs.application-autoscaling.amazonaws.com",
        "AWSServiceRoleForApplicationAutoScaling_ECSService",
    ),
];

/// Creates the service-linked roles ECS and Application Auto Scaling need, when missing
/// (needs `iam:CreateServiceLinkedRole`). Returns the names of those it created.
pub async fn ensure_service_linked_roles(aws: &Aws) -> anyhow::Result<Vec<&'static str>> {
    let mut created = Vec::new();
    for (service, role) in SERVICE_LINKED_ROLES {
        let found = aws.iam.get_role().role_name(role).send().await;
        if none_on(&["NoSuchEntity"], "GetRole", found)?.is_some() {
            continue;
        }
        match aws
            .iam
            .create_service_linked_role()
            .aws_service_name(service)
            .send()
            .await
        {
            Ok(_) => created.push(role),
            // Someone else created it a moment ago.
            Err(error)
                if error.as_service_error().is_some_and(|e| {
                    e.meta()
                        .message()
                        .is_some_and(|m| m.contains("has been taken"))
                }) => {}
            Err(error) => return Err(explain("CreateServiceLinkedRole", error)),
        }
    }
    Ok(created)
}

pub async fn delete(aws: &Aws, resource: &Resource, ids: &Ids) -> anyhow::Result<()> {
    let _ = ids.get(Kind::Role, &resource.name);
    let emptied = Resource::new(Kind::Role, &resource.name)
        .attr("managed", "")
        .attr("secrets", "");
    sync(aws, &emptied, Some(resource)).await?;
    aws.iam
        .delete_role()
        .role_name(&resource.name)
        .send()
        .await
        .map_err(|e| explain("DeleteRole", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_through_the_policy_document() {
        let document = secrets_policy(&["arn:b", "arn:a"]);
        let encoded =
            percent_encoding::utf8_percent_encode(&document, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert_eq!(secrets_in_policy(&encoded), "arn:a; arn:b");
        assert_eq!(secrets_in_policy(&document), "arn:a; arn:b");
    }
}
