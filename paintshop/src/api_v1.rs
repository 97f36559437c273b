//! The legacy API, byte for byte: `GET /v1/?input=<JSON>` answers `IMPOSSIBLE` or the finishes
//! as `0`/`1` separated by spaces. Anonymous by default; a request carrying a valid key is also
//! recorded in that user's history.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use service_kit::{REQUEST_ID_HEADER, unix_millis};

use crate::auth::{admit_anonymous, authenticate};
use crate::client_ip::ClientIp;
use crate::errors::ApiError;
use crate::legacy_input::parse_legacy_json;
use crate::problem::legacy_answer;
use crate::solving::solve_measured;
use crate::state::AppState;

/// Flask's default for a string response, kept so clients that check it see no change.
const LEGACY_CONTENT_TYPE: &str = "text/html; charset=utf-8";

pub async fn solve_v1(
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match answer(&state, &headers, client, query.as_deref()).await {
        Ok(body) => ([(CONTENT_TYPE, LEGACY_CONTENT_TYPE)], body).into_response(),
        Err(error) => error.into_text_response(),
    }
}

/// The JSON in the `input` query parameter, decoded from percent-encoding or `+` for spaces.
/// Raw legacy request lines arrive percent-encoded by the listener and decode the same way.
pub fn input_parameter(query: Option<&str>) -> Result<String, ApiError> {
    let query = query.unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "input")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| {
            ApiError::BadRequest("missing query parameter `input` (GET /v1/?input=<JSON>)".into())
        })
}

async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<std::net::IpAddr>,
    query: Option<&str>,
) -> Result<String, ApiError> {
    let user = authenticate(state, headers, client).await?;
    if user.is_none() {
        admit_anonymous(state, client)?;
    }
    let input = input_parameter(query)?;
    let problem = parse_legacy_json(&input, &state.limits).map_err(|error| {
        metrics::counter!("paintshop_invalid_requests_total", "api" => "v1").increment(1);
        ApiError::BadRequest(error.0)
    })?;
    let at_ms = unix_millis();
    let solved = solve_measured(problem, &state.solve_slots).await?;
    if let Some(user) = user {
        let request_id = headers
            .get(REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("-");
        state
            .store
            .record(user.id, &solved.history_entry("v1", request_id, at_ms))
            .await?;
    }
    Ok(legacy_answer(&solved.solution))
}
