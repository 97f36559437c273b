//! Request bodies the JSON APIs read: bounded before and while they arrive, parsed into the
//! type the handler expects, refused with the status that says which of the two failed.

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_LENGTH;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;

use crate::errors::ApiError;

/// The body as JSON of type `T`, read as [`read_body`] does; JSON that is not a `T` is a 400
/// saying the body is not `expected`.
pub async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    expected: &str,
) -> Result<T, ApiError> {
    let body = read_body(headers, body, limit).await?;
    serde_json::from_slice(&body)
        .map_err(|error| ApiError::BadRequest(format!("body is not {expected}: {error}")))
}

/// The whole body, refused with 413 as soon as it is known to be larger than `limit` (by its
/// declared length, or while it arrives).
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::PayloadTooLarge { limit })
        }
        Err(error) => Err(ApiError::BadRequest(format!(
            "the request body could not be read: {error}"
        ))),
    }
}
