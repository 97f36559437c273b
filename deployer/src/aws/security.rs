//! Security groups: who may talk to whom. Rules are kept exactly as the spec implies: missing
//! ones are added, extra ones removed.

use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};

use super::Aws;
use super::errors::explain;
use super::model::{Ids, Kind, Resource};
use super::names::Names;
use super::retry;
use super::tags;
use crate::spec::Spec;

pub async fn create(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    ids: &Ids,
) -> anyhow::Result<String> {
    let vpc = ids
        .get(Kind::Vpc, &Names::new(spec).base())
        .ok_or_else(|| anyhow::anyhow!("the VPC does not exist (yet)"))?;
    let group = aws
        .ec2
        .create_security_group()
        .group_name(&resource.name)
        .description(format!("dashctl: {}", resource.name))
        .vpc_id(vpc)
        .tag_specifications(tags::ec2(spec, resource, ResourceType::SecurityGroup))
        .send()
        .await
        .map_err(|e| explain("CreateSecurityGroup", e))?;
    Ok(group.group_id().unwrap_or_default().to_owned())
}

fn rules(text: &str) -> Vec<&str> {
    text.split("; ").filter(|rule| !rule.is_empty()).collect()
}

/// `tcp/80 from 0.0.0.0/0` or `tcp/5001 from sg:NAME` as an ingress permission. Rules naming a
/// group that does not exist yet are skipped (the next deploy adds them).
fn permission(rule: &str, ids: &Ids) -> Option<IpPermission> {
    let (protocol_port, source) = rule.split_once(" from ")?;
    let (protocol, port) = protocol_port.split_once('/')?;
    let port: i32 = port.parse().ok()?;
    let builder = IpPermission::builder()
        .ip_protocol(protocol)
        .from_port(port)
        .to_port(port);
    Some(match source.strip_prefix("sg:") {
        Some(group) => builder
            .user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(ids.get(Kind::SecurityGroup, group)?)
                    .build(),
            )
            .build(),
        None => builder
            .ip_ranges(IpRange::builder().cidr_ip(source).build())
            .build(),
    })
}

/// Makes the group's ingress rules exactly `resource`'s.
pub async fn sync_rules(
    aws: &Aws,
    resource: &Resource,
    existing: Option<&Resource>,
    ids: &Ids,
) -> anyhow::Result<()> {
    let id = ids
        .get(Kind::SecurityGroup, &resource.name)
        .ok_or_else(|| anyhow::anyhow!("security group {} does not exist", resource.name))?;
    let wanted = rules(resource.get("rules"));
    let have = existing
        .map(|existing| rules(existing.get("rules")))
        .unwrap_or_default();
    let add: Vec<IpPermission> = wanted
        .iter()
        .filter(|rule| !have.contains(rule))
        .filter_map(|rule| permission(rule, ids))
        .collect();
    let remove: Vec<IpPermission> = have
        .iter()
        .filter(|rule| !wanted.contains(rule))
        .filter_map(|rule| permission(rule, ids))
        .collect();
    // The group (or the one a rule names) may have been created a moment ago.
    let what = format!("set rules of security group {}", resource.name);
    if !remove.is_empty() {
        retry::after_create(&aws.events, &what, || async {
            aws.ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(remove.clone()))
                .send()
                .await
                .map_err(|e| explain("RevokeSecurityGroupIngress", e))
        })
        .await?;
    }
    if !add.is_empty() {
        retry::after_create(&aws.events, &what, || async {
            aws.ec2
                .authorize_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(add.clone()))
                .send()
                .await
                .map_err(|e| explain("AuthorizeSecurityGroupIngress", e))
        })
        .await?;
    }
    Ok(())
}

/// Groups that reference each other cannot be deleted until those rules are gone.
pub async fn delete(aws: &Aws, resource: &Resource, ids: &Ids) -> anyhow::Result<()> {
    let id = ids
        .get(Kind::SecurityGroup, &resource.name)
        .ok_or_else(|| anyhow::anyhow!("security group {} does not exist", resource.name))?;
    let permissions: Vec<IpPermission> = rules(resource.get("rules"))
        .iter()
        .filter_map(|rule| permission(rule, ids))
        .collect();
    if !permissions.is_empty() {
        aws.ec2
            .revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(permissions))
            .send()
            .await
            .map_err(|e| explain("RevokeSecurityGroupIngress", e))?;
    }
    aws.ec2
        .delete_security_group()
        .group_id(id)
        .send()
        .await
        .map_err(|e| explain("DeleteSecurityGroup", e))?;
    Ok(())
}
