//! RDS for PostgreSQL: a database's DB subnet group and instance, what tasks are told to reach
//! it with, and deletion that keeps a final snapshot unless told otherwise.
//!
//! The master password is never seen by dashctl: RDS generates it and keeps it in Secrets
//! Manager (`ManageMasterUserPassword`); task definitions reference the secret's `password`
//! key, which ECS's execution role alone may read.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_rds::types::{DbInstance, Tag};
use tokio::time::Instant;

use super::Aws;
use super::desired::UNKNOWN_DNS;
use super::errors::{explain, none_on};
use super::model::{DatabaseAddress, Ids, Inventory, Kind, Resource};
use super::names::Names;
use crate::spec::{Database, Spec};

/// PostgreSQL's port, on RDS as everywhere.
pub const PORT: u16 = 5432;
/// The master user RDS creates; its password lives in Secrets Manager only.
pub const MASTER_USERNAME: &str = "dashctl";
/// What the plan shows for the password: where it is, never what it is.
const PASSWORD_MANAGED: &str = "managed by RDS in Secrets Manager";
/// Creating an instance takes 5 to 15 minutes, a Multi-AZ one longer; a deletion with a final
/// snapshot about as long.
const LONGEST_WAIT: Duration = Duration::from_secs(60 * 60);

/// The database resource as the spec wants it. Attributes are what AWS reports back, in the
/// same words, so a plan compares like with like.
pub fn desired(names: &Names<'_>, key: &str, definition: &Database) -> Resource {
    let aws = &definition.aws;
    Resource::new(Kind::Database, names.database(key))
        .attr("engine", "postgres")
        .attr("version", definition.version.clone())
        .attr("class", aws.instance_class.clone())
        .attr("storage_gb", aws.storage_gb.to_string())
        .attr("subnet_group", names.database(key))
        .attr("security_group", names.database_group(key))
        .attr("database", definition.database_name(key))
        .attr("username", MASTER_USERNAME)
        .attr("password", PASSWORD_MANAGED)
        .attr("encrypted", "true")
        .attr("backup_days", aws.backup_retention_days.to_string())
        .attr("deletion_protection", aws.deletion_protection.to_string())
        .attr("multi_az", aws.multi_az.to_string())
}

/// The environment and secrets a task of a service attached to a database gets: libpq's
/// standard variables, which the services read (and `psql` too).
pub struct Connection {
    pub env: BTreeMap<&'static str, String>,
    pub secrets: BTreeMap<&'static str, String>,
}

/// `address` is None until RDS has made the database available (the plan then says so).
pub fn connection(database_name: &str, address: Option<&DatabaseAddress>) -> Connection {
    let unknown = || UNKNOWN_DNS.to_owned();
    let env = BTreeMap::from([
        ("PGHOST", address.map_or_else(unknown, |a| a.host.clone())),
        (
            "PGPORT",
            address.map_or(PORT, |address| address.port).to_string(),
        ),
        ("PGDATABASE", database_name.to_owned()),
        ("PGUSER", MASTER_USERNAME.to_owned()),
        // RDS for PostgreSQL 15 and later refuses unencrypted connections (rds.force_ssl).
        ("PGSSLMODE", "require".to_owned()),
    ]);
    let secrets = BTreeMap::from([(
        "PGPASSWORD",
        // ECS picks one key out of a JSON secret: `arn:...:secret:name-abcdef:password::`.
        address.map_or_else(unknown, |address| {
            format!("{}:password::", address.secret_arn)
        }),
    )]);
    Connection { env, secrets }
}

fn ours(tags: &[Tag], names: &Names<'_>) -> bool {
    names.own(|key| {
        tags.iter()
            .find(|tag| tag.key() == Some(key))
            .and_then(Tag::value)
    })
}

pub async fn create_subnet_group(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    subnets: Vec<String>,
) -> anyhow::Result<String> {
    aws.rds
        .create_db_subnet_group()
        .db_subnet_group_name(&resource.name)
        .db_subnet_group_description(format!(
            "dashctl {}/{}: private subnets",
            spec.app, spec.environment
        ))
        .set_subnet_ids(Some(subnets))
        .set_tags(Some(super::tags::sdk(spec, resource)))
        .send()
        .await
        .map_err(|e| explain("CreateDBSubnetGroup", e))?;
    Ok(resource.name.clone())
}

