//! Blue/green rollouts, written once against [`Platform`] so the local platform and AWS share
//! the same state machine. The invariant: until traffic is switched, the live color is never
//! touched; any failure before the switch leaves production exactly as it was.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Blue,
    Green,
}

impl Color {
    pub fn other(self) -> Self {
        match self {
            Self::Blue => Self::Green,
            Self::Green => Self::Blue,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blue => "blue",
            Self::Green => "green",
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PlatformError(pub String);

/// What a platform must do for a rollout. Every method is about one service and one color.
pub trait Platform: Sync {
    /// What a color runs: a container image on AWS, a command and env locally.
    type Release: Send + Sync;

    /// The color receiving traffic, or None before the first deploy.
    fn live_color(
        &self,
        service: &str,
    ) -> impl Future<Output = Result<Option<Color>, PlatformError>> + Send;

    /// Runs `release` on `color` at the live color's capacity (at least the scaling minimum).
    fn start_release(
        &self,
        service: &str,
        color: Color,
        release: &Self::Release,
    ) -> impl Future<Output = Result<(), PlatformError>> + Send;

    /// Brings `color` back up with the release it last ran (for rollback).
    fn restore(
        &self,
        service: &str,
        color: Color,
    ) -> impl Future<Output = Result<(), PlatformError>> + Send;

    /// Gives `color` back the release it had before the last `start_release`, after a release
    /// that never went live for good: a later rollback must find the last good release there.
    fn revert_release(
        &self,
        service: &str,
        color: Color,
    ) -> impl Future<Output = Result<(), PlatformError>> + Send;

    /// Whether every instance of `color` passes its health check right now.
    fn is_healthy(
        &self,
        service: &str,
        color: Color,
    ) -> impl Future<Output = Result<bool, PlatformError>> + Send;

    /// Sends all of the service's traffic to `color`.
    fn shift_traffic(
        &self,
        service: &str,
        to: Color,
    ) -> impl Future<Output = Result<(), PlatformError>> + Send;

    /// Points request-count autoscaling at `color`.
    fn retarget_scaling(
        &self,
        service: &str,
        to: Color,
    ) -> impl Future<Output = Result<(), PlatformError>> + Send;

    /// Drains `color` and scales it to zero; it keeps its release for a later rollback.
    fn retire(
        &self,
        service: &str,
        color: Color,
    ) -> impl Future<Output = Result<(), PlatformError>> + Send;
}

#[derive(Debug, Clone, Copy)]
pub struct RolloutOptions {
    /// Longest wait for the new color to become healthy.
    pub health_timeout: Duration,
    /// How long the new color must stay healthy while live before the old one is retired.
    pub bake: Duration,
    pub auto_rollback: bool,
    /// How often health is polled while waiting and baking.
    pub poll_interval: Duration,
}

/// A step of a rollout, reported as it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Start { color: Color },
    WaitHealthy { color: Color },
    Switch { to: Color },
    Bake { color: Color, duration: Duration },
    Retire { color: Color },
    Abandon { color: Color },
    RollBack { to: Color },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Start { color } => write!(f, "starting {color}"),
            Self::WaitHealthy { color } => write!(f, "waiting for {color} to be healthy"),
            Self::Switch { to } => write!(f, "switching traffic to {to}"),
            Self::Bake { color, duration } => write!(
                f,
                "baking {color} for {}",
                humantime::format_duration(*duration)
            ),
            Self::Retire { color } => write!(f, "draining and retiring {color}"),
            Self::Abandon { color } => write!(f, "abandoning {color}; live color unchanged"),
            Self::RollBack { to } => write!(f, "rolling back to {to}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub service: String,
    pub from: Option<Color>,
    pub to: Color,
}

#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("{service}: {color} did not become healthy within {}; {live} still serves all traffic", humantime::format_duration(*timeout))]
    NeverHealthy {
        service: String,
        color: Color,
        live: String,
        timeout: Duration,
    },
    #[error("{service}: {color} turned unhealthy while baking; traffic is back on {live}")]
    RolledBack {
        service: String,
        color: Color,
        live: Color,
    },
    #[error("{service}: nothing to roll back to (it has never been deployed)")]
    NeverDeployed { service: String },
    #[error("{service}: {source}")]
    Platform {
        service: String,
        source: PlatformError,
    },
}

fn platform(service: &str) -> impl Fn(PlatformError) -> RolloutError + '_ {
    move |source| RolloutError::Platform {
        service: service.to_owned(),
        source,
    }
}

/// Polls until every instance of `color` is healthy; false on timeout.
async fn wait_healthy<P: Platform>(
    platform_: &P,
    service: &str,
    color: Color,
    options: &RolloutOptions,
) -> Result<bool, PlatformError> {
    let deadline = Instant::now() + options.health_timeout;
    loop {
        if platform_.is_healthy(service, color).await? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(options.poll_interval).await;
    }
}

/// Deploys `release` to the idle color, switches traffic to it once healthy, bakes, and
/// retires the old color.
pub async fn deploy<P: Platform>(
    platform_: &P,
    service: &str,
    release: &P::Release,
    options: &RolloutOptions,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<Outcome, RolloutError> {
    let fail = platform(service);
    let live = platform_.live_color(service).await.map_err(&fail)?;
    let target = live.map_or(Color::Blue, Color::other);

    progress(Step::Start { color: target });
    platform_
        .start_release(service, target, release)
        .await
        .map_err(&fail)?;
    progress(Step::WaitHealthy { color: target });
    if !wait_healthy(platform_, service, target, options)
        .await
        .map_err(&fail)?
    {
        progress(Step::Abandon { color: target });
        platform_.retire(service, target).await.map_err(&fail)?;
        platform_
            .revert_release(service, target)
            .await
            .map_err(&fail)?;
        return Err(RolloutError::NeverHealthy {
            service: service.to_owned(),
            color: target,
            live: live.map_or_else(|| "nothing".to_owned(), |color| color.to_string()),
            timeout: options.health_timeout,
        });
    }

    progress(Step::Switch { to: target });
    platform_
        .shift_traffic(service, target)
        .await
        .map_err(&fail)?;
    platform_
        .retarget_scaling(service, target)
        .await
        .map_err(&fail)?;

    if let Some(old) = live {
        progress(Step::Bake {
            color: target,
            duration: options.bake,
        });
        if !bake(platform_, service, target, options)
            .await
            .map_err(&fail)?
            && options.auto_rollback
        {
            progress(Step::RollBack { to: old });
            platform_.shift_traffic(service, old).await.map_err(&fail)?;
            platform_
                .retarget_scaling(service, old)
                .await
                .map_err(&fail)?;
            platform_.retire(service, target).await.map_err(&fail)?;
            platform_
                .revert_release(service, target)
                .await
                .map_err(&fail)?;
            return Err(RolloutError::RolledBack {
                service: service.to_owned(),
                color: target,
                live: old,
            });
        }
        progress(Step::Retire { color: old });
        platform_.retire(service, old).await.map_err(&fail)?;
    }
    Ok(Outcome {
        service: service.to_owned(),
        from: live,
        to: target,
    })
}

/// Watches the new live color for the bake period; false as soon as it is unhealthy.
async fn bake<P: Platform>(
    platform_: &P,
    service: &str,
    color: Color,
    options: &RolloutOptions,
) -> Result<bool, PlatformError> {
    let deadline = Instant::now() + options.bake;
    loop {
        if !platform_.is_healthy(service, color).await? {
            return Ok(false);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(true);
        }
        tokio::time::sleep(options.poll_interval.min(deadline - now)).await;
    }
}

/// Switches traffic back to the previous color, bringing it back up first if it was retired.
pub async fn rollback<P: Platform>(
    platform_: &P,
    service: &str,
    options: &RolloutOptions,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<Outcome, RolloutError> {
    let fail = platform(service);
    let live = platform_
        .live_color(service)
        .await
        .map_err(&fail)?
        .ok_or_else(|| RolloutError::NeverDeployed {
            service: service.to_owned(),
        })?;
    let previous = live.other();
    progress(Step::Start { color: previous });
    platform_.restore(service, previous).await.map_err(&fail)?;
    progress(Step::WaitHealthy { color: previous });
    if !wait_healthy(platform_, service, previous, options)
        .await
        .map_err(&fail)?
    {
        progress(Step::Abandon { color: previous });
        platform_.retire(service, previous).await.map_err(&fail)?;
        return Err(RolloutError::NeverHealthy {
            service: service.to_owned(),
            color: previous,
            live: live.to_string(),
            timeout: options.health_timeout,
        });
    }
    progress(Step::RollBack { to: previous });
    platform_
        .shift_traffic(service, previous)
        .await
        .map_err(&fail)?;
    platform_
        .retarget_scaling(service, previous)
        .await
        .map_err(&fail)?;
    progress(Step::Retire { color: live });
    platform_.retire(service, live).await.map_err(&fail)?;
    Ok(Outcome {
        service: service.to_owned(),
        from: Some(live),
        to: previous,
    })
}

#[cfg(test)]
mod tests;
