//! Checks of the spec's databases against RDS and PostgreSQL limits, and of the services
//! attached to them.

use super::{Finding, is_resource_name};
use crate::spec::model::Spec;

/// The libpq variables dashctl sets in a service attached to a database.
pub const DATABASE_VARIABLES: [&str; 6] = [
    "PGHOST",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGSSLMODE",
];

/// RDS limits (CreateDBInstance API reference): identifiers of at most 63 letters, digits and
/// hyphens; 20 GiB to 64 TiB of gp3 storage; at most 35 days of backups.
pub fn check_databases(spec: &Spec, findings: &mut Vec<Finding>) {
    for (key, database) in &spec.databases {
        let at = |field: &str| format!("databases.{key}.{field}");
        let identifier = format!("{}-{}-{key}", spec.app, spec.environment);
        if !is_resource_name(key) || identifier.len() > 63 {
            findings.push(
                Finding::key(
                    format!("databases.{key}"),
                    format!("`{key}` is not a valid database name (its RDS identifier would be `{identifier}`)"),
                )
                .help("use lower-case letters, digits and single inner hyphens, starting with a letter; RDS identifiers are at most 63 characters"),
            );
        }
        let name = database.database_name(key);
        let name_ok = name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            findings.push(
                Finding::value(at("name"), format!("`{name}` cannot name a PostgreSQL database here"))
                    .help("use lower-case letters, digits and underscores, starting with a letter (a hyphenated key needs an explicit `name:`)"),
            );
        }
        if database.version.is_empty() || !database.version.bytes().all(|b| b.is_ascii_digit()) {
            findings.push(
                Finding::value(
                    at("version"),
                    format!("`{}` is not a major PostgreSQL version", database.version),
                )
                .help("e.g. `16`: RDS chooses the newest minor version of it"),
            );
        }
        let aws = &database.aws;
        if !aws.instance_class.starts_with("db.") {
            findings.push(
                Finding::value(
                    at("aws.instance_class"),
                    format!("`{}` is not an RDS instance class", aws.instance_class),
                )
                .help("e.g. `db.t4g.micro` or `db.m7g.large`"),
            );
        }
        if !(20..=65_536).contains(&aws.storage_gb) {
            findings.push(Finding::value(
                at("aws.storage_gb"),
                format!(
                    "{} GiB is outside what RDS allows (20 to 65536)",
                    aws.storage_gb
                ),
            ));
        }
        if aws.backup_retention_days > 35 {
            findings.push(Finding::value(
                at("aws.backup_retention_days"),
                format!(
                    "{} days; RDS keeps backups for at most 35",
                    aws.backup_retention_days
                ),
            ));
        }
    }
    for (name, service) in &spec.services {
        let Some(database) = &service.database else {
            continue;
        };
        let at = |field: &str| format!("services.{name}.{field}");
        if !spec.databases.contains_key(database) {
            let known: Vec<&str> = spec.databases.keys().map(String::as_str).collect();
            findings.push(
                Finding::value(at("database"), format!("no database named `{database}`"))
                    .help(if known.is_empty() {
                        "declare it under `databases:` (e.g. `databases: {main: {engine: postgres}}`)".to_owned()
                    } else {
                        format!("declared databases: {}", known.join(", "))
                    }),
            );
        }
        for variable in DATABASE_VARIABLES {
            for (field, set) in [
                ("env", service.env.contains_key(variable)),
                ("secrets", service.secrets.contains_key(variable)),
            ] {
                if set {
                    findings.push(
                        Finding::key(
                            at(&format!("{field}.{variable}")),
                            format!(
                                "{variable} is set by dashctl for services attached to a database"
                            ),
                        )
                        .help("remove it: `database:` provides the connection settings"),
                    );
                }
            }
        }
    }
}
