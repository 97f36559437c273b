use std::net::SocketAddr;
use std::time::Duration;

use hardware::refresher::RefreshSettings;
use portal::PollerSettings;
use service_kit::testing::ServerTask;

/// A server of either kind running in this process on a real socket.
struct Running {
    address: SocketAddr,
    /// portal's monitor port (hardware has none).
    monitor: Option<SocketAddr>,
    server: ServerTask,
}

impl Running {
    async fn stop(self) {
        self.server.stop().await;
    }
}

async fn start_hardware(address: SocketAddr, database_url: String) -> Running {
    let listener = tokio::net::TcpListener::bind(address).await.expect("bind");
    let address = listener.local_addr().expect("address");
    let settings = RefreshSettings {
        workers: 2,
        interval: Duration::from_millis(200),
        compute_cost: Duration::from_millis(30),
    };
    let server = ServerTask::spawn(|stopped| async move {
        hardware::serve(
            listener,
            &database_url,
            settings,
            Default::default(),
            stopped,
        )
        .await
    });
    Running {
        address,
        monitor: None,
        server,
    }
}

async fn start_portal(hardware: SocketAddr) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let settings = PollerSettings {
        hardware_url: format!("http://{hardware}"),
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(500),
        attempts: 2,
        stale_after: Duration::from_millis(300),
    };
    let monitor = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind monitor");
    let monitor_address = monitor.local_addr().expect("monitor address");
    let server = ServerTask::spawn(|stopped| {
        portal::serve(listener, monitor, settings, Default::default(), stopped)
    });
    Running {
        address,
        monitor: Some(monitor_address),
        server,
    }
}

async fn page(client: &reqwest::Client, portal: SocketAddr) -> (u16, String) {
    match client.get(format!("http://{portal}/")).send().await {
        Ok(response) => (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        ),
        Err(error) => (0, error.to_string()),
    }
}

async fn wait_for_page<F: Fn(u16, &str) -> bool>(
    client: &reqwest::Client,
    portal: SocketAddr,
    what: &str,
    check: F,
) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = page(client, portal).await;
        if check(status, &body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "portal never showed {what}; last: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn has_legacy_lines(body: &str) -> bool {
    let Some(start) = body.find(r#"id="legacy">"#) else {
        return false;
    };
    let rest = &body[start + r#"id="legacy">"#.len()..];
    let Some(end) = rest.find("</p>") else {
        return false;
    };
    let lines: Vec<&str> = rest[..end].split("<br>").collect();
    lines.len() == 2
        && ["Amazon - c5: ", "Azure - H16mr: "]
            .iter()
            .zip(&lines)
            .all(|(prefix, line)| {
                line.strip_prefix(prefix)
                    .is_some_and(|value| ["HIGH", "MEDIUM", "LOW"].contains(&value))
            })
}

#[tokio::test]
async fn dashboard_survives_hardware_going_down_and_recovers_after_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = format!("sqlite://{}", dir.path().join("hardware.db").display());
    let client = reqwest::Client::new();

    let hardware = start_hardware("127.0.0.1:0".parse().expect("addr"), database_url.clone()).await;
    let hardware_address = hardware.address;
    let portal = start_portal(hardware_address).await;

    let body = wait_for_page(
        &client,
        portal.address,
        "the legacy lines",
        |status, body| status == 200 && has_legacy_lines(body),
    )
    .await;
    assert!(!body.contains("Showing last known values"));

    hardware.stop().await;
    let body = wait_for_page(&client, portal.address, "a stale notice", |status, body| {
        status == 200 && body.contains("Showing last known values")
    })
    .await;
    assert!(
        has_legacy_lines(&body),
        "last known values still served: {body}"
    );

    // Same port, same database: the portal finds it again by itself.
    let hardware = start_hardware(hardware_address, database_url).await;
    wait_for_page(
        &client,
        portal.address,
        "fresh data again",
        |status, body| {
            status == 200 && has_legacy_lines(body) && !body.contains("Showing last known values")
        },
    )
    .await;

    portal.stop().await;
    hardware.stop().await;
}

#[tokio::test]
async fn a_portal_that_never_reached_hardware_answers_503() {
    // Bind then drop a listener: nothing listens on that port any more.
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let client = reqwest::Client::new();
    let portal = start_portal(unused).await;
    let body = wait_for_page(
        &client,
        portal.address,
        "the no-data page",
        |status, body| status == 503 && body.contains("Availability is not known yet"),
    )
    .await;
    // Why it failed (with hardware's internal address) is in portal's log, not on the page.
    assert!(!body.contains(&unused.to_string()), "{body}");
    assert!(!body.contains("unreachable"), "{body}");
    portal.stop().await;
}

#[tokio::test]
async fn metrics_are_on_the_monitor_port_only() {
    let client = reqwest::Client::new();
    // No hardware at all: the monitor answers anyway.
    let portal = start_portal("127.0.0.1:9".parse().expect("addr")).await;
    let monitor = portal.monitor.expect("portal has a monitor port");
    let public = client
        .get(format!("http://{}/metrics", portal.address))
        .send()
        .await
        .expect("public port");
    assert_eq!(public.status().as_u16(), 404, "metrics on the public port");
    // The first failed poll of hardware shows in the monitor's metrics.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let scraped = client
            .get(format!("http://{monitor}/metrics"))
            .send()
            .await
            .expect("monitor port");
        assert_eq!(scraped.status().as_u16(), 200);
        let text = scraped.text().await.unwrap_or_default();
        if text.contains("portal_hardware_polls_total") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no poll metrics on the monitor port: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let healthz = client
        .get(format!("http://{}/healthz", portal.address))
        .send()
        .await
        .expect("probe");
    assert_eq!(
        healthz.status().as_u16(),
        200,
        "probes stay on the public port"
    );
    portal.stop().await;
}
