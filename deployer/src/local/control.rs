//! The control API `dashctl up` serves on loopback, so `status`, `deploy`, `rollback` and
//! `down` can drive a running local environment. Every call needs the token from control.json.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use super::api::{ActionError, ActionReport, RolloutLine, RolloutRequest, StatusReport};
use super::platform::LocalPlatform;
use crate::events::{Event, Events};
use crate::rollout::{self, Aftermath, JournalView, RolloutError, RolloutOptions, WaitUntil};
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
        .route("/rollout", post(roll_out))
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
        rollouts: state
            .platform
            .journals()
            .iter()
            .map(JournalView::from)
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

pub(super) fn options(
    loaded: &LoadedSpec,
    service: &str,
    cancel: &CancellationToken,
    wait_until: Option<WaitUntil>,
) -> RolloutOptions {
    RolloutOptions {
        wait_until,
        poll_interval: loaded
            .spec
            .local
            .health_interval
            .0
            .min(Duration::from_secs(1)),
        ..RolloutOptions::for_service(&loaded.spec, service, cancel.clone())
    }
}

async fn roll_out(
    State(state): State<Arc<ControlState>>,
    Json(request): Json<RolloutRequest>,
) -> Response {
    streamed(state, |state, events, cancel| async move {
        let done = match request {
            RolloutRequest::Deploy {
                service,
                wait_until,
            } => {
                super::deploy::deploy_services(&state, service, wait_until, &events, &cancel).await
            }
            RolloutRequest::Rollback { services } => {
                super::rollback::roll_back_services(&state, &services, &events, &cancel).await
            }
            RolloutRequest::Resume { wait_until } => {
                super::unfinished_rollout::resume_rollout(&state, wait_until, &events, &cancel)
                    .await
            }
            RolloutRequest::Abort => {
                super::unfinished_rollout::abort_rollout(&state, &events, &cancel).await
            }
        };
        report(done)
    })
}

fn report(result: Result<(), ActionError>) -> ActionReport {
    ActionReport {
        error: result.err(),
    }
}

/// Runs a rollout in a task of its own and answers with its events as NDJSON as they happen,
/// the report last. The task does not depend on the request: when the client goes away
/// (Ctrl-C, a killed CI job) its token is cancelled, which the engine answers like Ctrl-C on
/// AWS (before the switch the release is abandoned and the live color keeps serving; after it,
/// the rollout finishes). Dropping the rollout half-way instead would leave a canary's traffic
/// split, or a started color running, with nobody to undo it. `dashctl up` stopping cancels
/// it the same way.
fn streamed<F, Work>(state: Arc<ControlState>, work: F) -> Response
where
    F: FnOnce(Arc<ControlState>, Events, CancellationToken) -> Work,
    Work: Future<Output = ActionReport> + Send + 'static,
{
    let (lines, received) = tokio::sync::mpsc::unbounded_channel();
    let cancel = state.stop.child_token();
    let sender = lines.clone();
    let events = Events::new(move |event| {
        log(&event);
        // A client gone away receives nothing more; the rollout goes on to a safe end.
        let _ = sender.send(RolloutLine::Event(event));
    });
    let work = work(state, events, cancel.clone());
    tokio::spawn(async move {
        let report = work.await;
        let _ = lines.send(RolloutLine::Done(report));
    });
    let body = futures_util::stream::unfold(
        (received, Some(cancel.drop_guard())),
        |(mut received, mut until_done)| async move {
            let line: RolloutLine = received.recv().await?;
            if matches!(line, RolloutLine::Done(_)) {
                // The rollout is over: the client leaving now changes nothing.
                if let Some(guard) = until_done.take() {
                    guard.disarm();
                }
            }
            Some((Ok::<_, Infallible>(ndjson(&line)), (received, until_done)))
        },
    );
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

fn ndjson(line: &RolloutLine) -> Vec<u8> {
    match serde_json::to_vec(line) {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            bytes
        }
        Err(error) => {
            tracing::warn!("could not send a rollout event: {error}");
            Vec::new()
        }
    }
}

/// Keeps `up`'s log saying what rollouts do.
fn log(event: &Event) {
    match event {
        Event::Rollout { service, step } => tracing::info!(service, "{step}"),
        Event::Live { outcome } => {
            tracing::info!(service = outcome.service, "live on {}", outcome.to);
        }
        _ => {}
    }
}

pub(super) fn failed(error: &RolloutError) -> ActionError {
    ActionError::Failed {
        message: rollout::with_causes(error),
        aftermath: error.aftermath(),
    }
}

/// One rollout at a time: a second deploy waits for the first; one whose client left while
/// waiting never starts.
pub(super) async fn one_at_a_time<'a>(
    state: &'a ControlState,
    cancel: &CancellationToken,
) -> Result<tokio::sync::MutexGuard<'a, ()>, ActionError> {
    tokio::select! {
        guard = state.rollouts.lock() => Ok(guard),
        () = cancel.cancelled() => Err(interrupted("before it started")),
    }
}

pub(super) fn interrupted(when: &str) -> ActionError {
    ActionError::Failed {
        message: format!("interrupted {when}; nothing more was changed"),
        aftermath: Aftermath::Failed,
    }
}

/// A paused rollout (or one whose undo failed) must be resumed or aborted before another
/// deploy or rollback changes the same colors.
pub(super) fn refuse_while_unfinished(state: &ControlState) -> Result<(), ActionError> {
    match state.platform.journals().first() {
        Some(journal) => Err(ActionError::Invalid {
            message: JournalView::from(journal).what_next(),
        }),
        None => Ok(()),
    }
}

/// The spec as it reads now (a deploy or resume starts what it says).
pub(super) fn reload(state: &ControlState) -> Result<LoadedSpec, ActionError> {
    spec::load(&state.loaded.path).map_err(|error| ActionError::Invalid {
        message: error.lines().join("\n"),
    })
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
