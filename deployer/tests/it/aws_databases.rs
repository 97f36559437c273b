//! paintshop with its PostgreSQL database on AWS (the double): RDS set up as the spec says and
//! reachable only from the tasks that use it, the password never in clear, a release and a
//! rollback with the database in place, and no way to lose it by accident.

use crate::aws_clients::{Aws, every};
use crate::aws_fixture::{Deployed, Spec, replaced};
use crate::moto::Moto;

/// config/paintshop.yaml with test-sized waits; without its database if `with_database` is
/// false.
fn spec(with_database: bool) -> Spec {
    let yaml = Spec::project("config/paintshop.yaml").yaml();
    let mut yaml = replaced(
        &yaml,
        "deploy: { strategy: canary, canary: [10%, 5m], bake: 10m, auto_rollback: true, health_timeout: 5m }",
        "deploy: { strategy: all-at-once, bake: 0s, auto_rollback: true, health_timeout: 30s }",
    );
    if !with_database {
        let start = yaml.find("databases:").expect("a databases section");
        let end = yaml.find("services:").expect("a services section");
        yaml.replace_range(start..end, "");
        yaml = replaced(&yaml, "    database: main\n", "");
    }
    Spec::written("paintshop.yaml", &yaml)
}

/// paintshop with its database deployed on a fresh double, and clients to read it.
async fn deployed() -> (Deployed, Aws) {
    let deployed = Deployed::new(spec(true));
    let aws = Aws::new(&deployed.moto).await;
    (deployed, aws)
}

async fn database(aws: &Aws) -> Option<aws_sdk_rds::types::DbInstance> {
    aws.rds
        .describe_db_instances()
        .db_instance_identifier("paintshop-prod-main")
        .send()
        .await
        .ok()
        .and_then(|found| found.db_instances().first().cloned())
}

