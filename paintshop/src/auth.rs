use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use governor::clock::{Clock, DefaultClock};

use crate::api_keys::{bearer_token, hash_key};
use crate::errors::ApiError;
use crate::state::AppState;
use crate::store::User;

/// The user behind the request's bearer key, rate-limited per user.
///
/// `Ok(None)`: no `Authorization` header (anonymous, allowed on `/v1/` only). A header that is
/// present but wrong is always an error, so a typo in a key is never silently anonymous.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<User>, ApiError> {
    let Some(header) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let token = header
        .to_str()
        .ok()
        .and_then(bearer_token)
        .ok_or(ApiError::InvalidKey)?;
    let user = state
        .store
        .user_by_key_hash(&hash_key(token))
        .await?
        .ok_or(ApiError::InvalidKey)?;
    if let Err(not_until) = state.rate_limiter.check_key(&user.id) {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        metrics::counter!("paintshop_rate_limited_total").increment(1);
        return Err(ApiError::RateLimited {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    Ok(Some(user))
}

pub async fn require_user(state: &AppState, headers: &HeaderMap) -> Result<User, ApiError> {
    authenticate(state, headers)
        .await?
        .ok_or(ApiError::MissingKey)
}
