//! The control API `dashctl up` serves on loopback, so `status`, `deploy`, `rollback` and
//! `down` can drive a running local environment. Every call needs the token from control.json.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use super::api::{ActionReport, DeployRequest, RollbackRequest, StatusReport};
use super::platform::LocalPlatform;
use super::release::LocalRelease;
use crate::rollout::{self, RolloutOptions, Step};
use crate::spec::{self, LoadedSpec};

pub struct ControlState {
    pub platform: Arc<LocalPlatform>,
    pub loaded: LoadedSpec,
    pub token: String,
    pub stop: CancellationToken,
    pub urls: BTreeMap<String, String>,
    /// The environment that connects to each database `up` runs.
    pub database_env: BTreeMap<String, BTreeMap<String, String>>,
    pub databases: Vec<Arc<super::database::LocalDatabase>>,
    /// One rollout at a time: a second deploy waits for the first.
    pub rollouts: tokio::sync::Mutex<()>,
}

pub fn router(state: Arc<ControlState>) -> axum::Router {
    axum::Router::new()
        .route("/status", get(status))
        .route("/deploy", post(deploy))
        .route("/rollback", post(rollback))
        .route("/down", post(down))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .with_state(state)
}

async fn require_token(
    State(state): State<Arc<ControlState>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.as_bytes());
    if !presented.is_some_and(|presented| bearer_matches(presented, &state.token)) {
        return (
            StatusCode::UNAUTHORIZED,
            "missing or wrong control token (see control.json)\n",
        )
            .into_response();
    }
    next.run(request).await
}

/// `Bearer TOKEN`, compared in constant time so response timing tells nothing about how much of
/// a guess was right.
fn bearer_matches(presented: &[u8], token: &str) -> bool {
    let expected = format!("Bearer {token}");
    presented.ct_eq(expected.as_bytes()).into()
}

pub fn status_report(state: &ControlState) -> StatusReport {
    StatusReport {
        app: state.loaded.spec.app.clone(),
        environment: state.loaded.spec.environment.clone(),
        platform: "local".to_owned(),
        pid: std::process::id(),
        services: state
            .platform
            .services
            .values()
            .map(|service| service.status())
            .collect(),
        databases: state
            .databases
            .iter()
            .map(|database| database.status(&state.loaded.state_dir_absolute()))
            .collect(),
    }
}

async fn status(State(state): State<Arc<ControlState>>) -> Json<StatusReport> {
    Json(status_report(&state))
}

async fn down(State(state): State<Arc<ControlState>>) -> StatusCode {
    tracing::info!("stop requested through the control API");
    state.stop.cancel();
    StatusCode::ACCEPTED
}

fn failed(status: StatusCode, message: String) -> (StatusCode, Json<ActionReport>) {
    (
        status,
        Json(ActionReport {
            error: Some(message),
            ..ActionReport::default()
        }),
    )
}

fn options(loaded: &LoadedSpec, service: &str) -> RolloutOptions {
    RolloutOptions {
        poll_interval: loaded
            .spec
            .local
            .health_interval
            .0
            .min(Duration::from_secs(1)),
        ..RolloutOptions::for_service(&loaded.spec, service, CancellationToken::new())
    }
}

/// Records each step in the report and the log.
fn step_recorder(steps: &Mutex<Vec<String>>, service: &str) -> impl Fn(Step) + Send + Sync {
    move |step: Step| {
        tracing::info!(service, "{step}");
        steps
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(format!("{service}: {step}"));
    }
}

async fn deploy(
    State(state): State<Arc<ControlState>>,
    Json(request): Json<DeployRequest>,
) -> (StatusCode, Json<ActionReport>) {
    let loaded = match spec::load(&state.loaded.path) {
        Ok(loaded) => loaded,
        Err(error) => return failed(StatusCode::BAD_REQUEST, error.lines().join("\n")),
    };
    let names: Vec<String> = match &request.service {
        Some(name) if !loaded.spec.services.contains_key(name) => {
            return failed(
                StatusCode::BAD_REQUEST,
                format!("the spec has no service `{name}`"),
            );
        }
        Some(name) => vec![name.clone()],
        None => loaded.spec.services.keys().cloned().collect(),
    };
    let _one_at_a_time = state.rollouts.lock().await;
    let steps = Mutex::new(Vec::new());
    let mut report = ActionReport::default();
    for name in names {
        let Some(runtime) = state.platform.services.get(&name) else {
            report.error = Some(format!(
                "service `{name}` was added to the spec after `dashctl up` started; restart it to add services"
            ));
            break;
        };
        let Some(release) = LocalRelease::from_spec(
            &loaded.spec.services[&name],
            &state.urls,
            &state.database_env,
            &loaded.state_dir_absolute(),
        ) else {
            report.error = Some(format!("service `{name}` has no `local` section"));
            break;
        };
        // Deploying everything skips what already runs; naming a service redeploys it.
        if request.service.is_none() && runtime.live_release().as_deref() == Some(&release) {
            steps
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(format!("{name}: unchanged"));
            continue;
        }
        let result = {
            let record = step_recorder(&steps, &name);
            rollout::deploy(
                state.platform.as_ref(),
                &name,
                &release,
                &options(&loaded, &name),
                &record,
            )
            .await
        };
        match result {
            Ok(outcome) => report.outcomes.push(outcome.into()),
            Err(error) => {
                report.error = Some(format!("{error:#}"));
                break;
            }
        }
    }
    report.steps = steps
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    (StatusCode::OK, Json(report))
}

async fn rollback(
    State(state): State<Arc<ControlState>>,
    Json(request): Json<RollbackRequest>,
) -> (StatusCode, Json<ActionReport>) {
    if !state.platform.services.contains_key(&request.service) {
        return failed(
            StatusCode::BAD_REQUEST,
            format!("no service `{}` is running", request.service),
        );
    }
    let _one_at_a_time = state.rollouts.lock().await;
    let steps = Mutex::new(Vec::new());
    let result = {
        let record = step_recorder(&steps, &request.service);
        rollout::rollback(
            state.platform.as_ref(),
            &request.service,
            &options(&state.loaded, &request.service),
            &record,
        )
        .await
    };
    let mut report = ActionReport::default();
    match result {
        Ok(outcome) => report.outcomes.push(outcome.into()),
        Err(error) if error.is_nothing_to_roll_back() => {
            report.nothing_to_roll_back = Some(error.to_string())
        }
        Err(error) => report.error = Some(format!("{error:#}")),
    }
    report.steps = steps
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    (StatusCode::OK, Json(report))
}

#[cfg(test)]
mod tests {
    use super::bearer_matches;

    #[test]
    fn only_the_exact_bearer_token_matches() {
        assert!(bearer_matches(b"Bearer abc123", "abc123"));
        for wrong in [
            &b"Bearer abc124"[..],
            b"Bearer abc12",
            b"abc123",
            b"",
            b"Bearer abc1234",
        ] {
            assert!(!bearer_matches(wrong, "abc123"), "{wrong:?}");
        }
    }
}