/// Creates the instance and waits until it is available, so that the tasks configured next
/// know its endpoint. Returns its identifier.
pub async fn create_instance(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    ids: &Ids,
) -> anyhow::Result<String> {
    let group = security_group_id(resource, ids)?;
    aws.rds
        .create_db_instance()
        .db_instance_identifier(&resource.name)
        .engine("postgres")
        .engine_version(resource.get("version"))
        .db_instance_class(resource.get("class"))
        .allocated_storage(number(resource, "storage_gb")?)
        .storage_type("gp3")
        .storage_encrypted(true)
        .db_name(resource.get("database"))
        .master_username(MASTER_USERNAME)
        .manage_master_user_password(true)
        .db_subnet_group_name(resource.get("subnet_group"))
        .vpc_security_group_ids(group)
        .publicly_accessible(false)
        .backup_retention_period(number(resource, "backup_days")?)
        .deletion_protection(resource.get("deletion_protection") == "true")
        .multi_az(resource.get("multi_az") == "true")
        .copy_tags_to_snapshot(true)
        .auto_minor_version_upgrade(true)
        .set_tags(Some(super::tags::sdk(spec, resource)))
        .send()
        .await
        .map_err(|e| explain("CreateDBInstance", e))?;
    wait_available(aws, &resource.name).await?;
    Ok(resource.name.clone())
}

/// The id of the database's security group, created in an earlier step.
fn security_group_id<'a>(resource: &Resource, ids: &'a Ids) -> anyhow::Result<&'a str> {
    let name = resource.get("security_group");
    ids.get(Kind::SecurityGroup, name).ok_or_else(|| {
        anyhow::anyhow!(
            "database {}: its security group {name} is missing",
            resource.name
        )
    })
}

fn number(resource: &Resource, attr: &str) -> anyhow::Result<i32> {
    resource.get(attr).parse().map_err(|_| {
        anyhow::anyhow!(
            "{} {}: {attr} is not a number",
            resource.kind,
            resource.name
        )
    })
}

/// Applies the changed settings at once (not in the next maintenance window): a deploy
/// that says it changed something has changed it.
pub async fn modify_instance(
    aws: &Aws,
    resource: &Resource,
    changed: &[String],
    ids: &Ids,
) -> anyhow::Result<()> {
    let mut call = aws
        .rds
        .modify_db_instance()
        .db_instance_identifier(&resource.name)
        .apply_immediately(true);
    for attr in changed {
        call = match attr.as_str() {
            "version" => call
                .engine_version(resource.get("version"))
                .allow_major_version_upgrade(true),
            "class" => call.db_instance_class(resource.get("class")),
            "storage_gb" => call.allocated_storage(number(resource, "storage_gb")?),
            "backup_days" => call.backup_retention_period(number(resource, "backup_days")?),
            "deletion_protection" => {
                call.deletion_protection(resource.get("deletion_protection") == "true")
            }
            "multi_az" => call.multi_az(resource.get("multi_az") == "true"),
            "security_group" => call.vpc_security_group_ids(security_group_id(resource, ids)?),
            other => anyhow::bail!(
                "database {}: {other} cannot change on an existing database; create a new database (a new key under `databases:`) and move the data",
                resource.name
            ),
        };
    }
    call.send()
        .await
        .map_err(|e| explain("ModifyDBInstance", e))?;
    wait_available(aws, &resource.name).await?;
    Ok(())
}

async fn describe(aws: &Aws, identifier: &str) -> anyhow::Result<Option<DbInstance>> {
    let found = aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(identifier)
        .send()
        .await;
    Ok(
        none_on(&["DBInstanceNotFound"], "DescribeDBInstances", found)?
            .and_then(|found| found.db_instances().first().cloned()),
    )
}

fn status(instance: &DbInstance) -> &str {
    instance.db_instance_status().unwrap_or("unknown")
}

/// Polls until the instance is `available`; a state it cannot leave without help is an error.
async fn wait_available(aws: &Aws, identifier: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut pause = Duration::from_secs(2);
    loop {
        let instance = describe(aws, identifier).await?.ok_or_else(|| {
            anyhow::anyhow!("database {identifier} disappeared while it was being set up")
        })?;
        match status(&instance) {
            "available" => return Ok(()),
            state @ ("failed"
            | "incompatible-parameters"
            | "incompatible-network"
            | "incompatible-restore"
            | "inaccessible-encryption-credentials"
            | "storage-full"
            | "stopped") => anyhow::bail!(
                "database {identifier} is {state}; see the RDS console's events for why"
            ),
            state if started.elapsed() > LONGEST_WAIT => anyhow::bail!(
                "database {identifier} is still {state} after {}; the next deploy waits again",
                humantime::format_duration(LONGEST_WAIT)
            ),
            _ => {}
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(15));
    }
}

