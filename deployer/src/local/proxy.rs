//! The local stand-in for a load balancer: one listener per service that forwards each request
//! to a ready instance of the live color, round robin, and counts requests for the autoscaler.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::uri::{PathAndQuery, Scheme};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
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
    /// `X-Forwarded-Port`, the same on every request.
    forwarded_port: HeaderValue,
}

/// Serves the proxy of `service` until `stop`. `lines`: `Legacy` for a service whose clients
/// send raw `"`, `{`, `[` in request lines (spec `local.raw_request_lines`), which the proxy then
/// passes on percent-encoded, as paintshop itself accepts them; `Strict` otherwise.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<ServiceRuntime>,
    lines: service_kit::RequestLines,
    stop: CancellationToken,
) -> std::io::Result<()> {
    // Keep-alive connections to instances, bounded: idle ones are closed after 30 s and at most
    // 64 are kept per instance.
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build_http();
    let forwarded_port = HeaderValue::from(service.listen.port());
    // Shared behind one Arc: handlers get the state by a single reference-count increment
    // rather than cloning the client's internals on every request.
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(Arc::new(ProxyState {
            service,
            client,
            forwarded_port,
        }));
    service_kit::server::serve(
        listener,
        app,
        lines,
        service_kit::ConnectionLimits::default(),
        stop.cancelled_owned(),
    )
    .await
}

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// Headers that describe one connection, not the message (RFC 9110 section 7.6.1): never
/// forwarded, in either direction, nor is any header the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
}

/// `X-Forwarded-For` with `client` appended to what earlier proxies set.
fn forwarded_for(existing: Option<&HeaderValue>, client: IpAddr) -> String {
    match existing
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
    {
        Some(earlier) => format!("{earlier}, {client}"),
        None => client.to_string(),
    }
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
    State(state): State<Arc<ProxyState>>,
    ConnectInfo(service_kit::ClientAddr(client)): ConnectInfo<service_kit::ClientAddr>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    strip_hop_by_hop(&mut parts.headers);
    // As an ALB does: the client's address appended to what earlier proxies said.
    if let Ok(value) = HeaderValue::from_str(&forwarded_for(
        parts.headers.get(X_FORWARDED_FOR),
        client.ip(),
    )) {
        parts.headers.insert(X_FORWARDED_FOR, value);
    }
    parts
        .headers
        .insert("x-forwarded-proto", HeaderValue::from_static("http"));
    parts
        .headers
        .insert("x-forwarded-port", state.forwarded_port.clone());
    // Requests without a body can be sent again to another instance if the first one turns out
    // to be gone (it crashed since its last health check).
    let retryable = matches!(parts.method, Method::GET | Method::HEAD);
    let mut body = Some(body);
    let attempts = if retryable { 3 } else { 1 };
    for _ in 0..attempts {
        let Some(instance) = state.service.pick() else {
            return unavailable(&state.service.name);
        };
        let Ok(uri) = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(instance.authority())
            .path_and_query(path.clone())
            .build()
        else {
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
        let answer = tokio::time::timeout(
            state.service.upstream_timeout,
            state.client.request(outgoing),
        )
        .await;
        let Ok(answer) = answer else {
            tracing::warn!(instance = %instance.id, "no response within the upstream timeout");
            return (
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "{} did not answer within {}\n",
                    instance.id,
                    humantime::format_duration(state.service.upstream_timeout)
                ),
            )
                .into_response();
        };
        match answer {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                // The request is in flight until its response body is done (or the client
                // went away): draining must not cut a body short.
                let body = body.map_frame(move |frame| {
                    let _still_in_flight = &in_flight;
                    frame
                });
                return Response::from_parts(parts, Body::new(body));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_headers_and_the_ones_they_name_are_not_forwarded() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-secret", HeaderValue::from_static("hop"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            header::PROXY_AUTHORIZATION,
            HeaderValue::from_static("Basic x"),
        );
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        strip_hop_by_hop(&mut headers);
        let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["content-type"]);
    }

    #[test]
    fn x_forwarded_for_appends_the_client_as_an_alb_does() {
        let client: IpAddr = [203, 0, 113, 7].into();
        assert_eq!(forwarded_for(None, client), "203.0.113.7");
        let earlier = HeaderValue::from_static("198.51.100.1");
        assert_eq!(
            forwarded_for(Some(&earlier), client),
            "198.51.100.1, 203.0.113.7"
        );
    }
}
