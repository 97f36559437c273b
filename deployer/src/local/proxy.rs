//! The local stand-in for a load balancer: one listener per service that forwards each request
//! to a ready instance of the live color (or of a canary, for its share; or of the color being
//! checked, for a request carrying its test header), round robin, and counts requests for the
//! autoscaler and, per color, answers, 5xx answers and latency for judging a release.
//!
//! Each client connection keeps its own connections to the instances it has been routed to and
//! reuses them for its later requests. A request therefore never waits on a shared connection
//! pool (no lock, no pool bookkeeping), and the instance is still chosen per request, so canary
//! shares and draining hold request by request. The cost: an idle client connection also holds
//! an idle connection to each instance it used, until it closes (at the header-read timeout).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Version};
use axum::http::{Uri, header};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

use super::instance::Instance;
use super::relayed_body::RelayedBody;
use super::service::ServiceRuntime;

struct ProxyState {
    service: Arc<ServiceRuntime>,
    /// `X-Forwarded-Port`, the same on every request.
    forwarded_port: HeaderValue,
}

/// Serves the proxy of `service` until `stop`. `lines`: `Legacy` for a service whose clients
/// send raw `"`, `{`, `[` in request lines (spec `local.raw_request_lines`), which the proxy then
/// passes on percent-encoded, as paintshop itself accepts them; `Strict` otherwise.
///
/// The proxy runs on worker threads of its own, one per core, each a single-threaded runtime
/// accepting from the same listener, as nginx's workers do. A connection, its requests and its
/// connections to instances then stay on one thread: no task is handed to another thread or
/// stolen by one, which on a loaded machine costs more than the forwarding itself.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<ServiceRuntime>,
    lines: service_kit::RequestLines,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let forwarded_port = HeaderValue::from(service.listen.port());
    let name = service.name.clone();
    let state = Arc::new(ProxyState {
        service,
        forwarded_port,
    });
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let defaults = service_kit::ConnectionLimits::default();
    let limits = service_kit::ConnectionLimits {
        max_connections: (defaults.max_connections / workers).max(1),
        ..defaults
    };
    let listener = listener.into_std()?;
    let mut finished = Vec::with_capacity(workers);
    for index in 0..workers {
        let listener = listener.try_clone()?;
        let state = state.clone();
        let stop = stop.clone();
        let (done, finished_rx) = tokio::sync::oneshot::channel();
        finished.push(finished_rx);
        std::thread::Builder::new()
            .name(format!("proxy-{name}-{index}"))
            .spawn(move || {
                let result = run_worker(listener, state, lines, limits, stop);
                let _ = done.send(result);
            })?;
    }
    for worker in finished {
        worker
            .await
            .map_err(|_| std::io::Error::other("a proxy worker thread panicked"))??;
    }
    Ok(())
}

fn run_worker(
    listener: std::net::TcpListener,
    state: Arc<ProxyState>,
    lines: service_kit::RequestLines,
    limits: service_kit::ConnectionLimits,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        service_kit::server::serve_connections(
            listener,
            move |client| ClientConnection::new(state.clone(), client),
            lines,
            limits,
            stop.cancelled_owned(),
        )
        .await
    })
}

/// What the proxy keeps for one client connection.
#[derive(Clone)]
struct ClientConnection {
    state: Arc<ProxyState>,
    client: SocketAddr,
    /// `X-Forwarded-For` for a request that brings none: the client's address, made once.
    forwarded_for: HeaderValue,
    /// Open connections to instances, by instance address. HTTP/1 serves one request at a time
    /// per client connection, so this lock is never contended.
    upstreams: Arc<Mutex<Vec<Upstream>>>,
}

struct Upstream {
    address: SocketAddr,
    sender: SendRequest<Incoming>,
}

impl ClientConnection {
    fn new(state: Arc<ProxyState>, client: SocketAddr) -> Self {
        let forwarded_for = HeaderValue::try_from(client.ip().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        Self {
            state,
            client,
            forwarded_for,
            upstreams: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// An open connection to `address`: this client connection's own if it has one that is
    /// still open, else a new one.
    async fn connection_to(
        &self,
        address: SocketAddr,
    ) -> Result<SendRequest<Incoming>, Upstreamless> {
        let kept = {
            let mut upstreams = self
                .upstreams
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            upstreams.retain(|upstream| !upstream.sender.is_closed());
            upstreams
                .iter()
                .position(|upstream| upstream.address == address)
                .map(|index| upstreams.swap_remove(index).sender)
        };
        if let Some(mut sender) = kept {
            // Ready once the instance's previous response has been read to its end.
            if sender.ready().await.is_ok() {
                return Ok(sender);
            }
        }
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(Upstreamless::Refused)?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(Upstreamless::Handshake)?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%address, "connection to an instance ended: {error}");
            }
        });
        Ok(sender)
    }

    fn keep(&self, address: SocketAddr, sender: SendRequest<Incoming>) {
        self.upstreams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Upstream { address, sender });
    }
}

