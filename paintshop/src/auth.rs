use std::net::IpAddr;
use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};

use crate::api_keys::{bearer_token, hash_key};
use crate::client_ip::ClientIp;
use crate::errors::ApiError;
use crate::key_limits;
use crate::state::AppState;
use crate::store::User;

/// The user behind the request's bearer key, rate-limited per user across all instances
/// ([`key_limits`]).
///
/// `Ok(None)`: no `Authorization` header (anonymous, allowed on `/v1/` only). A header that is
/// present but wrong is always an error, so a typo in a key is never silently anonymous.
/// A client address with too many recent failures is refused before any lookup.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Result<Option<User>, ApiError> {
    let Some(header) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    refuse_throttled_address(state, client)?;
    let user = match header.to_str().ok().and_then(bearer_token) {
        Some(token) => state.store.user_by_key_hash(&hash_key(token)).await?,
        None => None,
    };
    let Some(user) = user else {
        metrics::counter!("paintshop_invalid_keys_total").increment(1);
        count_failed_key(state, client);
        return Err(ApiError::InvalidKey);
    };
    key_limits::admit(
        &state.store,
        state.requests_per_minute_per_key,
        user.id,
        (state.clock)(),
    )
    .await?;
    Ok(Some(user))
}

/// Refuses a client address with too many recent wrong keys (user or admin), before any
/// lookup: guessing keys costs the guesser, not the database.
pub fn refuse_throttled_address(state: &AppState, client: Option<IpAddr>) -> Result<(), ApiError> {
    if let Some(wait) =
        client.and_then(|client| state.failed_keys.blocked_for(client, Instant::now()))
    {
        metrics::counter!("paintshop_rate_limited_total", "scope" => "failed_keys").increment(1);
        return Err(ApiError::FailedKeysThrottled {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    Ok(())
}

/// Counts a wrong key against the client's address.
pub fn count_failed_key(state: &AppState, client: Option<IpAddr>) {
    if let Some(client) = client {
        state.failed_keys.record_failure(client, Instant::now());
    }
}

/// Extractor: the user whose key the request carries ([`authenticate`]); a request without one
/// is refused. Read from the head, so a body extractor after it reads nothing for a caller
/// without a valid key.
pub struct KeyedUser(pub User);

impl FromRequestParts<AppState> for KeyedUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(state, &parts.headers, client_address(parts))
            .await?
            .map(Self)
            .ok_or(ApiError::MissingKey)
    }
}

/// The client address [`crate::client_ip::resolve`] recorded for the request; `None` when it
/// found none (a request without a peer address), as the handlers taking [`ClientIp`] see it.
pub fn client_address(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ClientIp>()
        .and_then(|ClientIp(client)| *client)
}

/// Counts an anonymous request against its client address's limit, when one is set.
pub fn admit_anonymous(state: &AppState, client: Option<IpAddr>) -> Result<(), ApiError> {
    let (Some(limiter), Some(client)) = (&state.anonymous_limiter, client) else {
        return Ok(());
    };
    limiter.check_key(&client).map_err(|not_until| {
        metrics::counter!("paintshop_rate_limited_total", "scope" => "address").increment(1);
        ApiError::RateLimited {
            scope: "client address",
            retry_after_secs: retry_after(not_until),
        }
    })
}

fn retry_after(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> u64 {
    not_until
        .wait_time_from(DefaultClock::default().now())
        .as_secs()
        .max(1)
}
