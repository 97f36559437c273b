use std::process::Command;

use crate::harness::SHARED;

fn paintshop() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paintshop"))
}

/// Runs `command` and returns its stdout; fails the test, showing stderr, unless it succeeds.
fn succeeds(command: &mut Command) -> String {
    let output = command.output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `command` and returns its stderr; fails the test unless it exits with status 1.
fn fails(command: &mut Command) -> String {
    let output = command.output().expect("run");
    assert_eq!(output.status.code(), Some(1));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn solve_prints_the_legacy_answers_for_the_legacy_case_file() {
    let stdout = succeeds(paintshop().args(["solve", &format!("{SHARED}/paintshop-cases.in.txt")]));
    let expected =
        std::fs::read_to_string(format!("{SHARED}/paintshop-cases.out.txt")).expect("expected");
    assert_eq!(stdout.trim_end(), expected.trim_end());
}

#[test]
fn solve_reports_a_bad_file_clearly() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("cases.txt");
    std::fs::write(&path, "1\n2\n1\n1 3 0\n").expect("write");
    let stderr = fails(paintshop().args(["solve", path.to_str().expect("utf-8 path")]));
    assert!(
        stderr.contains("case #1: customer 1: color 3 is outside 1..2"),
        "{stderr}"
    );
}

#[test]
fn users_add_prints_a_key_once_and_stores_only_its_hash() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("users.db");
    let url = format!("sqlite://{}", db.display());
    let stdout = succeeds(paintshop().args(["users", "add", "alice", "--database-url", &url]));
    let key = stdout.lines().last().expect("key line").to_owned();
    assert!(key.starts_with("psk_") && key.len() == 68, "{key}");
    let raw = std::fs::read(&db).expect("db file");
    let wal = std::fs::read(dir.path().join("users.db-wal")).unwrap_or_default();
    let needle = key.as_bytes();
    for bytes in [&raw, &wal] {
        assert!(
            !bytes.windows(needle.len()).any(|window| window == needle),
            "key stored in clear"
        );
    }

    let again = fails(paintshop().args(["users", "add", "alice", "--database-url", &url]));
    assert!(again.contains("already exists"));

    succeeds(paintshop().args(["users", "revoke", "alice", "--database-url", &url]));
    let list = succeeds(paintshop().args(["users", "list", "--database-url", &url]));
    assert_eq!(list.trim(), "alice\trevoked");
}

#[test]
fn an_enabled_crash_endpoint_stops_the_process() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port()
    };
    let (port, monitor) = (free_port(), free_port());
    let mut child = paintshop()
        .args([
            "--port",
            &port.to_string(),
            "--monitor",
            &monitor.to_string(),
            "--database-url",
            &url,
            "--enable-crash",
        ])
        .args(["--failure-rate", "0.3"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let answer = loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            stream
                .write_all(b"GET /crash HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .expect("send");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            break answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "paintshop never listened"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(70));
}

/// With no database URL, `PGHOST` and the other PG* variables choose PostgreSQL, as libpq
/// would; the password never appears in what the command prints.
#[test]
fn without_a_url_the_pg_environment_chooses_postgresql() {
    let Some(server) = local_postgres::TempServer::start_or_skip().expect("PostgreSQL starts")
    else {
        return;
    };
    server.create_database("users").expect("create database");
    // paintshop `args` with nothing but the PG* environment saying where its database is.
    let on_postgres = |password: &str, args: &[&str]| {
        let mut command = paintshop();
        command
            .args(args)
            .env_remove("DATABASE_URL")
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", server.port().to_string())
            .env("PGUSER", server.superuser())
            .env("PGPASSWORD", password)
            .env("PGDATABASE", "users");
        command
    };
    let run = |args: &[&str]| {
        let output = on_postgres(server.password(), args)
            .env("PGSSLMODE", "prefer")
            .output()
            .expect("run");
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{printed}");
        assert!(!printed.contains(server.password()), "{printed}");
        printed
    };
    run(&["users", "add", "carol"]);
    assert!(run(&["users", "list"]).contains("carol\tactive"));

    // A wrong password is a clear error that does not show the password either.
    let stderr = fails(&mut on_postgres("wrong-password-42", &["users", "list"]));
    assert!(
        stderr.contains("cannot connect to postgres://postgres@127.0.0.1:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-password-42"), "{stderr}");
}
