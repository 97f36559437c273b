//! The local stand-in for a load balancer: one listener per service that forwards each request
//! to a ready instance of the live color, round robin, and counts requests for the autoscaler.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio_util::sync::CancellationToken;

use super::service::ServiceRuntime;

type HttpClient = Client<HttpConnector, Body>;

#[derive(Clone)]
struct ProxyState {
    service: Arc<ServiceRuntime>,
    client: HttpClient,
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<ServiceRuntime>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(ProxyState { service, client });
    // Legacy clients send raw `"`, `{`, `[` in request lines; a load balancer in front of
    // paintshop must pass them on, so the proxy accepts them like paintshop does.
    service_kit::server::serve(
        listener,
        app,
        service_kit::RequestLines::Legacy,
        service_kit::ConnectionLimits::default(),
        stop.cancelled_owned(),
    )
    .await
}

fn unavailable(service: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, HeaderValue::from_static("1"))],
        format!("no healthy instance of {service} is available yet\n"),
    )
        .into_response()
}

async fn forward(
    State(state): State<ProxyState>,
    ConnectInfo(service_kit::ClientAddr(client)): ConnectInfo<service_kit::ClientAddr>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_owned();
    let forwarded_for = HeaderValue::from_str(&client.ip().to_string()).ok();
    if let Some(value) = forwarded_for {
        parts.headers.insert("x-forwarded-for", value);
    }
    parts
        .headers
        .insert("x-forwarded-proto", HeaderValue::from_static("http"));
    // Requests without a body can be sent again to another instance if the first one turns out
    // to be gone (it crashed since its last health check).
    let retryable = matches!(parts.method, Method::GET | Method::HEAD);
    let mut body = Some(body);
    let attempts = if retryable { 3 } else { 1 };
    for _ in 0..attempts {
        let Some(instance) = state.service.pick() else {
            return unavailable(&state.service.name);
        };
        let Ok(uri) = Uri::try_from(format!("http://127.0.0.1:{}{path}", instance.port)) else {
            return (
                StatusCode::BAD_REQUEST,
                "request target cannot be forwarded\n",
            )
                .into_response();
        };
        let mut outgoing = Request::new(body.take().unwrap_or_else(Body::empty));
        *outgoing.method_mut() = parts.method.clone();
        *outgoing.uri_mut() = uri;
        *outgoing.version_mut() = parts.version;
        *outgoing.headers_mut() = parts.headers.clone();
        state.service.requests_total.fetch_add(1, Ordering::Relaxed);
        let in_flight = instance.begin_request();
        match state.client.request(outgoing).await {
            Ok(response) => {
                drop(in_flight);
                return response.map(Body::new);
            }
            Err(error) if error.is_connect() => {
                tracing::warn!(instance = %instance.id, "instance refused a connection; taking it out of rotation");
                instance.mark_unreachable();
            }
            Err(error) => {
                tracing::warn!(instance = %instance.id, "upstream request failed: {error}");
                return (
                    StatusCode::BAD_GATEWAY,
                    format!("{} did not answer: {error}\n", instance.id),
                )
                    .into_response();
            }
        }
    }
    unavailable(&state.service.name)
}
