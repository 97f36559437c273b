use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::middleware::Next;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::http_metrics::record_request;
use crate::request_id::{REQUEST_ID_HEADER, request_id_for};

/// The cross-cutting layers every service gets: a request id (kept from the caller when it is
/// short and printable, made up otherwise, echoed in the response), request metrics, a panic in
/// a handler answered 500 for that request alone while the service keeps serving, and with
/// `RUST_LOG=debug` a span per request carrying its id, method and URI.
///
/// Cost per request is kept to what these need, because the services answer from memory in
/// microseconds and every layer shows in the profile: ids and metrics are one middleware, not
/// four; the span layer is only added when debug logging is on when the router is built (a
/// span per request was the largest per-request cost after the kernel's, formatted to JSON and
/// registered on every request). Errors that need a request's id log it themselves.
pub fn instrument(router: Router) -> Router {
    let router = router.layer(CatchPanicLayer::custom(answer_panic));
    let router = if tracing::enabled!(target: "service_kit::request", tracing::Level::DEBUG) {
        router.layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let request_id = request
                    .headers()
                    .get(REQUEST_ID_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("-");
                tracing::debug_span!(target: "service_kit::request", "request", method = %request.method(), uri = %request.uri(), request_id)
            }),
        )
    } else {
        router
    };
    router.layer(axum::middleware::from_fn(observe))
}

/// Gives the request its id (echoed on the response) and records its metrics by route
/// template, method and status.
async fn observe(mut request: Request, next: Next) -> Response<axum::body::Body> {
    let id = request_id_for(request.headers());
    request.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let started = Instant::now();
    let mut response = next.run(request).await;
    record_request(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response.headers_mut().insert(REQUEST_ID_HEADER, id);
    response
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
