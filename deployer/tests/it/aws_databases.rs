//! paintshop with its PostgreSQL database on AWS (the double): RDS set up as the spec says and
//! reachable only from the tasks that use it, the password never in clear, a release and a
//! rollback with the database in place, and no way to lose it by accident.

use crate::moto::Moto;

/// config/paintshop.yaml with test-sized waits.
fn spec(dir: &tempfile::TempDir, with_database: bool) -> String {
    let original = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/paintshop.yaml"
    ))
    .expect("spec");
    let mut yaml = original.replace(
        "deploy: { strategy: canary, canary: [10%, 5m], bake: 10m, auto_rollback: true, health_timeout: 5m }",
        "deploy: { strategy: all-at-once, bake: 0s, auto_rollback: true, health_timeout: 30s }",
    );
    assert_ne!(
        yaml, original,
        "config/paintshop.yaml changed shape; update this test"
    );
    if !with_database {
        let start = yaml.find("databases:").expect("a databases section");
        let end = yaml.find("services:").expect("a services section");
        yaml.replace_range(start..end, "");
        yaml = yaml.replace("    database: main\n", "");
    }
    let path = dir.path().join("paintshop.yaml");
    std::fs::write(&path, yaml).expect("write spec");
    path.display().to_string()
}

struct Clients {
    rds: aws_sdk_rds::Client,
    ec2: aws_sdk_ec2::Client,
    ecs: aws_sdk_ecs::Client,
    iam: aws_sdk_iam::Client,
}

impl Clients {
    async fn new(moto: &Moto) -> Self {
        let config = moto.config().await;
        Self {
            rds: aws_sdk_rds::Client::new(&config),
            ec2: aws_sdk_ec2::Client::new(&config),
            ecs: aws_sdk_ecs::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
        }
    }

    async fn instance(&self) -> Option<aws_sdk_rds::types::DbInstance> {
        self.rds
            .describe_db_instances()
            .db_instance_identifier("paintshop-prod-main")
            .send()
            .await
            .ok()
            .and_then(|found| found.db_instances().first().cloned())
    }

    /// The ingress rules of the group named `name`: (port, source group name).
    async fn ingress(&self, name: &str) -> Vec<(i32, String)> {
        let groups = self
            .ec2
            .describe_security_groups()
            .send()
            .await
            .expect("security groups");
        let name_of = |id: &str| {
            groups
                .security_groups()
                .iter()
                .find(|group| group.group_id() == Some(id))
                .and_then(|group| group.group_name())
                .unwrap_or(id)
                .to_owned()
        };
        let group = groups
            .security_groups()
            .iter()
            .find(|group| group.group_name() == Some(name))
            .unwrap_or_else(|| panic!("no security group {name}"));
        group
            .ip_permissions()
            .iter()
            .flat_map(|rule| {
                let port = rule.from_port().unwrap_or_default();
                let mut sources: Vec<(i32, String)> = rule
                    .user_id_group_pairs()
                    .iter()
                    .filter_map(|pair| pair.group_id())
                    .map(|id| (port, name_of(id)))
                    .collect();
                sources.extend(
                    rule.ip_ranges()
                        .iter()
                        .filter_map(|range| range.cidr_ip())
                        .map(|cidr| (port, cidr.to_owned())),
                );
                sources
            })
            .collect()
    }

    /// The API's container definition in the task definition its live service runs.
    async fn api_container(&self) -> aws_sdk_ecs::types::ContainerDefinition {
        let described = self
            .ecs
            .describe_task_definition()
            .task_definition("paintshop-prod-api")
            .send()
            .await
            .expect("task definition");
        described
            .task_definition()
            .and_then(|definition| definition.container_definitions().first().cloned())
            .expect("a container")
    }
}

