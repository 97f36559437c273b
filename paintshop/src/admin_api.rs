//! The admin API: operators create, list and revoke users of a running paintshop, from
//! anywhere that reaches its API port, with no shell on the instance. Every route needs the
//! admin key (`Authorization: Bearer <admin key>`); without a configured key the routes answer
//! 404. A missing or wrong key counts as a failed key for the client address, like a bad user
//! key. A new user's key appears once, in the 201 answer, and is stored only hashed.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use service_kit::unix_millis;
use utoipa::ToSchema;

use crate::api_keys::{bearer_token, generate_key, hash_key};
use crate::auth::{client_address, count_failed_key, refuse_throttled_address};
use crate::errors::{ApiError, ErrorBody};
use crate::json_body::read_json;
use crate::state::AppState;
use crate::store::{StoreError, User};
use crate::user_names::user_name;

/// Largest request body the admin API reads: a name is at most 64 bytes.
const MAX_BODY_BYTES: usize = 4096;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/users", get(list_users).post(create_user))
        .route("/admin/v1/users/{name}", delete(revoke_user))
}

/// A user as operators see it (never its key).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub name: String,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// When its key was revoked; absent while it is active.
    pub revoked_at_ms: Option<i64>,
    pub active: bool,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            active: user.revoked_at_ms.is_none(),
            name: user.name,
            created_at_ms: user.created_at_ms,
            revoked_at_ms: user.revoked_at_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    /// By name.
    pub users: Vec<UserView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 1 to 64 printable characters, unique; surrounding whitespace is dropped.
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedUser {
    pub name: String,
    pub created_at_ms: i64,
    /// The user's API key, shown this once: only its hash is stored.
    pub key: String,
}

/// Extractor: the request carries the admin key. Read from the head, so a body extractor after
/// it reads nothing for a caller without the key.
pub struct AdminCaller;

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(admin_key) = &state.admin_key else {
            return Err(ApiError::AdminDisabled);
        };
        let client = client_address(parts);
        refuse_throttled_address(state, client)?;
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_token);
        if presented.is_some_and(|key| admin_key.matches(key)) {
            return Ok(Self);
        }
        metrics::counter!("paintshop_invalid_admin_keys_total").increment(1);
        count_failed_key(state, client);
        Err(ApiError::InvalidAdminKey)
    }
}

/// Every user, active or revoked.
#[utoipa::path(
    get, path = "/admin/v1/users",
    responses(
        (status = 200, description = "All users, by name", body = UserList),
    )
)]
pub async fn list_users(
    _admin: AdminCaller,
    State(state): State<AppState>,
) -> Result<Json<UserList>, ApiError> {
    let users = state.store.users().await?;
    Ok(Json(UserList {
        users: users.into_iter().map(UserView::from).collect(),
    }))
}

/// Create a user and its API key.
#[utoipa::path(
    post, path = "/admin/v1/users", request_body = NewUser,
    responses(
        (status = 201, description = "Created; the key is in the answer, this once", body = CreatedUser),
        (status = 400, description = "Not a valid user name", body = ErrorBody),
        (status = 409, description = "A user of that name exists", body = ErrorBody),
    )
)]
pub async fn create_user(
    // The key is checked before a byte of the body is read.
    _admin: AdminCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    let request: NewUser = read_json(&headers, body, MAX_BODY_BYTES, r#"{"name": "..."}"#).await?;
    let name = user_name(&request.name).map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let key = generate_key();
    let user = match state
        .store
        .add_user(name, &hash_key(&key), unix_millis())
        .await
    {
        Ok(user) => user,
        Err(error @ StoreError::DuplicateUser(_)) => {
            return Err(ApiError::Conflict(error.to_string()));
        }
        Err(error) => return Err(error.into()),
    };
    tracing::info!(user = %user.name, "user created through the admin API");
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            name: user.name,
            created_at_ms: user.created_at_ms,
            key,
        }),
    ))
}

/// Revoke a user's key, at once, on every instance.
#[utoipa::path(
    delete, path = "/admin/v1/users/{name}",
    params(("name" = String, Path, description = "The user's name")),
    responses(
        (status = 200, description = "Revoked", body = UserView),
        (status = 404, description = "No active user of that name, or the admin API is off", body = ErrorBody),
    )
)]
pub async fn revoke_user(
    _admin: AdminCaller,
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<UserView>, ApiError> {
    let Path(name) = name.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    match state.store.revoke_user(&name, unix_millis()).await {
        Ok(user) => {
            tracing::info!(user = %user.name, "user revoked through the admin API");
            Ok(Json(user.into()))
        }
        Err(error @ StoreError::NoSuchUser(_)) => Err(ApiError::NotFound(error.to_string())),
        Err(error) => Err(error.into()),
    }
}
