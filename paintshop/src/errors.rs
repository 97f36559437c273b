use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// Every way a request can fail. None of them is a 500: the worst a client can cause is a 4xx,
/// and a storage outage or a full server is a 503 that load balancers and clients know to retry.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error(
        "missing API key: send `Authorization: Bearer <key>` (create one with `paintshop users add NAME`)"
    )]
    MissingKey,
    #[error("invalid or revoked API key")]
    InvalidKey,
    #[error("missing or invalid admin key: send `Authorization: Bearer <admin key>`")]
    InvalidAdminKey,
    #[error(
        "the admin API is off: start paintshop with --admin-key-file PATH or PAINTSHOP_ADMIN_KEY to turn it on"
    )]
    AdminDisabled,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("rate limit exceeded for this {scope}; retry after {retry_after_secs} s")]
    RateLimited {
        /// Who is limited: `API key` or `client address`.
        scope: &'static str,
        retry_after_secs: u64,
    },
    #[error(
        "too many invalid API keys from this address; every keyed request is refused for {retry_after_secs} s"
    )]
    FailedKeysThrottled { retry_after_secs: u64 },
    #[error("body is larger than this server accepts ({limit} bytes)")]
    PayloadTooLarge { limit: usize },
    #[error("the server is busy with other {what}; retry in a second")]
    Busy { what: &'static str },
    #[error("storage unavailable; retry shortly")]
    Storage(#[from] StoreError),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable kind: `bad_request`, `unauthorized`, `not_found`, `conflict`,
    /// `rate_limited`, `too_large`, `unavailable`, `overloaded`.
    pub error: &'static str,
    /// One line a person can act on.
    pub message: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::MissingKey | Self::InvalidKey | Self::InvalidAdminKey => StatusCode::UNAUTHORIZED,
            Self::AdminDisabled | Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::RateLimited { .. } | Self::FailedKeysThrottled { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Storage(_) | Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::MissingKey | Self::InvalidKey | Self::InvalidAdminKey => "unauthorized",
            Self::AdminDisabled | Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::RateLimited { .. } | Self::FailedKeysThrottled { .. } => "rate_limited",
            Self::PayloadTooLarge { .. } => "too_large",
            Self::Storage(_) => "unavailable",
            Self::Busy { .. } => "overloaded",
        }
    }

    fn extra_headers(&self) -> Vec<(axum::http::HeaderName, HeaderValue)> {
        match self {
            Self::RateLimited {
                retry_after_secs, ..
            }
            | Self::FailedKeysThrottled { retry_after_secs } => {
                vec![(RETRY_AFTER, HeaderValue::from(*retry_after_secs))]
            }
            Self::Busy { .. } => vec![(RETRY_AFTER, HeaderValue::from_static("1"))],
            Self::MissingKey | Self::InvalidKey | Self::InvalidAdminKey => {
                vec![(
                    axum::http::header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer"),
                )]
            }
            _ => Vec::new(),
        }
    }

    fn log(&self) {
        if let Self::Storage(error) = self {
            tracing::error!(%error, "storage error while serving a request");
        }
    }

    /// The `/v1/` style: a one-line text body, as legacy clients read it.
    pub fn into_text_response(self) -> Response {
        self.log();
        let mut response = (self.status(), format!("{self}\n")).into_response();
        response.headers_mut().extend(self.extra_headers());
        response
    }
}

impl ApiError {
    /// The style the API at `path` answers in: text under `/v1/`, JSON elsewhere.
    pub fn into_response_for(self, path: &str) -> Response {
        if path.starts_with("/v1/") {
            self.into_text_response()
        } else {
            self.into_response()
        }
    }
}

/// The `/v2/` style: a JSON body.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let headers = self.extra_headers();
        let mut response = (
            self.status(),
            Json(ErrorBody {
                error: self.kind(),
                message: self.to_string(),
            }),
        )
            .into_response();
        response.headers_mut().extend(headers);
        response
    }
}