#[tokio::test]
async fn paintshop_gets_a_private_encrypted_database_its_tasks_alone_can_reach() {
    let moto = Moto::start();
    let clients = Clients::new(&moto).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec(&dir, true);

    let plan = moto.run(&["plan", "-f", &spec]).succeeds();
    plan.stdout_contains("database paintshop-prod-main")
        .stdout_contains("managed by RDS in Secrets Manager")
        .stdout_contains("DB subnet group paintshop-prod-main");

    let deployed = moto
        .run(&["deploy", "--env", "aws", "-f", &spec])
        .succeeds();
    deployed.contains("create database paintshop-prod-main");

    let instance = clients.instance().await.expect("the RDS instance");
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
    let subnets = clients
        .ec2
        .describe_subnets()
        .set_subnet_ids(Some(subnet_ids.clone()))
        .send()
        .await
        .expect("subnets");
    assert_eq!(subnets.subnets().len(), 2, "{subnet_ids:?}");
    for subnet in subnets.subnets() {
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
        clients.ingress("paintshop-prod-main-db").await,
        vec![(5432, "paintshop-prod-api-tasks".to_owned())]
    );

    // Tasks get the libpq variables; the password only as a reference to RDS's secret.
    let container = clients.api_container().await;
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
    let policy = clients
        .iam
        .get_role_policy()
        .role_name("paintshop-prod-execution")
        .policy_name("read-secrets")
        .send()
        .await
        .expect("the execution role's secrets policy");
    let document = percent_decode(policy.policy_document());
    assert!(document.contains(&secret_arn), "{document}");
    assert!(
        clients
            .iam
            .get_role_policy()
            .role_name("paintshop-prod-api-task")
            .policy_name("read-secrets")
            .send()
            .await
            .is_err(),
        "the task role reads no secrets"
    );

    // A second plan finds nothing to do: what AWS reports reads back as the spec says.
    moto.run(&["plan", "-f", &spec])
        .succeeds()
        .stdout_contains("No changes");

    moto.run(&["status", "--env", "aws", "-f", &spec])
        .succeeds()
        .stdout_contains("paintshop-prod-main")
        .stdout_contains("available")
        .stdout_contains(&format!("{host}:5432"));
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[tokio::test]
async fn a_release_and_a_rollback_keep_the_database_and_its_connection() {
    let moto = Moto::start();
    let clients = Clients::new(&moto).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec(&dir, true);
    moto.run(&["deploy", "--env", "aws", "-f", &spec])
        .succeeds();
    let before = clients.instance().await.expect("database");

    moto.run(&[
        "deploy",
        "--env",
        "aws",
        "-f",
        &spec,
        "--image",
        "api=ghcr.io/example/dashctl-paintshop:v2",
    ])
    .succeeds()
    .stdout_contains("api: live on green");
    let container = clients.api_container().await;
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

    moto.run(&["rollback", "--env", "aws", "-f", &spec])
        .succeeds();
    let after = clients.instance().await.expect("database still there");
    assert_eq!(after.instance_create_time(), before.instance_create_time());
    assert_eq!(after.db_instance_status(), Some("available"));
}

#[tokio::test]
async fn a_database_is_deleted_only_when_confirmed_and_leaves_a_final_snapshot() {
    let moto = Moto::start();
    let clients = Clients::new(&moto).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let spec_with = spec(&dir, true);
    moto.run(&["deploy", "--env", "aws", "-f", &spec_with])
        .succeeds();

    // Taking the database out of the spec is refused, and nothing changes.
    let other = tempfile::tempdir().expect("tempdir");
    let spec_without = spec(&other, false);
    moto.run(&["deploy", "--env", "aws", "-f", &spec_without])
        .exits(2)
        .contains("refusing to delete database paintshop-prod-main")
        .contains("--yes");
    assert!(clients.instance().await.is_some(), "the database is kept");

    // destroy without --yes lists it and says what --yes would keep.
    moto.run(&["destroy", "-f", &spec_with])
        .exits(2)
        .stdout_contains("database paintshop-prod-main")
        .stdout_contains("final snapshot");
    assert!(clients.instance().await.is_some());

    let destroyed = moto.run(&["destroy", "-f", &spec_with, "--yes"]).succeeds();
    destroyed.stdout_contains("final snapshot paintshop-prod-main-final-");
    assert!(clients.instance().await.is_none(), "the database is gone");
    let snapshots = clients
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
    moto.run(&["destroy", "-f", &spec_with])
        .succeeds()
        .stdout_contains("Nothing to remove");
}