#[tokio::test]
async fn paintshop_gets_a_private_encrypted_database_its_tasks_alone_can_reach() {
    let moto = Moto::start();
    let spec = spec(true);
    moto.run(&["plan", "-f", &spec.path])
        .succeeds()
        .stdout_contains("database paintshop-prod-main")
        .stdout_contains("managed by RDS in Secrets Manager")
        .stdout_contains("DB subnet group paintshop-prod-main");

    let deployed = Deployed::on(moto, spec);
    deployed
        .deploy
        .contains("create database paintshop-prod-main");
    let aws = Aws::new(&deployed.moto).await;

    let instance = database(&aws).await.expect("the RDS instance");
    assert_eq!(instance.engine(), Some("postgres"));
    assert_eq!(
        instance.storage_encrypted(),
        Some(true),
        "encrypted at rest"
    );
    assert_eq!(instance.deletion_protection(), Some(true));
    assert_eq!(instance.backup_retention_period(), Some(7));
    assert_eq!(instance.publicly_accessible(), Some(false));
    assert_eq!(instance.db_name(), Some("paintshop"));
    let secret_arn = instance
        .master_user_secret()
        .and_then(|secret| secret.secret_arn())
        .expect("RDS manages the password in Secrets Manager")
        .to_owned();
    let host = instance
        .endpoint()
        .and_then(|endpoint| endpoint.address())
        .expect("an endpoint")
        .to_owned();

    // The subnet group holds the private subnets only.
    let subnet_ids: Vec<String> = instance
        .db_subnet_group()
        .expect("subnet group")
        .subnets()
        .iter()
        .filter_map(|subnet| subnet.subnet_identifier().map(str::to_owned))
        .collect();
    let subnets = every!(
        aws.ec2
            .describe_subnets()
            .set_subnet_ids(Some(subnet_ids.clone())),
        "subnets"
    );
    assert_eq!(subnets.len(), 2, "{subnet_ids:?}");
    for subnet in &subnets {
        let name = subnet
            .tags()
            .iter()
            .find(|tag| tag.key() == Some("Name"))
            .and_then(|tag| tag.value())
            .unwrap_or_default();
        assert!(name.contains("-private-"), "{name} is not private");
    }

    // 5432 from the API's tasks, and from nothing else.
    assert_eq!(
        aws.ingress("paintshop-prod-main-db").await,
        vec![(5432, "paintshop-prod-api-tasks".to_owned())]
    );

    // Tasks get the libpq variables; the password only as a reference to RDS's secret.
    let container = aws.container("paintshop-prod-api").await;
    let env: Vec<(String, String)> = container
        .environment()
        .iter()
        .map(|pair| {
            (
                pair.name().unwrap_or_default().to_owned(),
                pair.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (key, value) in [
        ("PGHOST", host.as_str()),
        ("PGPORT", "5432"),
        ("PGDATABASE", "paintshop"),
        ("PGUSER", "dashctl"),
        ("PGSSLMODE", "require"),
    ] {
        assert!(
            env.contains(&(key.to_owned(), value.to_owned())),
            "{key}={value} missing from {env:?}"
        );
    }
    assert!(!env.iter().any(|(key, _)| key == "PGPASSWORD"));
    let password = container
        .secrets()
        .iter()
        .find(|secret| secret.name() == "PGPASSWORD")
        .expect("PGPASSWORD as a secret");
    assert_eq!(password.value_from(), format!("{secret_arn}:password::"));

    // The execution role may read that secret (and the task role may not).
    let document = secrets_policy(&aws, "paintshop-prod-execution")
        .await
        .expect("the execution role's secrets policy");
    assert!(document.contains(&secret_arn), "{document}");
    assert_eq!(
        secrets_policy(&aws, "paintshop-prod-api-task").await,
        None,
        "the task role reads no secrets"
    );

    // A second plan finds nothing to do: what AWS reports reads back as the spec says.
    deployed.plan().stdout_contains("No changes");

    deployed
        .run(&["status", "--env", "aws"])
        .succeeds()
        .stdout_contains("paintshop-prod-main")
        .stdout_contains("available")
        .stdout_contains(&format!("{host}:5432"));
}

/// The `read-secrets` policy of `role` (IAM returns it URL-encoded), if it has one.
async fn secrets_policy(aws: &Aws, role: &str) -> Option<String> {
    let policy = aws
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name("read-secrets")
        .send()
        .await
        .ok()?;
    let document = percent_encoding::percent_decode_str(policy.policy_document());
    Some(document.decode_utf8_lossy().into_owned())
}

#[tokio::test]
async fn a_release_and_a_rollback_keep_the_database_and_its_connection() {
    let (deployed, aws) = deployed().await;
    let before = database(&aws).await.expect("database");

    deployed
        .release("api=ghcr.io/example/dashctl-paintshop:v2")
        .succeeds()
        .stdout_contains("api: live on green");
    let container = aws.container("paintshop-prod-api").await;
    assert_eq!(
        container.image(),
        Some("ghcr.io/example/dashctl-paintshop:v2")
    );
    assert!(
        container
            .secrets()
            .iter()
            .any(|secret| secret.name() == "PGPASSWORD"),
        "the new release connects to the same database"
    );

    deployed.run(&["rollback", "--env", "aws"]).succeeds();
    let after = database(&aws).await.expect("database still there");
    assert_eq!(after.instance_create_time(), before.instance_create_time());
    assert_eq!(after.db_instance_status(), Some("available"));
}

#[tokio::test]
async fn a_database_is_deleted_only_when_confirmed_and_leaves_a_final_snapshot() {
    let (deployed, aws) = deployed().await;

    // Taking the database out of the spec is refused, and nothing changes.
    let without = spec(false);
    deployed
        .moto
        .run(&["deploy", "--env", "aws", "-f", &without.path])
        .exits(2)
        .contains("refusing to delete database paintshop-prod-main")
        .contains("--yes");
    assert!(database(&aws).await.is_some(), "the database is kept");

    // destroy without --yes lists it and says what --yes would keep.
    deployed
        .run(&["destroy"])
        .exits(2)
        .stdout_contains("database paintshop-prod-main")
        .stdout_contains("final snapshot");
    assert!(database(&aws).await.is_some());

    deployed
        .run(&["destroy", "--yes"])
        .succeeds()
        .stdout_contains("final snapshot paintshop-prod-main-final-");
    assert!(database(&aws).await.is_none(), "the database is gone");
    let snapshots = aws
        .rds
        .describe_db_snapshots()
        .send()
        .await
        .expect("snapshots");
    let names: Vec<&str> = snapshots
        .db_snapshots()
        .iter()
        .filter_map(|snapshot| snapshot.db_snapshot_identifier())
        .collect();
    assert!(
        names
            .iter()
            .any(|name| name.starts_with("paintshop-prod-main-final-")),
        "the final snapshot exists: {names:?}"
    );
    // Nothing else of the app is left behind.
    deployed
        .run(&["destroy"])
        .succeeds()
        .stdout_contains("Nothing to remove");
}
