//! The local supervisor with real processes: instances stop with their whole process group,
//! pids read back from control.json are signalled only if they are still the same process,
//! draining instances stay recorded until they exit, and a port taken by someone else is
//! re-picked.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Up, Workspace, free_port, process_alive, service_binary};

/// A spec with one public service `api` running the hardware binary through `sh -c SCRIPT`,
/// where `{hardware}` in the script stands for the hardware command line.
fn workspace(script: &str, release: &str) -> Workspace {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("supervisor.yaml");
    let workspace = Workspace {
        dir,
        spec,
        portal_port: free_port(),
    };
    write_spec(&workspace, script, release);
    workspace
}

/// `release` goes into the environment: changing it makes a new release for `deploy`.
fn write_spec(workspace: &Workspace, script: &str, release: &str) {
    let hardware = format!(
        "{} --bind 127.0.0.1:${{port}} --database-url sqlite://${{state_dir}}/hardware.db --refresh-interval 1",
        service_binary("hardware").display()
    );
    let script = script.replace("{hardware}", &hardware);
    let yaml = format!(
        r#"app: sup
environment: test
local:
  health_interval: 200ms
  drain_timeout: 1s
services:
  api:
    port: 5001
    public: true
    health: {{ path: /healthz, healthy_threshold: 2 }}
    deploy: {{ bake: 0s, health_timeout: 30s }}
    env:
      RELEASE: "{release}"
      HARDWARE_COMPUTE_COST_MS: "50"
    local:
      command: ["sh", "-c", "{script}"]
      listen_port: {port}
"#,
        port = workspace.portal_port,
    );
    std::fs::write(&workspace.spec, yaml).expect("writing spec");
}

