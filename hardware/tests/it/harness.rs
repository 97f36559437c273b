use std::net::SocketAddr;
use std::time::Duration;

use hardware::refresher::RefreshSettings;
use service_kit::testing::ServerTask;

/// A hardware service running in this process on a real socket.
pub struct RunningHardware {
    pub address: SocketAddr,
    server: ServerTask,
}

pub fn settings(compute_cost: Duration, interval: Duration) -> RefreshSettings {
    RefreshSettings {
        workers: 4,
        interval,
        compute_cost,
    }
}

pub use service_db::testing::TestDb;

/// Runs each named `async fn(TestDb)` twice: `NAME::sqlite` and `NAME::postgres`.
macro_rules! on_both_databases {
    ($($test:ident),* $(,)?) => {
        service_db::on_both_databases!("hardware": $($test),*);
    };
}
pub(crate) use on_both_databases;

impl RunningHardware {
    pub async fn start(database_url: &str, settings: RefreshSettings) -> Self {
        Self::start_on(
            "127.0.0.1:0".parse().expect("literal address"),
            database_url,
            settings,
        )
        .await
    }

    pub async fn start_on(
        address: SocketAddr,
        database_url: &str,
        settings: RefreshSettings,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .expect("bind test port");
        let address = listener.local_addr().expect("bound address");
        let url = database_url.to_owned();
        let server = ServerTask::spawn(|stopped| async move {
            hardware::serve(listener, &url, settings, Default::default(), stopped).await
        });
        Self { address, server }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The answer to `GET path`, whatever its status.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(self.url(path)).await.expect("GET")
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// Polls `probe` until it returns Some, failing the test after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[derive(Debug, serde::Deserialize, PartialEq, Eq)]
pub struct LegacyRow {
    pub provider: String,
    pub name: String,
    pub availability: String,
}

pub async fn legacy_rows(client: &reqwest::Client, url: String) -> Option<Vec<LegacyRow>> {
    let response = client.get(&url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}
