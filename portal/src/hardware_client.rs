use std::time::Duration;

use serde::Deserialize;

/// One profile as hardware's `/api/availability` reports it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ProfileAvailability {
    pub provider: String,
    pub name: String,
    pub availability: String,
    pub computed_at_ms: i64,
}

#[derive(Debug, Deserialize)]
struct AvailabilityResponse {
    profiles: Vec<ProfileAvailability>,
}

#[derive(Debug, thiserror::Error)]
pub enum HardwareError {
    #[error("hardware unreachable or too slow: {0}")]
    Transport(#[source] reqwest::Error),
    #[error("hardware answered HTTP {0}")]
    Status(u16),
    #[error("hardware sent a body the portal does not understand: {0}")]
    Body(#[source] reqwest::Error),
}

/// Calls hardware with a timeout per attempt and exponential backoff between attempts.
#[derive(Clone)]
pub struct HardwareClient {
    http: reqwest::Client,
    url: String,
    attempts: u32,
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);

impl HardwareClient {
    pub fn new(base_url: &str, timeout: Duration, attempts: u32) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Self {
            http,
            url: format!("{base_url}/api/availability"),
            attempts: attempts.max(1),
        })
    }

    pub async fn fetch(&self) -> Result<Vec<ProfileAvailability>, HardwareError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.fetch_once().await {
                Ok(profiles) => return Ok(profiles),
                Err(error) if attempt >= self.attempts => return Err(error),
                Err(error) => {
                    tracing::debug!(%error, attempt, "hardware call failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
            }
        }
    }

    async fn fetch_once(&self) -> Result<Vec<ProfileAvailability>, HardwareError> {
        let response = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(HardwareError::Transport)?;
        if !response.status().is_success() {
            return Err(HardwareError::Status(response.status().as_u16()));
        }
        let body: AvailabilityResponse = response.json().await.map_err(HardwareError::Body)?;
        Ok(body.profiles)
    }
}
