//! The authenticated JSON API: `POST /v2/solve`, `GET /v2/history`, `GET /v2/openapi.json`
//! (which also describes the admin API, [`crate::admin_api`]).

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use service_kit::{REQUEST_ID_HEADER, unix_millis};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::auth::KeyedUser;
use crate::errors::{ApiError, ErrorBody};
use crate::json_body::read_json;
use crate::legacy_input::legacy_problem;
use crate::openapi_security::KeyGuards;
use crate::problem::Finish;
use crate::solving::solve_measured;
use crate::state::AppState;
use crate::store::HistoryEntry;

/// One (color, finish) pair a customer likes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Like {
    /// Color number, 1..=colors.
    pub color: i64,
    pub finish: Finish,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerLikes {
    /// The customer is satisfied if at least one of these is made; at most one may be matte.
    pub likes: Vec<Like>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SolveRequest {
    /// Number of paint colors N; each is made as exactly one batch.
    pub colors: i64,
    pub customers: Vec<CustomerLikes>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SolveResponse {
    /// The id of this request (also in the `x-request-id` header and the server's logs).
    pub request_id: String,
    /// False when no choice of finishes satisfies every customer.
    pub solvable: bool,
    /// The finish of each color, in color order (absent when not solvable).
    pub finishes: Option<Vec<Finish>>,
    /// How many batches are matte: the minimum possible (absent when not solvable).
    pub matte_count: Option<usize>,
    /// Time spent in the solver, in microseconds.
    pub duration_us: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Entries per page, 1..=100 (default 20).
    pub limit: Option<u32>,
    /// Only entries older than this id: the `next_before` of the previous page.
    pub before: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    /// Newest first.
    pub entries: Vec<HistoryEntry>,
    /// Pass as `before` to get the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

/// Solve an instance.
#[utoipa::path(
    post, path = "/v2/solve", request_body = SolveRequest,
    responses(
        (status = 200, description = "Solved, or proven impossible", body = SolveResponse),
        (status = 400, description = "Malformed or inconsistent instance", body = ErrorBody),
        (status = 413, description = "Body larger than the configured limit", body = ErrorBody),
        (status = 429, description = "Rate limit exceeded; see Retry-After", body = ErrorBody),
        (status = 503, description = "Server saturated or storage unavailable; see Retry-After", body = ErrorBody),
    )
)]
pub async fn solve_v2(
    // The key is checked before a byte of the body is read: an anonymous client cannot make
    // the server buffer anything.
    KeyedUser(user): KeyedUser,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let request: SolveRequest = read_json(
        &headers,
        body,
        state.max_body_bytes,
        "a valid solve request",
    )
    .await?;
    // One validation path for both APIs: express the likes as legacy demands.
    let demands = request
        .customers
        .iter()
        .map(|customer| {
            let mut demand = Vec::with_capacity(customer.likes.len().saturating_mul(2) + 1);
            demand.push(i64::try_from(customer.likes.len()).unwrap_or(i64::MAX));
            for like in &customer.likes {
                demand.extend([like.color, i64::from(like.finish == Finish::Matte)]);
            }
            demand
        })
        .collect();
    let customers = i64::try_from(request.customers.len()).unwrap_or(i64::MAX);
    let problem =
        legacy_problem(request.colors, customers, demands, &state.limits).map_err(|error| {
            metrics::counter!("paintshop_invalid_requests_total", "api" => "v2").increment(1);
            ApiError::BadRequest(error.0)
        })?;
    let at_ms = unix_millis();
    let solved = solve_measured(problem, &state.solve_slots).await?;
    let request_id = request_id(&headers);
    state
        .store
        .record(user.id, &solved.history_entry("v2", &request_id, at_ms))
        .await?;
    Ok(Json(SolveResponse {
        request_id,
        solvable: solved.solution.is_some(),
        matte_count: solved.mattes,
        duration_us: solved.duration_us,
        finishes: solved.solution,
    })
    .into_response())
}

/// The caller's own past requests, newest first.
#[utoipa::path(
    get, path = "/v2/history", params(HistoryQuery),
    responses(
        (status = 200, description = "One page of the caller's history", body = HistoryPage),
        (status = 400, description = "Bad paging parameters", body = ErrorBody),
    )
)]
pub async fn history(
    KeyedUser(user): KeyedUser,
    State(state): State<AppState>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<HistoryPage>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and 100, got {limit}"
        )));
    }
    let entries = state.store.history(user.id, query.before, limit).await?;
    let next_before = (entries.len() == limit as usize)
        .then(|| entries.last().map(|entry| entry.id))
        .flatten();
    Ok(Json(HistoryPage {
        entries,
        next_before,
    }))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "paintshop", description = "Paint-batch optimizer. /v1/ is the unchanged legacy API; /v2/ needs an API key; /admin/v1/ manages users and needs the admin key."),
    paths(
        solve_v2,
        history,
        crate::admin_api::list_users,
        crate::admin_api::create_user,
        crate::admin_api::revoke_user
    ),
    modifiers(&KeyGuards)
)]
pub struct ApiDoc;

pub async fn openapi_document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