/// Why no connection to an instance could be had.
#[derive(Debug, thiserror::Error)]
enum Upstreamless {
    #[error("refused the connection: {0}")]
    Refused(#[source] std::io::Error),
    #[error("failed the HTTP handshake: {0}")]
    Handshake(#[source] hyper::Error),
}

impl hyper::service::Service<Request<Incoming>> for ClientConnection {
    type Response = Response<RelayedBody>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let connection = self.clone();
        Box::pin(async move { Ok(connection.forward(request).await) })
    }
}

const X_FORWARDED_FOR: &str = "x-forwarded-for";
/// `rollout::TEST_HEADER`, parsed once.
const X_DASHCTL_COLOR: HeaderName = HeaderName::from_static("x-dashctl-color");

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

fn answer(status: StatusCode, text: String) -> Response<RelayedBody> {
    let mut response = Response::new(RelayedBody::text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn unavailable(service: &str) -> Response<RelayedBody> {
    let mut response = answer(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("no healthy instance of {service} is available yet\n"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

impl ClientConnection {
    async fn forward(&self, request: Request<Incoming>) -> Response<RelayedBody> {
        let service = &self.state.service;
        let (mut parts, body) = request.into_parts();
        // Instances get the origin form (`/path?query`) whatever form the client used.
        if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
            parts.uri = parts
                .uri
                .path_and_query()
                .map_or_else(|| Uri::from_static("/"), |path| Uri::from(path.clone()));
        }
        // HTTP/1.1 to instances whatever the client spoke, so their connections stay open.
        parts.version = Version::HTTP_11;
        strip_hop_by_hop(&mut parts.headers);
        // As an ALB does: the client's address appended to what earlier proxies said.
        let forwarded_for = match parts.headers.get(X_FORWARDED_FOR) {
            None => self.forwarded_for.clone(),
            Some(earlier) => HeaderValue::try_from(forwarded_for(Some(earlier), self.client.ip()))
                .unwrap_or_else(|_| self.forwarded_for.clone()),
        };
        parts.headers.insert(X_FORWARDED_FOR, forwarded_for);
        parts
            .headers
            .insert("x-forwarded-proto", HeaderValue::from_static("http"));
        parts
            .headers
            .insert("x-forwarded-port", self.state.forwarded_port.clone());
        let mut request = Request::from_parts(parts, body);
        // A request is sent again, to another instance or on a new connection, only when none
        // of it was sent: an instance refused the connection (it crashed since its last health
        // check) or a kept connection turned out to be closed.
        for attempt in 0..3 {
            let test_header = request
                .headers()
                .get(&X_DASHCTL_COLOR)
                .map(HeaderValue::as_bytes);
            let Some(instance) = service.pick(test_header) else {
                return unavailable(&service.name);
            };
            // What the autoscaler counts: requests routed to an instance (a 503 for want of
            // one is not load on any).
            if attempt == 0 {
                service.requests_total.fetch_add(1, Ordering::Relaxed);
            }
            let sent = std::time::Instant::now();
            let attempt =
                tokio::time::timeout(service.upstream_timeout, self.send(&instance, request)).await;
            // As a load balancer's target metrics: the time to the response head; what the
            // proxy answers for an instance that timed out or failed counts as its 5xx.
            let metrics = service.metrics(instance.color);
            match &attempt {
                Ok(Attempt::Answered(response)) => {
                    metrics.record(response.status().is_server_error(), sent.elapsed())
                }
                Err(_) | Ok(Attempt::Failed(_)) => metrics.record(true, sent.elapsed()),
                Ok(Attempt::Unsent { .. }) => {}
            }
            match attempt {
                Err(_elapsed) => {
                    tracing::warn!(instance = %instance.id, "no response within the upstream timeout");
                    return answer(
                        StatusCode::GATEWAY_TIMEOUT,
                        format!(
                            "{} did not answer within {}\n",
                            instance.id,
                            humantime::format_duration(service.upstream_timeout)
                        ),
                    );
                }
                Ok(Attempt::Answered(response)) => return response,
                Ok(Attempt::Failed(error)) => {
                    tracing::warn!(instance = %instance.id, "upstream request failed: {error}");
                    return answer(
                        StatusCode::BAD_GATEWAY,
                        format!("{} did not answer: {error}\n", instance.id),
                    );
                }
                Ok(Attempt::Unsent {
                    request: unsent,
                    refused,
                }) => {
                    if refused {
                        tracing::warn!(instance = %instance.id, "instance refused a connection; taking it out of rotation");
                        instance.mark_unreachable();
                    }
                    request = unsent;
                }
            }
        }
        unavailable(&service.name)
    }

    async fn send(&self, instance: &Arc<Instance>, request: Request<Incoming>) -> Attempt {
        let address = instance.address();
        let mut sender = match self.connection_to(address).await {
            Ok(sender) => sender,
            Err(error) => {
                tracing::debug!(instance = %instance.id, "{error}");
                return Attempt::Unsent {
                    request,
                    refused: matches!(error, Upstreamless::Refused(_)),
                };
            }
        };
        let in_flight = instance.begin_request();
        match sender.try_send_request(request).await {
            Ok(response) => {
                self.keep(address, sender);
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Attempt::Answered(Response::from_parts(
                    parts,
                    RelayedBody::FromInstance {
                        body,
                        _in_flight: in_flight,
                    },
                ))
            }
            Err(mut error) => match error.take_message() {
                Some(request) => Attempt::Unsent {
                    request,
                    refused: false,
                },
                None => Attempt::Failed(error.into_error()),
            },
        }
    }
}

/// How one attempt to pass a request to an instance went.
enum Attempt {
    Answered(Response<RelayedBody>),
    /// Nothing of the request reached the instance; it can go elsewhere.
    Unsent {
        request: Request<Incoming>,
        /// The instance refused the connection.
        refused: bool,
    },
    /// The request (or part of it) was sent and no response came.
    Failed(hyper::Error),
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
    fn the_test_header_is_the_engines() {
        assert!(
            X_DASHCTL_COLOR
                .as_str()
                .eq_ignore_ascii_case(crate::rollout::TEST_HEADER)
        );
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
