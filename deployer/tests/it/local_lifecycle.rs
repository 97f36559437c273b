//! `dashctl up` → dashboard through the proxy, internal service on loopback only, self-healing,
//! `dashctl down` leaves nothing running.

use std::time::Duration;

use crate::harness::{DashboardSpec, Workspace, listening_addresses, page, process_alive, service};

#[tokio::test]
async fn up_serves_the_dashboard_heals_crashes_and_down_stops_everything() {
    let workspace = Workspace::new(&DashboardSpec::default());
    let mut up = workspace.up().await;

    // The legacy line is there for old scrapers, served through the public proxy.
    let body = page(&workspace.portal_url()).await.expect("dashboard");
    assert!(body.contains("Azure - H16mr:"), "{body}");

    // hardware is only reachable through its internal proxy, bound to loopback.
    let status = workspace.status();
    assert_eq!(status["platform"], "local");
    let hardware = service(&status, "hardware");
    assert_eq!(hardware["public"], false);
    let url = hardware["url"].as_str().expect("url");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("port");
    let addresses = listening_addresses(port);
    assert_eq!(
        addresses,
        ["0100007F"],
        "internal proxy must listen on 127.0.0.1 only"
    );
    assert!(
        page(&format!("{url}/hardware/"))
            .await
            .is_some_and(|body| body.contains("\"provider\":\"Amazon\""))
    );

    // Kill an instance: the supervisor restarts it and the proxy keeps serving meanwhile.
    let portal = service(&status, "portal");
    assert_eq!(portal["live_color"], "blue");
    let victim = portal["instances"][0].clone();
    let old_pid = victim["pid"].as_u64().expect("pid");
    let id = victim["id"].as_str().expect("id").to_owned();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    up.wait_for_status(
        &workspace,
        "the killed instance is back and ready",
        |status| {
            let instance = service(status, "portal")["instances"]
                .as_array()
                .and_then(|all| all.iter().find(|instance| instance["id"] == id.as_str()))
                .expect("instance still listed");
            instance["restarts"].as_u64() >= Some(1)
                && instance["ready"] == true
                && instance["pid"].as_u64().is_some_and(|pid| pid != old_pid)
        },
    )
    .await;
    assert!(page(&workspace.portal_url()).await.is_some());
    up.log_contains("instance exited; restarting after backoff");

    // The table view names what runs.
    workspace
        .run("status", &[])
        .succeeds()
        .stdout_contains("portal-blue-1")
        .stdout_contains("hardware (internal)");

    // down: everything stops, no orphans.
    let pids = workspace.instance_pids();
    assert_eq!(pids.len(), 2, "one portal and one hardware instance");
    workspace.run("down", &[]).succeeds();
    let exit = up.wait_exit(Duration::from_secs(30));
    assert!(
        exit.success(),
        "dashctl up exited with {exit}: {}",
        up.log_text()
    );
    for pid in pids {
        assert!(!process_alive(pid), "instance {pid} outlived dashctl up");
    }
    assert!(listening_addresses(workspace.portal_port).is_empty());
    assert!(!workspace.dir.path().join(".dashctl/control.json").exists());

    // With nothing running, commands that need `up` say so and fail.
    workspace
        .run("status", &["--env", "local"])
        .exits(1)
        .contains("dashctl up is not running");
    // Without --env, no local run means AWS, and the error says why it went there.
    workspace
        .run("status", &[])
        .exits(1)
        .contains("no `dashctl up` runs this spec here");
}

#[tokio::test]
async fn instances_left_by_a_killed_up_are_stopped_by_the_next_up() {
    let workspace = Workspace::new(&DashboardSpec::default());
    let mut first = workspace.up().await;
    let pids = workspace.instance_pids();
    assert_eq!(pids.len(), 2);
    // Let control.json record the children (it is refreshed every 500 ms).
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    first.kill_hard();
    assert!(
        pids.iter().all(|pid| process_alive(*pid)),
        "instances outlive a SIGKILLed up"
    );

    let second = workspace.up().await;
    second.log_contains("stopping 2 instance(s) left by a previous run");
    second
        .wait_until(
            "the leftover instances are gone",
            std::time::Duration::from_secs(15),
            || {
                let gone = pids.iter().all(|pid| !process_alive(*pid));
                async move { gone }
            },
        )
        .await;
}