/// How `deploy` and `destroy` delete databases. Confirmation is checked before anything is
/// deleted (the command refuses up front); this says what to keep.
#[derive(Debug, Clone)]
pub struct Deletion {
    /// Skip the final snapshot (`--skip-final-snapshot`): the data is gone for good, but for
    /// automated backups, which are kept.
    pub skip_final_snapshot: bool,
    /// Makes every final snapshot's name unique to this command.
    pub stamp: String,
}

impl Deletion {
    pub fn new(skip_final_snapshot: bool) -> Self {
        // RFC 3339 with only letters and digits: snapshot identifiers allow nothing else but
        // single hyphens.
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
            .to_string()
            .to_ascii_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        Self {
            skip_final_snapshot,
            stamp,
        }
    }

    /// The final snapshot deleting `identifier` leaves, unless skipped.
    pub fn final_snapshot(&self, identifier: &str) -> Option<String> {
        (!self.skip_final_snapshot).then(|| format!("{identifier}-final-{}", self.stamp))
    }
}

/// Deletes the instance (turning its deletion protection off first: the command has been
/// confirmed) and waits until it is gone, so its subnet group and security group can go next.
pub async fn delete_instance(
    aws: &Aws,
    identifier: &str,
    deletion: &Deletion,
) -> anyhow::Result<()> {
    let Some(instance) = describe(aws, identifier).await? else {
        return Ok(());
    };
    if status(&instance) != "deleting" {
        if instance.deletion_protection() == Some(true) {
            aws.rds
                .modify_db_instance()
                .db_instance_identifier(identifier)
                .deletion_protection(false)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| explain("ModifyDBInstance", e))?;
        }
        let call = aws
            .rds
            .delete_db_instance()
            .db_instance_identifier(identifier)
            // Automated backups outlive the instance (for their retention period) either way.
            .delete_automated_backups(false);
        let call = match deletion.final_snapshot(identifier) {
            Some(snapshot) => call.final_db_snapshot_identifier(snapshot),
            None => call.skip_final_snapshot(true),
        };
        call.send()
            .await
            .map_err(|e| explain("DeleteDBInstance", e))?;
    }
    let started = Instant::now();
    while let Some(instance) = describe(aws, identifier).await? {
        if started.elapsed() > LONGEST_WAIT {
            anyhow::bail!(
                "database {identifier} is still {} after {}",
                status(&instance),
                humantime::format_duration(LONGEST_WAIT)
            );
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    Ok(())
}

pub async fn delete_subnet_group(aws: &Aws, name: &str) -> anyhow::Result<()> {
    let deleted = aws
        .rds
        .delete_db_subnet_group()
        .db_subnet_group_name(name)
        .send()
        .await;
    none_on(
        &["DBSubnetGroupNotFoundFault"],
        "DeleteDBSubnetGroup",
        deleted,
    )?;
    Ok(())
}

/// The databases and DB subnet groups that carry our tags, in the desired state's shape, and
/// where each database is reached.
pub async fn discover(aws: &Aws, spec: &Spec, inventory: &mut Inventory) -> anyhow::Result<()> {
    let names = Names::new(spec);
    let groups: Vec<_> = aws
        .rds
        .describe_db_subnet_groups()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| explain("DescribeDBSubnetGroups", e))?;
    let prefix = format!("{}-", names.base());
    for group in groups {
        let (Some(name), Some(arn)) = (group.db_subnet_group_name(), group.db_subnet_group_arn())
        else {
            continue;
        };
        // DescribeDBSubnetGroups carries no tags: only groups named like ours are asked.
        if !name.starts_with(&prefix) {
            continue;
        }
        let tagged = aws
            .rds
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map_err(|e| explain("ListTagsForResource", e))?;
        if !ours(tagged.tag_list(), &names) {
            continue;
        }
        inventory.ids.insert(Kind::DbSubnetGroup, name, name);
        inventory
            .resources
            .push(Resource::new(Kind::DbSubnetGroup, name).attr("subnets", "private"));
    }
    let instances: Vec<_> = aws
        .rds
        .describe_db_instances()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| explain("DescribeDBInstances", e))?;
    for instance in instances {
        if !ours(instance.tag_list(), &names) {
            continue;
        }
        let Some(identifier) = instance.db_instance_identifier() else {
            continue;
        };
        inventory.ids.insert(Kind::Database, identifier, identifier);
        if let Some(address) = address(&instance) {
            inventory
                .ids
                .databases
                .insert(identifier.to_owned(), address);
        }
        inventory
            .resources
            .push(as_resource(identifier, &instance, &inventory.ids));
    }
    Ok(())
}