/// The `api` instances in the status.
fn instances(status: &Value) -> Vec<Value> {
    crate::harness::service(status, "api")["instances"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Starts `up` and waits until one instance is ready; returns it.
async fn start(workspace: &Workspace) -> (Up, Value) {
    let up = workspace.start();
    let instance = wait_ready_instance(&up, workspace, |_| true).await;
    (up, instance)
}

/// Waits until an `api` instance is ready and `accept`s; returns it.
async fn wait_ready_instance(
    up: &Up,
    workspace: &Workspace,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    let wanted = |instance: &Value| instance["ready"] == true && accept(instance);
    // `up` may not answer yet (it is starting) or may have nothing ready yet: both wait.
    let find = || {
        let status = workspace.try_status()?;
        instances(&status)
            .into_iter()
            .find(|instance| wanted(instance))
    };
    up.wait_until("an instance is ready", Duration::from_secs(60), || {
        let found = find().is_some();
        async move { found }
    })
    .await;
    find().expect("the ready instance")
}

fn control_file(workspace: &Workspace) -> std::path::PathBuf {
    workspace.dir.path().join(".dashctl/control.json")
}

/// Pids recorded in control.json's `children` (empty if the file is missing or half-read).
fn recorded_children(workspace: &Workspace) -> Vec<u64> {
    std::fs::read(control_file(workspace))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|file| file["children"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        // Older versions wrote bare pids.
        .filter_map(|child| child.as_u64().or_else(|| child["pid"].as_u64()))
        .collect()
}

/// Field 22 of /proc/PID/stat, read after the last `)` (the command name may contain one).
fn start_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let (_, rest) = stat.rsplit_once(')').expect("stat format");
    rest.split_whitespace()
        .nth(22 - 3)
        .and_then(|field| field.parse().ok())
        .expect("start time")
}

/// A pid the shell script wrote to `file`, once it is there.
async fn read_pid(file: &Path) -> u64 {
    for _ in 0..200 {
        if let Some(pid) = std::fs::read_to_string(file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} was never written", file.display());
}

/// Processes the test starts itself, killed (with their groups) when the test ends.
struct Spawned(Vec<Child>);

impl Spawned {
    fn spawn(&mut self, command: &mut Command) -> u32 {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning");
        let pid = child.id();
        self.0.push(child);
        pid
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        for child in &mut self.0 {
            if let Ok(pid) = i32::try_from(child.id()) {
                // Its own group if it has one (the leftover instance), else just itself.
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn down_stops_the_instance_and_what_it_started() {
    let workspace = workspace(
        "sleep 1000 & echo $! > grandchild.pid; exec {hardware}",
        "v1",
    );
    let (mut up, instance) = start(&workspace).await;
    let pid = instance["pid"].as_u64().expect("pid");
    let grandchild = read_pid(&workspace.dir.path().join("grandchild.pid")).await;
    assert!(process_alive(grandchild), "the background sleep runs");

    workspace.run("down", &[]).succeeds();
    let exit = up.wait_exit(Duration::from_secs(30));
    assert!(exit.success(), "{}", up.log_text());
    assert!(!process_alive(pid), "instance {pid} outlived dashctl up");
    assert!(
        !process_alive(grandchild),
        "the instance's background process {grandchild} outlived dashctl up"
    );
}

#[tokio::test]
async fn pids_in_control_json_are_signalled_only_while_they_are_the_same_process() {
    let workspace = workspace("exec {hardware}", "v1");
    let state_dir = workspace.dir.path().join(".dashctl");
    std::fs::create_dir_all(&state_dir).expect("state dir");
    let mut spawned = Spawned(Vec::new());

    // An unrelated process that now has a recorded pid: recorded with another start time,
    // as if the recorded process had exited and its pid had been reused.
    let stranger = spawned.spawn(Command::new("sleep").arg("100"));
    let wrong_ticks = start_ticks(stranger) + 1;
    // A genuine leftover instance from a killed `up`: a process group led by the recorded
    // process, with a background child of its own.
    let leftover = spawned.spawn(
        Command::new("sh")
            .args([
                "-c",
                "sleep 1000 & echo $! > leftover-child.pid; exec sleep 1000",
            ])
            .current_dir(workspace.dir.path())
            .process_group(0),
    );
    let leftover_child = read_pid(&workspace.dir.path().join("leftover-child.pid")).await;
    let control = json!({
        "pid": stranger,
        "start_ticks": wrong_ticks,
        "url": "http://127.0.0.1:9",
        "token": "t",
        "app": "sup",
        "environment": "test",
        "spec": workspace.spec,
        "children": [
            { "pid": stranger, "start_ticks": wrong_ticks },
            { "pid": leftover, "start_ticks": start_ticks(leftover) },
        ],
    });
    std::fs::write(
        control_file(&workspace),
        serde_json::to_vec(&control).expect("json"),
    )
    .expect("writing control.json");

    // The recorded `up` pid is someone else's now: `up` is not running.
    for command in [&["status", "--env", "local"][..], &["down"]] {
        workspace
            .run(command[0], &command[1..])
            .exits(1)
            .contains("dashctl up is not running");
    }
    assert!(process_alive(u64::from(stranger)));

    // A new `up` starts (the old one is not running) and stops the genuine leftover group.
    let (up, _) = start(&workspace).await;
    up.log_contains("stopping 1 instance(s) left by a previous run");
    up.wait_until(
        "the leftover instance and its child are gone",
        Duration::from_secs(30),
        || {
            let gone = !process_alive(u64::from(leftover)) && !process_alive(leftover_child);
            async move { gone }
        },
    )
    .await;
    assert!(
        process_alive(u64::from(stranger)),
        "a process that merely reuses a recorded pid was signalled"
    );
    drop(up);
    assert!(process_alive(u64::from(stranger)));
}

#[tokio::test]
async fn a_draining_instance_stays_recorded_until_it_has_exited() {
    // The shell ignores SIGTERM and, once hardware has stopped, runs a sleep that ignores it
    // too: the old instance takes the whole grace period to stop after it stopped serving.
    let script = "trap '' TERM; {hardware}; sleep 1000";
    let workspace = workspace(script, "v1");
    let (up, instance) = start(&workspace).await;
    let old = instance["pid"].as_u64().expect("pid");
    up.wait_until(
        "control.json records the instance",
        Duration::from_secs(10),
        || {
            let recorded = recorded_children(&workspace).contains(&old);
            async move { recorded }
        },
    )
    .await;

    write_spec(&workspace, script, "v2");
    let deploy = workspace
        .run("deploy", &["--env", "local"])
        .also_printing(&up.log)
        .spawn();

    // Wait until the old instance has left the service (blue retired) but still runs.
    up.wait_until(
        "the old instance is retired from the service",
        Duration::from_secs(60),
        || {
            let listed = workspace.try_status().is_none_or(|status| {
                instances(&status)
                    .iter()
                    .any(|instance| instance["pid"].as_u64() == Some(old))
            });
            async move { !listed }
        },
    )
    .await;
    // As long as it runs, every version of control.json lists it. The file is read before
    // the process is checked: alive afterwards means alive when the file was written.
    let mut observed = 0;
    loop {
        let recorded = recorded_children(&workspace);
        if !process_alive(old) {
            break;
        }
        assert!(
            recorded.contains(&old),
            "draining instance {old} is alive but missing from control.json: {recorded:?}\n{}",
            up.log_text()
        );
        observed += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(observed > 0, "the old instance was never seen draining");
    up.wait_until(
        "control.json forgets the old instance once it has exited",
        Duration::from_secs(10),
        || {
            let recorded = recorded_children(&workspace).contains(&old);
            async move { !recorded }
        },
    )
    .await;
    deploy.succeeds();
}

#[tokio::test]
async fn an_instance_whose_port_was_taken_moves_to_a_new_port() {
    let workspace = workspace("exec {hardware}", "v1");
    let (up, mut instance) = start(&workspace).await;

    // Kill the instance and take its port before the supervisor restarts it (after a backoff).
    // Should the restart win the race, try again with the restarted instance.
    let mut squatter = None;
    for _ in 0..5 {
        let pid = instance["pid"].as_u64().expect("pid");
        let port = u16::try_from(instance["port"].as_u64().expect("port")).expect("port");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid")),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill");
        for _ in 0..200 {
            if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                squatter = Some((listener, port));
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if squatter.is_some() {
            break;
        }
        instance =
            wait_ready_instance(&up, &workspace, |found| found["pid"].as_u64() != Some(pid)).await;
    }
    let (_listener, taken) = squatter.expect("took the instance's port");

    let moved = wait_ready_instance(&up, &workspace, |found| {
        found["port"].as_u64() != Some(u64::from(taken))
    })
    .await;
    assert!(moved["restarts"].as_u64() >= Some(1), "{moved}");
    up.log_contains(&format!("port {taken} is taken by another program"));
    assert!(
        crate::harness::page(&format!("{}healthz", workspace.portal_url()))
            .await
            .is_some(),
        "the proxy reaches the instance on its new port"
    );
}
