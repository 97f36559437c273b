use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request, Response, StatusCode, header};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::http_metrics::track_http;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id kept from a caller. Ids end up in logs and in stored history rows, so a
/// caller must not be able to make either grow: a longer (or unprintable) id is replaced by a
/// fresh one, as if none had been sent.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The cross-cutting layers every service gets: a request id (kept from the caller when it is
/// short and printable, made up otherwise, echoed in the response), request metrics, a panic in
/// a handler answered 500 for that request alone while the service keeps serving, and with
/// `RUST_LOG=debug` a span per request carrying its id, method and URI.
///
/// The span is at debug level on purpose: at the default level a disabled span costs one
/// atomic load, where an enabled one is formatted to JSON and registered on every request
/// (measured: the largest per-request cost in the services after the kernel's). Errors that
/// need a request's id log it themselves.
pub fn instrument(router: Router) -> Router {
    router
        .layer(CatchPanicLayer::custom(answer_panic))
        .layer(axum::middleware::from_fn(track_http))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request
                .headers()
                .get(REQUEST_ID_HEADER)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("-");
            tracing::debug_span!("request", method = %request.method(), uri = %request.uri(), request_id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_unusable_request_id))
}

/// Whether a caller's request id is kept: 1 to [`MAX_REQUEST_ID_LEN`] visible ASCII characters.
pub fn is_usable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|byte| byte.is_ascii_graphic())
}

async fn drop_unusable_request_id<B>(mut request: Request<B>) -> Request<B> {
    let headers = request.headers_mut();
    let usable = {
        let mut values = headers.get_all(REQUEST_ID_HEADER).iter();
        match (values.next(), values.next()) {
            (None, _) => true,
            (Some(value), None) => is_usable_request_id(value),
            (Some(_), Some(_)) => false,
        }
    };
    if !usable {
        headers.remove(REQUEST_ID_HEADER);
    }
    request
}

fn answer_panic(panic: Box<dyn std::any::Any + Send + 'static>) -> Response<axum::body::Body> {
    let message = panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    tracing::error!(panic = %message, "a request handler panicked; answered 500");
    metrics::counter!("http_handler_panics_total").increment(1);
    let mut response = Response::new(axum::body::Body::from(
        "internal error: this request failed; the service is still running\n",
    ));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
