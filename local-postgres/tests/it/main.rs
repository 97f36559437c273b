//! local-postgres integration tests: a real server from the installed PostgreSQL.
//! Without PostgreSQL they are skipped with a notice, except on CI (`CI` set), where they fail.

use std::time::Duration;

use local_postgres::{DatabaseCreated, Durability, Installation, TempServer};

fn server() -> Option<TempServer> {
    TempServer::start_or_skip().expect("a PostgreSQL server starts")
}

#[test]
fn a_temp_server_accepts_connections_creates_databases_and_stops_when_dropped() {
    let Some(server) = server() else { return };
    let port = server.port();
    assert!(server.installation().is_ready(port).expect("pg_isready"));
    assert_eq!(
        server.create_database("app").expect("create"),
        DatabaseCreated::Created
    );
    assert_eq!(
        server.create_database("app").expect("create again"),
        DatabaseCreated::AlreadyExisted
    );
    let url = server.url("app");
    assert!(url.starts_with("postgres://postgres:"), "{url}");
    assert!(url.ends_with(&format!("@127.0.0.1:{port}/app")), "{url}");
    let dir = server.dir().to_path_buf();
    let installation = server.installation().clone();
    drop(server);
    assert!(!installation.is_ready(port).expect("pg_isready"));
    assert!(!dir.exists(), "the cluster is deleted");
}

#[test]
fn a_wrong_password_is_refused() {
    let Some(server) = server() else { return };
    let error = server
        .installation()
        .create_database(server.port(), server.superuser(), "not-the-password", "x")
        .expect_err("wrong password");
    assert!(
        error.to_string().contains("password authentication failed"),
        "{error}"
    );
}

#[test]
fn a_supervisor_can_init_run_and_stop_a_server_itself() {
    let Ok(installation) = Installation::find() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "PostgreSQL must be installed on CI"
        );
        eprintln!("skipping: PostgreSQL is not installed");
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    // What dashctl does: a state directory that the postgres user can reach.
    let state = dir.path().join("state");
    std::fs::create_dir(&state).expect("state dir");
    let permissions = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(dir.path(), permissions).expect("chmod");
    let data = state.join("data");
    let password_file = state.join("password");
    std::fs::write(&password_file, "s3cret\n").expect("password");
    assert!(!local_postgres::is_initialized(&data));
    installation
        .init(&data, "owner", &password_file)
        .expect("initdb");
    assert!(local_postgres::is_initialized(&data));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let mut child = installation
        .server_command(&data, port, &state.join("socket"), Durability::Durable)
        .expect("command")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn postgres");
    installation
        .wait_ready(port, Duration::from_secs(60))
        .expect("ready");
    installation
        .create_database(port, "owner", "s3cret", "paintshop")
        .expect("createdb");
    local_postgres::request_fast_shutdown(child.id()).expect("SIGINT");
    let status = child.wait().expect("wait");
    assert!(status.success(), "fast shutdown exits 0: {status}");
    let error = installation
        .wait_ready(port, Duration::from_millis(200))
        .expect_err("stopped");
    assert!(
        matches!(error, local_postgres::Error::NotReady { .. }),
        "{error}"
    );
}