/// Where tasks reach the instance: known once it is available (RDS reports no endpoint before).
fn address(instance: &DbInstance) -> Option<DatabaseAddress> {
    let endpoint = instance.endpoint()?;
    Some(DatabaseAddress {
        host: endpoint.address()?.to_owned(),
        port: endpoint
            .port()
            .and_then(|port| u16::try_from(port).ok())
            .unwrap_or(PORT),
        secret_arn: instance.master_user_secret()?.secret_arn()?.to_owned(),
    })
}

fn as_resource(identifier: &str, instance: &DbInstance, ids: &Ids) -> Resource {
    let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
    let number = |value: Option<i32>| value.map(|n| n.to_string()).unwrap_or_default();
    let flag = |value: Option<bool>| value.unwrap_or(false).to_string();
    // RDS reports `16.4`; the spec names the major version.
    let version = text(instance.engine_version())
        .split('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    let security_group = instance
        .vpc_security_groups()
        .iter()
        .filter_map(|membership| membership.vpc_security_group_id())
        .map(|id| {
            ids.name_of(Kind::SecurityGroup, id)
                .unwrap_or_else(|| id.to_owned())
        })
        .collect::<Vec<_>>()
        .join("; ");
    let password = if instance.master_user_secret().is_some() {
        PASSWORD_MANAGED
    } else {
        "set outside RDS's secret management"
    };
    Resource::new(Kind::Database, identifier)
        .attr("engine", text(instance.engine()))
        .attr("version", version)
        .attr("class", text(instance.db_instance_class()))
        .attr("storage_gb", number(instance.allocated_storage()))
        .attr(
            "subnet_group",
            text(
                instance
                    .db_subnet_group()
                    .and_then(|group| group.db_subnet_group_name()),
            ),
        )
        .attr("security_group", security_group)
        .attr("database", text(instance.db_name()))
        .attr("username", text(instance.master_username()))
        .attr("password", password)
        .attr("encrypted", flag(instance.storage_encrypted()))
        .attr("backup_days", number(instance.backup_retention_period()))
        .attr("deletion_protection", flag(instance.deletion_protection()))
        .attr("multi_az", flag(instance.multi_az()))
}

/// Reads the endpoints of databases created a moment ago into `ids`.
pub async fn refresh_addresses(aws: &Aws, spec: &Spec, ids: &mut Ids) -> anyhow::Result<()> {
    let names = Names::new(spec);
    for key in spec.databases.keys() {
        let identifier = names.database(key);
        if let Some(address) = describe(aws, &identifier).await?.as_ref().and_then(address) {
            ids.databases.insert(identifier, address);
        }
    }
    Ok(())
}

/// One line per database for `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatabaseReport {
    pub name: String,
    pub identifier: String,
    /// RDS's status: `creating`, `available`, `modifying`, `backing-up`, `deleting`...
    pub state: Option<String>,
    pub engine_version: Option<String>,
    pub endpoint: Option<String>,
    pub deletion_protection: bool,
}

pub async fn reports(aws: &Aws, spec: &Spec) -> anyhow::Result<Vec<DatabaseReport>> {
    let names = Names::new(spec);
    let mut out = Vec::new();
    for key in spec.databases.keys() {
        let identifier = names.database(key);
        let instance = describe(aws, &identifier).await?;
        out.push(DatabaseReport {
            name: key.clone(),
            state: instance.as_ref().map(|i| status(i).to_owned()),
            engine_version: instance
                .as_ref()
                .and_then(|i| i.engine_version().map(str::to_owned)),
            endpoint: instance
                .as_ref()
                .and_then(address)
                .map(|address| format!("{}:{}", address.host, address.port)),
            deletion_protection: instance
                .as_ref()
                .and_then(DbInstance::deletion_protection)
                .unwrap_or(false),
            identifier,
        });
    }
    Ok(out)
}
